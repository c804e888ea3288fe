// Endpoints of the real test services and small helpers for integration tests.
// The endpoints come from test/integration/global-setup.ts (vitest `provide`), which either started
// the services with scripts/services or took them from KAFKA_BROKERS / ELASTICSEARCH_URL.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Client } from '@elastic/elasticsearch';
import { Kafka, logLevel } from 'kafkajs';
import { inject } from 'vitest';

export type ServiceEndpoints = {
  kafkaBrokers: string[];
  elasticsearchUrl: string;
  alertmanagerUrl: string;
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
