// `bin/klaxon.js` as a child process, for tests that need the real CLI (exit codes, signals,
// logs): unit tests use it only with the in-memory bus and no outside services.
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../bin/klaxon.js', import.meta.url));

/** What `klaxon serve` and `klaxon ingest` log once they listen: the URL. */
export const LISTENING_URL = /"url":"(http[^"]+)"/;

export interface Klaxon {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the process's exit code (or signal name). */
  exited: Promise<number | string>;
  kill(signal?: NodeJS.Signals): Promise<number | string>;
}

/** Runs `klaxon <args>` with `env` over this process's environment (`undefined` removes a variable). */
export function spawnKlaxon(args: string[], env: Record<string, string | undefined>): Klaxon {
  const merged: Record<string, string | undefined> = { ...process.env, ...env };
  for (const [name, value] of Object.entries(merged)) if (value === undefined) delete merged[name];
  const child = spawn(process.execPath, [bin, ...args], { env: merged, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr!.on('data', (c: Buffer) => {
    err += c.toString();
  });
  const exited = new Promise<number | string>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
  );
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    kill: (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/**
 * Polls the process's stderr until `pattern` matches and resolves with its first group (or the
 * whole match). Rejects with the stderr when the process ends first or after `timeoutMs`.
 */
export async function waitForStderr(proc: Klaxon, pattern: RegExp, timeoutMs = 60_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const match = pattern.exec(proc.stderr());
    if (match) return match[1] ?? match[0];
    const { exitCode, signalCode } = proc.child;
    if (exitCode !== null || signalCode !== null)
      throw new Error(`klaxon exited (${exitCode ?? signalCode}) before ${pattern}:\n${proc.stderr()}`);
    if (Date.now() > deadline)
      throw new Error(`klaxon: no ${pattern} within ${timeoutMs} ms:\n${proc.stderr()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export type Served = Klaxon & { url: string };

/**
 * `klaxon serve` on 127.0.0.1 (port 0) with the in-memory bus and no Elasticsearch or
 * Alertmanager unless `env` sets them; resolves once it listens on plain HTTP.
 */
export async function startServe(env: Record<string, string | undefined>): Promise<Served> {
  const proc = spawnKlaxon(['serve', '--port', '0', '--host', '127.0.0.1'], {
    KAFKA_BROKERS: undefined,
    ELASTICSEARCH_URL: undefined,
    KLAXON_ALERTMANAGER_URL: undefined,
    ...env,
  });
  return { ...proc, url: await waitForStderr(proc, /"url":"(http:\/\/127\.0\.0\.1:\d+)"/) };
}
