import { readFile } from 'node:fs/promises';
import { type KafkaConfig, logLevel } from 'kafkajs';
import { logCreator } from '../bus/kafka.ts';
import type { Logger } from '../log.ts';
import { type EventHubsSourceSettings, usesTls } from './eventhubs-settings.ts';

/** What the settings name by file: read again at every (re)connection, so a rotated key needs no restart. */
export interface EventHubsSecrets {
  /** The connection string: SASL PLAIN password of the user `$ConnectionString`. */
  connectionString?: string;
  /** PEM of the CA bundle. */
  ca?: string;
}

/** The user name Event Hubs' Kafka endpoint expects with a connection string as the password. */
export const CONNECTION_STRING_USER = '$ConnectionString';

/** Why a file named by the settings cannot be used; never its content. */
export class SecretFileError extends Error {
  override name = 'SecretFileError';
}

async function readNamed(key: string, path: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new SecretFileError(
      `cannot read ${key} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  const trimmed = text.trim();
  if (trimmed === '') throw new SecretFileError(`${key} ${path} is empty`);
  return trimmed;
}

export async function readSecrets(config: EventHubsSourceSettings): Promise<EventHubsSecrets> {
  const secrets: EventHubsSecrets = {};
  if (config.connectionStringFile !== undefined)
    secrets.connectionString = await readNamed('connectionStringFile', config.connectionStringFile);
  if (config.caFile !== undefined) secrets.ca = await readNamed('caFile', config.caFile);
  return secrets;
}

/**
 * The kafkajs client of one source: SASL PLAIN with `$ConnectionString` when there is a connection string, TLS
 * as configured (Event Hubs: always, against public CAs), and the timeouts Microsoft recommends for Event Hubs'
 * Kafka endpoint (requests at least 60 s: it holds fetches and rebalances longer than Kafka does).
 */
export function kafkaConfig(
  config: EventHubsSourceSettings,
  secrets: EventHubsSecrets,
  logger: Logger,
): KafkaConfig {
  const tls = usesTls(config);
  return {
    clientId: 'klaxon',
    brokers: config.brokers,
    ssl: tls ? (secrets.ca !== undefined ? { ca: [secrets.ca] } : true) : false,
    sasl:
      secrets.connectionString !== undefined
        ? { mechanism: 'plain', username: CONNECTION_STRING_USER, password: secrets.connectionString }
        : undefined,
    connectionTimeout: 10_000,
    authenticationTimeout: 10_000,
    requestTimeout: 60_000,
    retry: { retries: 5, initialRetryTime: 300, maxRetryTime: 10_000 },
    logCreator: logCreator(logger.child({ component: 'kafkajs' })),
    logLevel: logLevel.WARN,
  };
}

/** A connection problem as one line for `/readyz` and the log: what to check, never the connection string. */
export function describeProblem(
  err: unknown,
  config: EventHubsSourceSettings,
  secrets: EventHubsSecrets,
): string {
  const error = err instanceof Error ? err : new Error(String(err));
  let text: string;
  if (error instanceof SecretFileError) text = error.message;
  else if (error.name === 'KafkaJSSASLAuthenticationError')
    text = `the brokers refused the connection string of connectionStringFile ${config.connectionStringFile} (SASL PLAIN as ${CONNECTION_STRING_USER}): ${error.message}`;
  else text = `cannot read ${config.topic} from ${config.brokers.join(',')}: ${error.name}: ${error.message}`;
  const secret = secrets.connectionString;
  return secret ? text.split(secret).join('[redacted]') : text;
}
