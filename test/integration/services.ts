// Endpoints of the real test services and small helpers for integration tests.
// The endpoints come from test/integration/global-setup.ts (vitest `provide`), which either started
// the services with scripts/services or took them from KAFKA_BROKERS / ELASTICSEARCH_URL (and
// AWS_ENDPOINT_URL_CLOUDWATCH_LOGS, PUBSUB_EMULATOR_HOST, KLAXON_TEST_EVENTHUBS_*).
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { Client } from '@elastic/elasticsearch';
import { PubSub } from '@google-cloud/pubsub';
import { Kafka, type KafkaConfig, logLevel } from 'kafkajs';
import { inject } from 'vitest';

/** Kafka listeners that authenticate the way Azure Event Hubs does (SASL PLAIN, `$ConnectionString`). */
export type EventHubsEndpoints = {
  /** SASL_PLAINTEXT listeners, e.g. ['127.0.0.1:9094']. */
  saslBrokers: string[];
  /** SASL_SSL listeners, e.g. ['127.0.0.1:9095'], with a certificate signed by `caFile`. */
  saslSslBrokers: string[];
  /** PEM of the test CA that signed the SASL_SSL listener's certificate. */
  caFile: string;
  /** File holding the connection string the broker accepts as the password of `$ConnectionString`. */
  connectionStringFile: string;
  /** File holding a well-formed connection string the broker refuses. */
  wrongConnectionStringFile: string;
};

export type ServiceEndpoints = {
  kafkaBrokers: string[];
  elasticsearchUrl: string;
  alertmanagerUrl: string;
  /** moto's CloudWatch Logs endpoint, also in AWS_ENDPOINT_URL_CLOUDWATCH_LOGS. */
  cloudWatchLogsUrl: string;
  /** AWS_REGION the tests and the code under test use against moto. */
  awsRegion: string;
  /** host:port of the Pub/Sub emulator, also in PUBSUB_EMULATOR_HOST. */
  pubsubEmulatorHost: string;
  /** Project of topics and subscriptions on the emulator, also in PUBSUB_PROJECT_ID. */
  pubsubProjectId: string;
  /** Absent when an external KAFKA_BROKERS was given without KLAXON_TEST_EVENTHUBS_*. */
  eventHubs?: EventHubsEndpoints;
  /** rsyslog: one port per transport, the test CA and client certificate, and the files it writes (`<tcp|tls|mtls>.jsonl`). */
  syslog: {
    host: string;
    tcpPort: number;
    tlsPort: number;
    mtlsPort: number;
    caFile: string;
    clientCertFile: string;
    clientKeyFile: string;
    outDir: string;
  };
  /** The OpenTelemetry Collector's OTLP/HTTP base URL and the file its exporter writes (one OTLP JSON request per line). */
  otlp: { endpoint: string; outFile: string };
};

declare module 'vitest' {
  export interface ProvidedContext {
    services: ServiceEndpoints;
  }
}

/** Path of scripts/services in this checkout. */
export const servicesScript = fileURLToPath(new URL('../../scripts/services', import.meta.url));

export function endpoints(): ServiceEndpoints {
  const provided = inject('services');
  if (!provided) {
    throw new Error(
      'test services are not set up: run integration tests with `vitest --project integration`',
    );
  }
  return provided;
}

/** Kafka bootstrap brokers, e.g. ['127.0.0.1:9092']. */
export function kafkaBrokers(): string[] {
  return endpoints().kafkaBrokers;
}

/** Elasticsearch base URL, e.g. 'http://127.0.0.1:9200'. */
export function elasticsearchUrl(): string {
  return endpoints().elasticsearchUrl;
}

/** Alertmanager base URL, e.g. 'http://127.0.0.1:9093'. */
export function alertmanagerUrl(): string {
  return endpoints().alertmanagerUrl;
}

export function syslogReceiver(): ServiceEndpoints['syslog'] {
  return endpoints().syslog;
}

export function otlpCollector(): ServiceEndpoints['otlp'] {
  return endpoints().otlp;
}

/** A kafkajs client on the test broker; kafkajs' own logging is off (assert on behaviour instead). */
export function kafkaClient(clientId = 'klaxon-test'): Kafka {
  return new Kafka({ clientId, brokers: kafkaBrokers(), logLevel: logLevel.NOTHING });
}

/** An Elasticsearch client on the test node. Close it in afterAll. */
export function elasticsearchClient(): Client {
  return new Client({ node: elasticsearchUrl() });
}

/**
 * A CloudWatch Logs client configured as the code under test will be: nothing but the SDK's
 * default chain, which reads AWS_ENDPOINT_URL_CLOUDWATCH_LOGS, AWS_REGION and the dummy keys that
 * the global setup put in the environment. `maxAttempts: 1` makes a refusal show at once.
 */
export function cloudWatchLogsClient(): CloudWatchLogsClient {
  return new CloudWatchLogsClient({ maxAttempts: 1 });
}

/** A Pub/Sub client on the emulator (PUBSUB_EMULATOR_HOST from the environment). Close it in afterAll. */
export function pubsubClient(): PubSub {
  return new PubSub({ projectId: endpoints().pubsubProjectId });
}

/** The Event Hubs-shaped SASL listeners; fails the test, never skips it, when there are none. */
export function eventHubs(): EventHubsEndpoints {
  const found = endpoints().eventHubs;
  if (!found) {
    throw new Error(
      'no Kafka SASL listeners: with an external KAFKA_BROKERS, also set KLAXON_TEST_EVENTHUBS_SASL_BROKERS, ' +
        '_SASL_SSL_BROKERS, _CA_FILE, _CONNECTION_STRING_FILE and _WRONG_CONNECTION_STRING_FILE (see docs/dev-services.md)',
    );
  }
  return found;
}

/**
 * A kafkajs client that signs in as an Event Hubs client does: SASL PLAIN, user name
 * `$ConnectionString`, password the connection string read from `connectionStringFile`.
 * `tls` picks the SASL_SSL listener (trusting only the test CA) over the SASL_PLAINTEXT one.
 */
export function eventHubsKafka(options: {
  tls: boolean;
  connectionStringFile?: string;
  overrides?: Partial<KafkaConfig>;
}): Kafka {
  const hubs = eventHubs();
  const password = readFileSync(options.connectionStringFile ?? hubs.connectionStringFile, 'utf8').trim();
  return new Kafka({
    clientId: 'klaxon-test-eventhubs',
    brokers: options.tls ? hubs.saslSslBrokers : hubs.saslBrokers,
    ssl: options.tls ? { ca: [readFileSync(hubs.caFile, 'utf8')] } : false,
    sasl: { mechanism: 'plain', username: '$ConnectionString', password },
    logLevel: logLevel.NOTHING,
    ...options.overrides,
  });
}

/** A topic, index or group name no other test run uses: `<prefix>.<time>-<random>`, lower case. */
export function uniqueTopic(prefix: string): string {
  const clean = prefix.toLowerCase().replace(/[^a-z0-9._-]+/g, '-');
  return `${clean}.${Date.now().toString(36)}-${randomUUID().slice(0, 8)}`;
}

/**
 * Polls `fn` until it returns a value other than undefined, null or false (a throw counts as
 * "not yet"), and resolves with that value. Rejects after `timeoutMs` with the last error seen.
 */
export async function waitFor<T>(
  fn: () => T | Promise<T>,
  timeoutMs = 30_000,
  intervalMs = 100,
): Promise<Exclude<T, undefined | null | false>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value !== undefined && value !== null && value !== false) {
        return value as Exclude<T, undefined | null | false>;
      }
      last = undefined;
    } catch (error) {
      last = error;
    }
    if (Date.now() >= deadline) {
      const why = last instanceof Error ? `: ${last.message}` : last === undefined ? '' : `: ${String(last)}`;
      throw new Error(`waitFor: condition not met within ${timeoutMs} ms${why}`, { cause: last });
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/**
 * Runs scripts/services with the given arguments (e.g. 'stop', 'kafka'), for outage tests.
 * Rejects with the script's output when it exits non-zero.
 */
export function runServices(...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', [servicesScript, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(output);
      else reject(new Error(`scripts/services ${args.join(' ')} exited with ${code}:\n${output}`));
    });
  });
}
