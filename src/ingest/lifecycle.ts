import type { Bus } from '../bus/index.ts';
import { ConfigError, loadConfig, type Settings } from '../config.ts';
import type { Logger } from '../log.ts';
import { startConfiguredSources } from '../sources/start.ts';
import type { SourceRoutes } from '../sources/types.ts';
import { type ListenPlan, planListener, UnsafeListenError } from './server.ts';

/** Flags shared by `serve` and `ingest`. */
export interface ListenFlags {
  port?: string;
  host?: string;
}

/** Loads settings with the command-line flags on top; a bad setting ends the command with its message. */
export function settingsFromFlags(command: string, flags: ListenFlags): Settings | undefined {
  try {
    return loadConfig(process.env, { 'ingest.port': flags.port, 'ingest.host': flags.host });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`klaxon ${command}: ${err.message}\n`);
    return undefined;
  }
}

/** Errors a user can fix (settings, files, unsafe address): one clear line, no stack. */
function reportStartupError(command: string, err: unknown): void {
  const fixable = err instanceof UnsafeListenError || err instanceof ConfigError;
  process.stderr.write(
    `klaxon ${command}: ${fixable ? (err as Error).message : String((err as Error)?.stack ?? err)}\n`,
  );
}

/** The listener plan, or undefined once the reason it cannot be made is on stderr. */
export function planOrReport(command: string, settings: Settings): ListenPlan | undefined {
  try {
    return planListener(settings);
  } catch (err) {
    reportStartupError(command, err);
    return undefined;
  }
}

/** Starts the bus; when it cannot, stops it again and says why on stderr (`what`: what could not be done). */
export async function startBusOrReport(command: string, bus: Bus, what: string): Promise<boolean> {
  try {
    await bus.start();
    return true;
  } catch (err) {
    process.stderr.write(`klaxon ${command}: ${what}: ${(err as Error).message}\n`);
    await bus.stop();
    return false;
  }
}

/** Starts the pull sources of `sources:`; when one cannot start, says why on stderr and returns undefined. */
export async function startSourcesOrReport(
  command: string,
  settings: Settings,
  buses: { bus: Bus; publishTo: Bus },
  logger: Logger,
): Promise<{ routes: SourceRoutes[]; problems(): string[]; stop(): Promise<void> } | undefined> {
  try {
    const sources = await startConfiguredSources(settings, buses, logger);
    return {
      routes: sources.routes,
      problems: sources.problems,
      stop: async () => {
        await sources.stop();
        await sources.closeCheckpoints();
      },
    };
  } catch (err) {
    process.stderr.write(`klaxon ${command}: cannot start the sources: ${(err as Error).message}\n`);
    return undefined;
  }
}

/** Runs `stop` once on the first SIGINT/SIGTERM; a second signal exits at once. */
export function onShutdownSignal(stop: (signal: string) => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(130);
    stopping = true;
    stop(signal).then(
      () => process.exit(process.exitCode ?? 0),
      (err: unknown) => {
        process.stderr.write(`klaxon: shutdown failed: ${String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}

export function announceGeneratedToken(token: string | undefined): void {
  if (token === undefined) return;
  process.stderr.write(`klaxon: no KLAXON_TOKENS_FILE; generated a token for cluster "local": ${token}\n`);
}

const LISTEN_ERRORS: Record<string, string> = {
  EADDRINUSE: 'the port is already in use (another Klaxon? pick another with --port)',
  EACCES: 'permission denied (ports below 1024 need privileges; use --port 8080)',
  EADDRNOTAVAIL: 'no such address on this machine (check --host / KLAXON_HOST)',
};

/** A listen failure a user can fix, as one line (`cannot listen on HOST:PORT: why`); else undefined. */
export function describeListenError(err: unknown): string | undefined {
  const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
  if (e?.syscall !== 'listen' || e.code === undefined) return undefined;
  const why = LISTEN_ERRORS[e.code];
  if (why === undefined) return undefined;
  const host = e.address?.includes(':') ? `[${e.address}]` : e.address;
  return `cannot listen on ${host ?? '?'}:${e.port ?? '?'}: ${why}`;
}
