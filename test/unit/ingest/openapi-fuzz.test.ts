// Issue 19, item 3: schemathesis (PyPI, built once by scripts/tools into .cache/tools) fuzzes a running
// `klaxon serve` — in-memory bus, every route type — against the description it serves at /openapi.json. For a
// bounded number of examples per operation: no 5xx, every status, content type, body and header as described.
// Two runs: the ingest and Firehose routes with their credentials, then the Pub/Sub push route with a token its
// source takes (both credentials travel in Authorization).
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { everyRouteSettings, FIREHOSE_KEY, INGEST_TOKEN } from '../../helpers/every-route.ts';
import { type Served, startServe } from '../../helpers/klaxon-process.ts';

const root = join(import.meta.dirname, '../../..');
/** Examples per operation and phase: enough to reach every answer, small enough for CI (about a minute). */
const EXAMPLES = '10';
const CHECKS = [
  'not_a_server_error',
  'status_code_conformance',
  'content_type_conformance',
  'response_schema_conformance',
  'response_headers_conformance',
].join(',');

function schemathesis(): string {
  const run = spawnSync('bash', [join(root, 'scripts/tools'), 'schemathesis'], {
    encoding: 'utf8',
    timeout: 900_000,
  });
  if (run.status !== 0) throw new Error(`scripts/tools could not build schemathesis:\n${run.stderr}`);
  return run.stdout.trim();
}

let served: Served | undefined;
let tool: string;
const every = everyRouteSettings();

beforeAll(async () => {
  tool = schemathesis();
  served = await startServe({ KLAXON_CONFIG: every.configFile });
}, 900_000);
afterAll(async () => {
  await served?.kill('SIGKILL');
});

function fuzz(headers: string[], select: string[]): { status: number | null; output: string } {
  const run = spawnSync(
    tool,
    [
      'run',
      `${served!.url}/openapi.json`,
      '--checks',
      CHECKS,
      '--max-examples',
      EXAMPLES,
      '--seed',
      '19',
      '--workers',
      '1',
      '--no-color',
      ...headers.flatMap((h) => ['--header', h]),
      ...select,
    ],
    // A directory of its own: schemathesis keeps a cache of past failures (and Hypothesis its examples) in the
    // working directory and replays them; each run starts from nothing and leaves nothing in the checkout.
    { encoding: 'utf8', timeout: 600_000, cwd: mkdtempSync(join(tmpdir(), 'klaxon-schemathesis-')) },
  );
  return { status: run.status, output: `${run.stdout}\n${run.stderr}` };
}

describe('schemathesis against klaxon serve', () => {
  it('finds no 5xx and no answer the description does not give, on every route but Pub/Sub push', {
    timeout: 600_000,
  }, () => {
    const run = fuzz(
      [`Authorization: Bearer ${INGEST_TOKEN}`, `X-Amz-Firehose-Access-Key: ${FIREHOSE_KEY}`],
      ['--exclude-path', '/v1/pubsub'],
    );
    expect(run.status, run.output).toBe(0);
    expect(run.output).toMatch(/Tested: 7\b/);
    expect(run.output).not.toMatch(/only 401\/403 responses/);
  });

  it('finds none on the Pub/Sub push route, with a token its source takes', {
    timeout: 600_000,
  }, async () => {
    const run = fuzz([`Authorization: Bearer ${await every.pushToken()}`], ['--include-path', '/v1/pubsub']);
    expect(run.status, run.output).toBe(0);
    expect(run.output).toMatch(/Tested: 1\b/);
    expect(run.output).not.toMatch(/only 401\/403 responses/);
  });
});
