// vitest globalSetup for the integration project: makes sure real Kafka, Elasticsearch,
// Alertmanager, the cloud emulators (moto for CloudWatch Logs, pstest for Pub/Sub, Kafka's SASL
// listeners for Event Hubs) and the SIEM receivers (rsyslog, an OpenTelemetry Collector) answer, then
// hands their endpoints to the tests (inject('services')) and to code that reads the environment
// (KAFKA_BROKERS, ELASTICSEARCH_URL, KLAXON_ALERTMANAGER_URL, AWS_ENDPOINT_URL_CLOUDWATCH_LOGS,
// PUBSUB_EMULATOR_HOST, ...). The SIEM receivers are always started: the tests read the files they write.
//
// With KAFKA_BROKERS and ELASTICSEARCH_URL both set, those servers are used as they are (and
// KLAXON_TEST_EVENTHUBS_* name their SASL listeners, if any); likewise moto is not started when
// AWS_ENDPOINT_URL_CLOUDWATCH_LOGS is set, nor pstest when PUBSUB_EMULATOR_HOST is.
// Otherwise scripts/services starts its own (Java 17+ and Maven, python3 with venv, Go, openssl
// needed) and this setup stops, at teardown, only the services it started itself: ones already
// running stay up (developers keep them running; `npm run services:down` stops them).
// KLAXON_KEEP_SERVICES=1 keeps everything up.
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import type { EventHubsEndpoints, ServiceEndpoints } from './services.ts';

const script = new URL('../../scripts/services', import.meta.url).pathname;
const names = ['kafka', 'elasticsearch', 'alertmanager', 'moto', 'pubsub', 'rsyslog', 'otelcol'] as const;
type Name = (typeof names)[number];
const siemReceivers: Name[] = ['rsyslog', 'otelcol'];

/** Where scripts/services keeps its data (the receivers' output files, the test CA). */
const servicesDir = process.env.KLAXON_SERVICES_DIR ?? '/var/tmp/klaxon-services';
const tls = join(servicesDir, 'rsyslog', 'tls');
const siem: Pick<ServiceEndpoints, 'syslog' | 'otlp'> = {
  syslog: {
    host: '127.0.0.1',
    tcpPort: 10514,
    tlsPort: 10515,
    mtlsPort: 10516,
    caFile: join(tls, 'ca.crt'),
    clientCertFile: join(tls, 'client.crt'),
    clientKeyFile: join(tls, 'client.key'),
    outDir: join(servicesDir, 'rsyslog', 'out'),
  },
  otlp: { endpoint: 'http://127.0.0.1:14318', outFile: join(servicesDir, 'otelcol', 'out', 'logs.jsonl') },
};

const local = {
  kafkaBrokers: ['127.0.0.1:9092'],
  elasticsearchUrl: 'http://127.0.0.1:9200',
  alertmanagerUrl: 'http://127.0.0.1:9093',
  ...siem,
};
/** Dummy AWS credentials and project id: emulators accept anything, and nothing real leaves. */
const awsTestKey = 'klaxon-test';
const defaultRegion = 'us-east-1';
const defaultProject = 'klaxon-test';

function runScript(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    // The script's progress goes to the terminal: a cold start downloads from Maven Central.
    const child = spawn('sh', [script, ...args], { stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve();
      else
        reject(
          new Error(
            `integration tests: \`scripts/services ${args.join(' ')}\` failed (exit ${code}); see its output above`,
          ),
        );
    });
  });
}

function running(name: Name): boolean {
  return spawnSync('sh', [script, 'status', name], { stdio: 'ignore' }).status === 0;
}

function has(command: string, args: string[]): boolean {
  const result = spawnSync(command, args, { stdio: 'ignore' });
  return result.error === undefined && result.status === 0;
}

function requireJavaAndMaven(): void {
  const missing = [has('java', ['-version']) ? '' : 'Java 17+', has('mvn', ['-v']) ? '' : 'Maven'].filter(
    Boolean,
  );
  if (missing.length > 0) {
    throw new Error(
      `Integration tests need a real Kafka and Elasticsearch, and ${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} missing. ` +
        'Either install Java 17+ and Maven (Debian: apt-get install openjdk-17-jdk-headless maven) so scripts/services can start them, ' +
        'or point KAFKA_BROKERS (e.g. 127.0.0.1:9092) and ELASTICSEARCH_URL (e.g. http://127.0.0.1:9200) at running servers ' +
        '(and KLAXON_ALERTMANAGER_URL at an Alertmanager, else Debian prometheus-alertmanager is started).',
    );
  }
}

/** moto runs in a Python venv, pstest is built with Go, Kafka's SASL_SSL listener needs openssl. */
function requireToolsFor(starting: Name[]): void {
  const missing: string[] = [];
  if (starting.includes('moto') && !has('python3', ['-c', 'import venv, ensurepip'])) {
    missing.push('python3 with its venv module, for moto (Debian: apt-get install python3 python3-venv)');
  }
  if (starting.includes('pubsub') && !has('go', ['version']) && !has('/usr/local/go/bin/go', ['version'])) {
    missing.push(
      'Go 1.26+, to build the Pub/Sub test server (https://go.dev/doc/install; or any Go 1.21+ with GOTOOLCHAIN=auto)',
    );
  }
  if (starting.includes('kafka') && !has('openssl', ['version'])) {
    missing.push('openssl, for the Kafka SASL_SSL test certificate (Debian: apt-get install openssl)');
  }
  if (missing.length > 0) {
    throw new Error(
      `Integration tests need the cloud emulators and Kafka's SASL listeners, and scripts/services cannot start them: missing ${missing.join('; ')}. ` +
        'Or point AWS_ENDPOINT_URL_CLOUDWATCH_LOGS at a running moto, PUBSUB_EMULATOR_HOST at a running Pub/Sub emulator, ' +
        'and KAFKA_BROKERS with KLAXON_TEST_EVENTHUBS_* at a running Kafka (docs/dev-services.md).',
    );
  }
}

/** `scripts/services env` as a map: the one place that knows the local endpoints and files. */
function scriptEnv(): Map<string, string> {
  const result = spawnSync('sh', [script, 'env'], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`scripts/services env failed: ${result.stderr}`);
  return new Map(
    result.stdout
      .split('\n')
      .filter((line) => line.includes('='))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
}

function list(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
}

function eventHubsFrom(vars: Map<string, string> | NodeJS.ProcessEnv): EventHubsEndpoints | undefined {
  const get = (key: string) => (vars instanceof Map ? vars.get(key) : vars[key]);
  const endpoints = {
    saslBrokers: list(get('KLAXON_TEST_EVENTHUBS_SASL_BROKERS')),
    saslSslBrokers: list(get('KLAXON_TEST_EVENTHUBS_SASL_SSL_BROKERS')),
    caFile: get('KLAXON_TEST_EVENTHUBS_CA_FILE') ?? '',
    connectionStringFile: get('KLAXON_TEST_EVENTHUBS_CONNECTION_STRING_FILE') ?? '',
    wrongConnectionStringFile: get('KLAXON_TEST_EVENTHUBS_WRONG_CONNECTION_STRING_FILE') ?? '',
  };
  return Object.values(endpoints).every((value) => value.length > 0) ? endpoints : undefined;
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const external = Boolean(process.env.KAFKA_BROKERS && process.env.ELASTICSEARCH_URL);
  const externalMoto = Boolean(process.env.AWS_ENDPOINT_URL_CLOUDWATCH_LOGS);
  const externalPubsub = Boolean(process.env.PUBSUB_EMULATOR_HOST);
  const wanted: Name[] = [
    ...(external ? [] : (['kafka', 'elasticsearch'] as const)),
    ...(external && process.env.KLAXON_ALERTMANAGER_URL ? [] : (['alertmanager'] as const)),
    ...(externalMoto ? [] : (['moto'] as const)),
    ...(externalPubsub ? [] : (['pubsub'] as const)),
    ...siemReceivers,
  ];
  if (!external) requireJavaAndMaven();

  const startedHere = wanted.filter((name) => !running(name));
  requireToolsFor(startedHere);
  if (wanted.length > 0) await runScript(['up', ...wanted]);

  const scripted = scriptEnv();
  const endpoints: ServiceEndpoints = {
    ...(external
      ? {
          kafkaBrokers: list(process.env.KAFKA_BROKERS),
          elasticsearchUrl: process.env.ELASTICSEARCH_URL ?? '',
          alertmanagerUrl: process.env.KLAXON_ALERTMANAGER_URL ?? local.alertmanagerUrl,
          ...siem,
        }
      : local),
    cloudWatchLogsUrl:
      process.env.AWS_ENDPOINT_URL_CLOUDWATCH_LOGS ?? scripted.get('AWS_ENDPOINT_URL_CLOUDWATCH_LOGS') ?? '',
    awsRegion: externalMoto ? (process.env.AWS_REGION ?? defaultRegion) : defaultRegion,
    pubsubEmulatorHost: process.env.PUBSUB_EMULATOR_HOST ?? scripted.get('PUBSUB_EMULATOR_HOST') ?? '',
    pubsubProjectId: process.env.PUBSUB_PROJECT_ID ?? defaultProject,
    eventHubs: external ? eventHubsFrom(process.env) : eventHubsFrom(scripted),
  };

  process.env.KAFKA_BROKERS = endpoints.kafkaBrokers.join(',');
  process.env.ELASTICSEARCH_URL = endpoints.elasticsearchUrl;
  process.env.KLAXON_ALERTMANAGER_URL = endpoints.alertmanagerUrl;
  // The AWS SDK's own endpoint override and default credential chain. Dummy keys, and no instance
  // metadata service: a test must never reach for real credentials or leave the machine.
  process.env.AWS_ENDPOINT_URL_CLOUDWATCH_LOGS = endpoints.cloudWatchLogsUrl;
  process.env.AWS_REGION = endpoints.awsRegion;
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
  if (!externalMoto) {
    process.env.AWS_ACCESS_KEY_ID = awsTestKey;
    process.env.AWS_SECRET_ACCESS_KEY = awsTestKey;
    delete process.env.AWS_SESSION_TOKEN;
    delete process.env.AWS_PROFILE;
  }
  // The Pub/Sub client's emulator switch; without METADATA_SERVER_DETECTION=none, Google's auth
  // library still probes the GCE metadata server (169.254.169.254) even with an emulator.
  process.env.PUBSUB_EMULATOR_HOST = endpoints.pubsubEmulatorHost;
  process.env.PUBSUB_PROJECT_ID = endpoints.pubsubProjectId;
  process.env.GOOGLE_CLOUD_PROJECT = endpoints.pubsubProjectId;
  process.env.METADATA_SERVER_DETECTION = 'none';
  if (endpoints.eventHubs) {
    process.env.KLAXON_TEST_EVENTHUBS_SASL_BROKERS = endpoints.eventHubs.saslBrokers.join(',');
    process.env.KLAXON_TEST_EVENTHUBS_SASL_SSL_BROKERS = endpoints.eventHubs.saslSslBrokers.join(',');
    process.env.KLAXON_TEST_EVENTHUBS_CA_FILE = endpoints.eventHubs.caFile;
    process.env.KLAXON_TEST_EVENTHUBS_CONNECTION_STRING_FILE = endpoints.eventHubs.connectionStringFile;
    process.env.KLAXON_TEST_EVENTHUBS_WRONG_CONNECTION_STRING_FILE =
      endpoints.eventHubs.wrongConnectionStringFile;
  }
  project.provide('services', endpoints);

  return async () => {
    if (startedHere.length === 0 || process.env.KLAXON_KEEP_SERVICES === '1') return;
    await runScript(['stop', ...startedHere]);
  };
}
