import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { bool, bytes, int, list, MiB } from './config-values.ts';
import { filterFields } from './sinks/filter.ts';
import { SinksSettings } from './sinks/settings.ts';
import { FlowsSettings } from './sources/flow-settings.ts';
import { SourcesSettings } from './sources/settings.ts';

/**
 * Every Klaxon setting, in ONE zod schema grouped by section. Values come from an
 * optional YAML file (`KLAXON_CONFIG`, same nested shape as the schema), then from
 * environment variables (which win), then from command-line flags (which win over both).
 *
 * To add a setting: add the field to its section below and one line to `ENV_VARS`,
 * then document it in README.md `## Configuration`.
 */

/**
 * The catalogue shipped with Klaxon, found from this file rather than the working
 * directory, so `klaxon serve` started anywhere loads the same rules.
 */
export const BUILTIN_RULES_DIR = fileURLToPath(new URL('../detections', import.meta.url));

/** `subject=cluster,subject2=cluster2` in the environment, a mapping in the file. */
const subjectMap = z.preprocess(
  (v) => {
    if (typeof v !== 'string') return v;
    const out: Record<string, string> = {};
    for (const pair of v.split(',')) {
      if (pair.trim() === '') continue;
      const eq = pair.lastIndexOf('=');
      if (eq <= 0) return v; // let the schema report the malformed value
      out[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
    }
    return out;
  },
  z.record(z.string().min(1), z.string().min(1)),
);

/** `name=file,name2=file2` in the environment; a mapping to a file or an inline list in the YAML file. */
const placeholderMap = z.preprocess(
  (v) => {
    if (typeof v !== 'string') return v;
    const parsed = subjectMap.safeParse(v);
    return parsed.success ? parsed.data : v;
  },
  z.record(
    z.string().regex(/^[A-Za-z0-9_.-]+$/, 'a placeholder name: letters, digits, ".", "_" and "-"'),
    z.union([z.string().min(1), z.array(z.string())]),
  ),
);

// Strict: a misspelt section (`sourcez:`) would otherwise be dropped without a word, its settings never applied.
export const Settings = z.strictObject({
  kafka: z
    .object({
      /** No brokers → `serve` uses the in-memory bus. */
      brokers: list.optional(),
      clientId: z.string().min(1).default('klaxon'),
      eventsTopic: z.string().min(1).default('klaxon.events'),
      eventsPartitions: int(1, 10_000).default(6),
      /** -1: the broker's default.replication.factor. */
      replicationFactor: int(-1, 100).default(-1),
      compression: z.enum(['none', 'gzip']).default('none'),
      ssl: bool.default(false),
      /** Rule matches re-keyed by their correlation's group-by (distributed correlation). */
      signalsTopic: z.string().min(1).default('klaxon.signals'),
      alertsTopic: z.string().min(1).default('klaxon.alerts'),
      deadletterTopic: z.string().min(1).default('klaxon.deadletter'),
      /** Compacted topic of the pull sources' checkpoints, shared by every ingest replica. */
      stateTopic: z.string().min(1).default('klaxon.state'),
      /** Compacted topic of the first-seen rules' state (created with the signals topic's partitions). */
      firstSeenTopic: z.string().min(1).default('klaxon.first-seen'),
      /** Consumer group of `detect` on the events topic. */
      groupId: z.string().min(1).default('klaxon-detect'),
      /** Consumer group of `serve`'s in-process detector when it runs on Kafka. */
      serveGroupId: z.string().min(1).default('klaxon-serve'),
      /** Consumer group of `detect` on the signals topic. */
      correlateGroupId: z.string().min(1).default('klaxon-correlate'),
    })
    .strict()
    .prefault({}),
  elasticsearch: z
    .object({
      url: z.url().optional(),
      apiKey: z.string().min(1).optional(),
      username: z.string().min(1).optional(),
      password: z.string().min(1).optional(),
      caFile: z.string().min(1).optional(),
      /** Indices are `<prefix>-alerts-YYYY.MM.DD` (and `<prefix>-events-*`). */
      indexPrefix: z
        .string()
        .regex(/^[a-z0-9][a-z0-9._-]*$/, 'lower case letters, digits, ".", "_" and "-"')
        .default('klaxon'),
      /** Also index every normalized event for hunting. */
      indexEvents: bool.default(false),
      /**
       * Daily indices are made for event dates at most this many days old (and not in the future); a document
       * dated outside goes to `<prefix>-alerts-out-of-range`, so senders cannot create indices for any date.
       */
      maxEventAgeDays: int(1, 3_650).default(30),
    })
    .strict()
    .prefault({}),
  alertmanager: z
    .object({
      url: z.url().optional(),
      /** `minLevel`, and `rules`/`excludeRules`/`tags` (settings file only), as every sink has. */
      ...filterFields('medium'),
      /** An alert resolves this long after it was last sent. */
      resolveAfterSeconds: int(60, 30 * 86_400).default(3_600),
      /** `runbook_url` = `<base>/<rule name>`; else the rule's first reference. */
      runbookBaseUrl: z.url().optional(),
    })
    .strict()
    .prefault({}),
  ingest: z
    .object({
      /** Unset: 0.0.0.0 when authentication is configured, else 127.0.0.1 (see cli/serve.ts). */
      host: z.string().min(1).optional(),
      port: int(0, 65_535).default(8080),
      /** YAML mapping `cluster: token` or `cluster: [token, ...]`. */
      tokensFile: z.string().min(1).optional(),
      tls: z
        .object({
          cert: z.string().min(1).optional(),
          key: z.string().min(1).optional(),
          /** CA that signs client certificates; setting it turns on mTLS. */
          ca: z.string().min(1).optional(),
          /** Client certificate subject CN (or DNS SAN) → cluster name. */
          clients: subjectMap.default({}),
          /** YAML file with the same mapping; merged with `clients`. */
          clientsFile: z.string().min(1).optional(),
        })
        .strict()
        .prefault({}),
      auditBodyLimit: bytes.default(32 * MiB),
      falcoBodyLimit: bytes.default(1 * MiB),
      auditEventLimit: bytes.default(256 * 1024),
      /** Most items (events, alerts) one request may carry; the API server batches at most 400 by default. */
      maxItems: int(1, 1_000_000).default(10_000),
      /** An event dated further ahead of its receive time is filed under the receive time (`klaxon.claimed_timestamp`). */
      maxClockAheadSeconds: int(0, 86_400).default(60),
      /** A connection that sends nothing (no request yet, or idle between keep-alive requests) is closed after this. */
      idleTimeoutSeconds: int(1, 3_600).default(15),
      /** Open connections in all (lowered to leave file descriptors free when the process limit is lower). */
      maxConnections: int(16, 1_000_000).default(4_096),
      /** Open connections from one address; behind a proxy or load balancer raise it to `maxConnections`. */
      maxConnectionsPerAddress: int(1, 1_000_000).default(256),
      /** Whole-request deadline, body included: a slow-loris sender is cut off with 408. */
      requestTimeoutSeconds: int(1, 3_600).default(30),
      /** Requests per second per cluster (token bucket); 0 turns the limit off. */
      rateLimit: z.coerce.number().min(0).default(0),
      /** Bucket size: requests a cluster may send at once (default: twice the rate, at least 1). */
      rateBurst: z.coerce.number().min(1).optional(),
      /** Durable spool for events Kafka cannot take right now (`ingest`, and `serve` on Kafka). */
      spool: z
        .object({
          dir: z.string().min(1).default('./var/spool'),
          maxBytes: bytes.default(1024 * MiB),
          /** How long a request waits for Kafka before its events go to the spool. */
          kafkaTimeoutMs: int(50, 60_000).default(2_000),
        })
        .strict()
        .prefault({}),
      /** `POST /v1/flows` (Cilium Hubble): its limits, volume filter and drop-metric namespaces. */
      flows: FlowsSettings,
    })
    .strict()
    .prefault({}),
  detect: z
    .object({
      rules: list.default([BUILTIN_RULES_DIR]),
      /** JSON lines file `serve` appends alerts to, besides stdout. */
      alertsFile: z.string().min(1).optional(),
      /** Health and metrics port of `klaxon detect`. */
      port: int(0, 65_535).default(8081),
      /** How late (event time) a signal may arrive and still join its correlation window. */
      latenessSeconds: int(0, 86_400).default(30),
      /** Values of the rules' `%placeholders%` (Sigma `expand`): name → file (one value a line) or inline list. */
      placeholders: placeholderMap.default({}),
      /** How often placeholder files are checked for changes (they are re-read without a restart). */
      placeholderReloadSeconds: int(1, 86_400).default(30),
    })
    .strict()
    .prefault({}),
  log: z
    .object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
    .strict()
    .prefault({}),
  /** Named sink instances (`<name>: {type: syslog|otlp|splunk-hec|alertmanager, ...}`), settings file only. */
  sinks: SinksSettings,
  sources: SourcesSettings,
  state: z
    .object({
      /**
       * Where what must survive a restart is kept when there is no Kafka: pull sources' checkpoints
       * (`klaxon serve`, `klaxon ingest` without `KAFKA_BROKERS`) and the first-seen rules' state
       * (`klaxon serve`). With Kafka it is the state topics.
       */
      dir: z.string().min(1).default('./var/state'),
    })
    .strict()
    .prefault({}),
});
export type Settings = z.infer<typeof Settings>;

/** Environment variable → dotted path in `Settings`. */
export const ENV_VARS = {
  KAFKA_BROKERS: 'kafka.brokers',
  KLAXON_KAFKA_CLIENT_ID: 'kafka.clientId',
  KLAXON_EVENTS_TOPIC: 'kafka.eventsTopic',
  KLAXON_EVENTS_PARTITIONS: 'kafka.eventsPartitions',
  KLAXON_KAFKA_REPLICATION_FACTOR: 'kafka.replicationFactor',
  KLAXON_KAFKA_COMPRESSION: 'kafka.compression',
  KLAXON_KAFKA_SSL: 'kafka.ssl',
  KLAXON_SIGNALS_TOPIC: 'kafka.signalsTopic',
  KLAXON_ALERTS_TOPIC: 'kafka.alertsTopic',
  KLAXON_DEADLETTER_TOPIC: 'kafka.deadletterTopic',
  KLAXON_STATE_TOPIC: 'kafka.stateTopic',
  KLAXON_FIRST_SEEN_TOPIC: 'kafka.firstSeenTopic',
  KLAXON_STATE_DIR: 'state.dir',
  KLAXON_GROUP_ID: 'kafka.groupId',
  KLAXON_CORRELATE_GROUP_ID: 'kafka.correlateGroupId',
  KLAXON_SERVE_GROUP_ID: 'kafka.serveGroupId',
  ELASTICSEARCH_URL: 'elasticsearch.url',
  ELASTICSEARCH_API_KEY: 'elasticsearch.apiKey',
  ELASTICSEARCH_USERNAME: 'elasticsearch.username',
  ELASTICSEARCH_PASSWORD: 'elasticsearch.password',
  ELASTICSEARCH_CA_FILE: 'elasticsearch.caFile',
  KLAXON_ES_INDEX_PREFIX: 'elasticsearch.indexPrefix',
  KLAXON_INDEX_EVENTS: 'elasticsearch.indexEvents',
  KLAXON_ES_MAX_EVENT_AGE_DAYS: 'elasticsearch.maxEventAgeDays',
  KLAXON_ALERTMANAGER_URL: 'alertmanager.url',
  KLAXON_ALERTMANAGER_MIN_LEVEL: 'alertmanager.minLevel',
  KLAXON_ALERTMANAGER_RESOLVE_AFTER_SECONDS: 'alertmanager.resolveAfterSeconds',
  KLAXON_RUNBOOK_BASE_URL: 'alertmanager.runbookBaseUrl',
  KLAXON_HOST: 'ingest.host',
  KLAXON_PORT: 'ingest.port',
  KLAXON_TOKENS_FILE: 'ingest.tokensFile',
  KLAXON_TLS_CERT: 'ingest.tls.cert',
  KLAXON_TLS_KEY: 'ingest.tls.key',
  KLAXON_TLS_CA: 'ingest.tls.ca',
  KLAXON_TLS_CLIENTS: 'ingest.tls.clients',
  KLAXON_TLS_CLIENTS_FILE: 'ingest.tls.clientsFile',
  KLAXON_AUDIT_BODY_LIMIT: 'ingest.auditBodyLimit',
  KLAXON_FALCO_BODY_LIMIT: 'ingest.falcoBodyLimit',
  KLAXON_AUDIT_EVENT_LIMIT: 'ingest.auditEventLimit',
  KLAXON_MAX_ITEMS: 'ingest.maxItems',
  KLAXON_MAX_CLOCK_AHEAD_SECONDS: 'ingest.maxClockAheadSeconds',
  KLAXON_REQUEST_TIMEOUT_SECONDS: 'ingest.requestTimeoutSeconds',
  KLAXON_IDLE_TIMEOUT_SECONDS: 'ingest.idleTimeoutSeconds',
  KLAXON_MAX_CONNECTIONS: 'ingest.maxConnections',
  KLAXON_MAX_CONNECTIONS_PER_ADDRESS: 'ingest.maxConnectionsPerAddress',
  KLAXON_RATE_LIMIT: 'ingest.rateLimit',
  KLAXON_RATE_BURST: 'ingest.rateBurst',
  KLAXON_SPOOL_DIR: 'ingest.spool.dir',
  KLAXON_SPOOL_MAX_BYTES: 'ingest.spool.maxBytes',
  KLAXON_SPOOL_KAFKA_TIMEOUT_MS: 'ingest.spool.kafkaTimeoutMs',
  KLAXON_FLOWS_BODY_LIMIT: 'ingest.flows.bodyLimit',
  KLAXON_FLOWS_MAX_ITEMS: 'ingest.flows.maxItems',
  KLAXON_FLOWS_METRIC_NAMESPACES: 'ingest.flows.metricNamespaces',
  KLAXON_RULES: 'detect.rules',
  KLAXON_ALERTS_FILE: 'detect.alertsFile',
  KLAXON_DETECT_PORT: 'detect.port',
  KLAXON_LATENESS_SECONDS: 'detect.latenessSeconds',
  KLAXON_PLACEHOLDERS: 'detect.placeholders',
  KLAXON_PLACEHOLDER_RELOAD_SECONDS: 'detect.placeholderReloadSeconds',
  KLAXON_LOG_LEVEL: 'log.level',
} as const satisfies Record<string, string>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Tree = Record<string, unknown>;

function setPath(tree: Tree, path: string, value: unknown): void {
  const parts = path.split('.');
  let node = tree;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    node[part] = next !== null && typeof next === 'object' && !Array.isArray(next) ? next : {};
    node = node[part] as Tree;
  }
  node[parts[parts.length - 1]!] = value;
}

function readFileSettings(file: string): Tree {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`KLAXON_CONFIG: cannot read ${file}: ${(err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`KLAXON_CONFIG: ${file} is not valid YAML: ${(err as Error).message}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new ConfigError(`KLAXON_CONFIG: ${file} must hold a mapping of sections (kafka, ingest, ...)`);
  }
  return doc as Tree;
}

const PATH_TO_ENV = new Map<string, string>(Object.entries(ENV_VARS).map(([env, path]) => [path, env]));

/** Names the variable behind a zod issue path, e.g. `KLAXON_EVENTS_PARTITIONS (kafka.eventsPartitions)`. */
function describePath(path: readonly PropertyKey[]): string {
  const dotted = path.map(String).join('.');
  for (let n = path.length; n > 0; n--) {
    const env = PATH_TO_ENV.get(path.slice(0, n).map(String).join('.'));
    if (env) return `${env} (${dotted})`;
  }
  return dotted === '' ? 'configuration' : dotted;
}

/**
 * Loads and validates every setting. Throws `ConfigError` naming the bad variable.
 * `overrides` are dotted paths from command-line flags, e.g. `{'ingest.port': 9000}`.
 */
export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  overrides: Record<string, unknown> = {},
): Settings {
  const tree: Tree = env.KLAXON_CONFIG ? readFileSettings(env.KLAXON_CONFIG) : {};
  for (const [name, path] of Object.entries(ENV_VARS)) {
    const value = env[name];
    if (value !== undefined && value.trim() !== '') setPath(tree, path, value.trim());
  }
  for (const [path, value] of Object.entries(overrides)) {
    if (value !== undefined) setPath(tree, path, value);
  }
  const parsed = Settings.safeParse(tree);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${describePath(i.path)}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  return parsed.data;
}
