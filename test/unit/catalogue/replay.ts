import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { runReplay } from '../../../src/cli/replay.ts';
import { type Alert, Level } from '../../../src/schema/alert.ts';

export const ROOT = join(import.meta.dirname, '../../..');
export const DETECTIONS = join(ROOT, 'detections');
export const CATALOGUE_FIXTURES = join(ROOT, 'test/fixtures/catalogue');

export interface ReplayResult {
  code: number;
  alerts: Alert[];
  stderr: string;
}

/** Replays files through the catalogue the way `klaxon replay --rules detections` does, in-process. */
export async function replay(
  paths: string[],
  placeholders?: Record<string, string[]>,
): Promise<ReplayResult> {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (c: Buffer) => {
    stdout += c.toString();
  });
  err.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const code = await runReplay(
    paths,
    { rules: [DETECTIONS], cluster: 'test', minLevel: 'informational', stream: false, placeholders },
    out,
    err,
  );
  const alerts = stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Alert);
  return { code, alerts, stderr };
}

const ORDER = Level.options;

export function atLeast(level: Level, min: Level): boolean {
  return ORDER.indexOf(level) >= ORDER.indexOf(min);
}

/** The highest level each rule reached. */
export function levelsByRule(alerts: Alert[]): Map<string, Level> {
  const out = new Map<string, Level>();
  for (const a of alerts) {
    const prev = out.get(a.rule.name);
    if (!prev || atLeast(a.klaxon.severity, prev)) out.set(a.rule.name, a.klaxon.severity);
  }
  return out;
}

/** Runs the real CLI (for exit codes and stderr). */
export function cli(args: string[]) {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin/klaxon.js'), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
