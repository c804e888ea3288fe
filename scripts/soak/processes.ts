/** The soak's Klaxon processes and what it reads from them: RSS, Prometheus metrics, health. */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface KlaxonChild {
  name: string;
  child: ChildProcess;
  /** The last lines it wrote on stderr (its JSON logs), for a failure report. */
  tail: string[];
}

/** `klaxon <args>` with `env` over this process's environment; logs at warn, also to `logFile` when given. */
export function spawnKlaxon(
  name: string,
  args: string[],
  env: Record<string, string>,
  logFile?: string,
): KlaxonChild {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin/klaxon.js'), ...args], {
    cwd: ROOT,
    env: { ...process.env, KLAXON_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const file = logFile ? createWriteStream(logFile, { flags: 'a' }) : undefined;
  const tail: string[] = [];
  child.stderr?.on('data', (chunk: Buffer) => {
    file?.write(chunk);
    tail.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    tail.splice(0, Math.max(0, tail.length - 30));
  });
  return { name, child, tail };
}

/** Resident set size in bytes (Linux), 0 once the process is gone. */
export function rssBytes(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Sum of a metric's samples (over its label sets) in a Prometheus text page, NaN when absent. */
export function metricSum(text: string, name: string): number {
  let sum = Number.NaN;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) {
      sum = (Number.isNaN(sum) ? 0 : sum) + Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return sum;
}

export async function metricsOf(url: string): Promise<string> {
  const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5_000) });
  return res.text();
}

export async function until(what: string, timeoutMs: number, probe: () => Promise<boolean>): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await probe().catch(() => false)) return Date.now() - started;
    if (Date.now() - started > timeoutMs)
      throw new Error(`soak: timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1_000));
  }
}

/** Runs `scripts/services <args>` (stop, start: which waits until the service is ready). */
export function services(...args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', [path.join(ROOT, 'scripts/services'), ...args], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`scripts/services ${args.join(' ')} exited ${code}`)),
    );
  });
}
