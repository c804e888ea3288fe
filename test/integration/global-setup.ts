// vitest globalSetup for the integration project: makes sure real Kafka, Elasticsearch and
// Alertmanager answer, then hands their endpoints to the tests (inject('services')) and to code
// that reads the environment (KAFKA_BROKERS, ELASTICSEARCH_URL, KLAXON_ALERTMANAGER_URL).
// The SIEM receivers (rsyslog, an OpenTelemetry Collector) are always started by scripts/services:
// the tests read the files they write.
//
// With KAFKA_BROKERS and ELASTICSEARCH_URL both set, those servers are used as they are.
// Otherwise scripts/services starts its own (Java 17+ and Maven needed) and this setup stops, at
// teardown, only the services it started itself: ones already running stay up (developers keep
// them running; `npm run services:down` stops them). KLAXON_KEEP_SERVICES=1 keeps everything up.
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import type { ServiceEndpoints } from './services.ts';

const script = new URL('../../scripts/services', import.meta.url).pathname;
const names = ['kafka', 'elasticsearch', 'alertmanager', 'rsyslog', 'otelcol'] as const;
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

const local: ServiceEndpoints = {
  kafkaBrokers: ['127.0.0.1:9092'],
  elasticsearchUrl: 'http://127.0.0.1:9200',
  alertmanagerUrl: 'http://127.0.0.1:9093',
  ...siem,
};

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

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const external = Boolean(process.env.KAFKA_BROKERS && process.env.ELASTICSEARCH_URL);
  const wanted: Name[] = external
    ? [...(process.env.KLAXON_ALERTMANAGER_URL ? [] : (['alertmanager'] as Name[])), ...siemReceivers]
    : [...names];
  if (!external) requireJavaAndMaven();

  const startedHere = wanted.filter((name) => !running(name));
  if (wanted.length > 0) await runScript(['up', ...wanted]);

  const endpoints: ServiceEndpoints = external
    ? {
        kafkaBrokers: (process.env.KAFKA_BROKERS ?? '')
          .split(',')
          .map((broker) => broker.trim())
          .filter(Boolean),
        elasticsearchUrl: process.env.ELASTICSEARCH_URL ?? '',
        alertmanagerUrl: process.env.KLAXON_ALERTMANAGER_URL ?? local.alertmanagerUrl,
        ...siem,
      }
    : local;

  process.env.KAFKA_BROKERS = endpoints.kafkaBrokers.join(',');
  process.env.ELASTICSEARCH_URL = endpoints.elasticsearchUrl;
  process.env.KLAXON_ALERTMANAGER_URL = endpoints.alertmanagerUrl;
  project.provide('services', endpoints);

  return async () => {
    if (startedHere.length === 0 || process.env.KLAXON_KEEP_SERVICES === '1') return;
    await runScript(['stop', ...startedHere]);
  };
}
