// No secret and no token in any log line or output: `klaxon serve` and `klaxon ingest` run with
// trace logging, receive Secrets in every shape the API server logs them (and a broken body
// carrying one), are called with the right token and with wrong ones; then everything they
// wrote is searched for the values.
import { afterAll, describe, expect, it } from 'vitest';
import { type Klaxon, LISTENING_URL, spawnKlaxon, waitForStderr } from '../helpers/klaxon-process.ts';
import {
  LAST_APPLIED,
  secretCreate,
  secretForms,
  secretJsonPatch,
  secretList,
  secretMergePatch,
  secretTable,
} from '../unit/normalize/secret-events.ts';
import { isolatedEnv, TOKEN } from './fault-processes.ts';

const procs: Klaxon[] = [];
afterAll(async () => {
  await Promise.all(procs.map((p) => p.kill('SIGKILL')));
});

const builders = { secretCreate, secretJsonPatch, secretMergePatch, secretList, secretTable };
const WRONG_TOKEN = 'wrong-token-that-must-not-be-logged-41c7-zq';

async function exercise(
  command: 'serve' | 'ingest',
  env: Record<string, string>,
): Promise<{ output: string; secrets: string[] }> {
  const proc = spawnKlaxon([command], { ...env, KLAXON_LOG_LEVEL: 'trace' });
  procs.push(proc);
  const url = await waitForStderr(proc, LISTENING_URL);
  const secrets: string[] = [];
  const post = (body: string, token = TOKEN, path = '/v1/audit') =>
    fetch(`${url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body,
    });
  for (const [name, build] of Object.entries(builders)) {
    const value = `${command}-${name}-Sup3r-S3cret-${crypto.randomUUID()}`;
    secrets.push(value);
    const event = build('password', value);
    expect((await post(JSON.stringify([event]))).status).toBe(200);
  }
  const annotated = `${command}-last-applied-S3cret-${crypto.randomUUID()}`;
  secrets.push(annotated);
  const event = secretCreate('token', 'x');
  (event as { annotations: Record<string, string> }).annotations[LAST_APPLIED] = JSON.stringify({
    kind: 'Secret',
    stringData: { token: annotated },
  });
  expect((await post(JSON.stringify([event]))).status).toBe(200);
  const broken = `${command}-broken-body-S3cret-${crypto.randomUUID()}`;
  secrets.push(broken);
  expect((await post(`[{"kind":"Event","requestObject":{"stringData":{"p":"${broken}"`)).status).toBe(400);
  expect((await post(JSON.stringify([secretCreate('password', 'y')]), WRONG_TOKEN)).status).toBe(401);
  expect((await post('{}', `${WRONG_TOKEN} extra`, '/v1/falco')).status).toBe(401);
  expect(await proc.kill('SIGTERM')).toBe(0);
  return { output: proc.stdout() + proc.stderr(), secrets };
}

function leaks(output: string, secrets: string[]): string[] {
  const found: string[] = [];
  for (const s of [TOKEN, WRONG_TOKEN, ...secrets]) {
    for (const form of secretForms(s)) if (output.includes(form)) found.push(form);
  }
  return found;
}

describe('no secret or token in the logs', () => {
  it('klaxon serve (in-memory bus, alerts on stdout) with trace logging', { timeout: 120_000 }, async () => {
    const env = isolatedEnv('logs-serve');
    for (const name of ['KAFKA_BROKERS', 'ELASTICSEARCH_URL', 'KLAXON_ALERTMANAGER_URL']) env[name] = '';
    const { output, secrets } = await exercise('serve', env);
    // The run did log (trace level, requests handled) and did raise alerts: the search is not vacuous.
    expect(output.length).toBeGreaterThan(1000);
    expect(output).toContain('"rule":{');
    expect(leaks(output, secrets)).toEqual([]);
  });

  it('klaxon ingest (Kafka, spool) with trace logging', { timeout: 120_000 }, async () => {
    const { output, secrets } = await exercise('ingest', isolatedEnv('logs-ingest'));
    // Its whole log was captured, start to shutdown (ingest logs no line per request, even at trace level).
    expect(output).toContain('klaxon ingest listening');
    expect(output).toContain('shutting down');
    expect(leaks(output, secrets)).toEqual([]);
  });
});
