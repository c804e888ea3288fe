import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Alert } from '../../../src/schema/alert.ts';
import { concatenatedValues } from '../../../src/sources/json-sequence.ts';

// README's quick start, run as written (bash, npm start, sed, curl), with two substitutions only:
// `npm ci` is already done, and the fixed port 8080 becomes a free one (KLAXON_PORT), since unit
// tests must not take fixed ports.

const root = join(import.meta.dirname, '../../..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const quickStart = readme.slice(
  readme.indexOf('## Quick start'),
  readme.indexOf('\n## ', readme.indexOf('## Quick start') + 5),
);
const firstBlock = quickStart.match(/```sh\n([\s\S]*?)```/)?.[1] ?? '';
const scratch = mkdtempSync(join(tmpdir(), 'klaxon-quickstart-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

async function freePort(): Promise<number> {
  const s = createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as { port: number }).port;
  s.close();
  await once(s, 'close');
  return port;
}

describe('README quick start', () => {
  it('states the Node version package.json and the dependencies need', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      engines: { node: string };
      dependencies: Record<string, string>;
    };
    const floor = pkg.engines.node.match(/^>=(\d+\.\d+)$/)?.[1];
    expect(quickStart).toContain(`Node.js ${floor} or newer`);
    const [major, minor] = (floor ?? '').split('.').map(Number) as [number, number];
    // Every production dependency's own engines.node (as ">=X.Y[.Z]") is within the floor.
    for (const dep of Object.keys(pkg.dependencies)) {
      const engines = (
        JSON.parse(readFileSync(join(root, 'node_modules', dep, 'package.json'), 'utf8')) as {
          engines?: { node?: string };
        }
      ).engines?.node;
      const need = engines?.match(/^>=\s*(\d+)(?:\.(\d+))?/);
      if (!need) continue;
      const [nMajor, nMinor] = [Number(need[1]), Number(need[2] ?? 0)];
      expect(nMajor < major || (nMajor === major && nMinor <= minor), `${dep} needs node ${engines}`).toBe(
        true,
      );
    }
    expect(readFileSync(join(root, 'bin/klaxon.js'), 'utf8')).toContain(`minor >= ${minor}`);
  });

  it('runs as written: npm start, the token from its stderr, the sample posted, alerts on stdout', async () => {
    expect(firstBlock).toMatch(/^npm ci$/m);
    expect(firstBlock).toContain('http://127.0.0.1:8080/v1/audit');
    const port = await freePort();
    const script = `${firstBlock
      .replace(/^npm ci$/m, '')
      .replaceAll('127.0.0.1:8080', `127.0.0.1:${port}`)
      .replaceAll('serve.log', join(scratch, 'serve.log'))}
echo
kill -TERM %1
wait
`;
    const child = spawn('bash', ['-e', '-c', script], {
      cwd: root,
      // A new user's environment: no Klaxon settings but the port (empty = unset).
      env: {
        ...process.env,
        KLAXON_PORT: String(port),
        ...Object.fromEntries(
          [
            'KLAXON_CONFIG',
            'KLAXON_HOST',
            'KLAXON_TOKENS_FILE',
            'KAFKA_BROKERS',
            'ELASTICSEARCH_URL',
            'KLAXON_ALERTMANAGER_URL',
          ].map((name) => [name, '']),
        ),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code, stderr).toBe(0);
    // curl's answer and serve's alerts share the script's stdout (a pipe, so JSON lines): serve may write an
    // alert between curl's answer and its newline, so the output is read as a sequence of JSON values.
    const values = (concatenatedValues(stdout) ?? []).map((v) => v.value as Record<string, unknown>);
    const answer = values.find((v) => 'accepted' in v) as { accepted?: number } | undefined;
    expect(answer?.accepted).toBeGreaterThan(0);
    const alerts = values.filter((v) => !('accepted' in v)).map((v) => Alert.parse(v));
    expect(alerts.length).toBeGreaterThan(0);
    expect(new Set(alerts.map((a) => a.orchestrator?.cluster?.name))).toEqual(new Set(['local']));
  }, 120_000);
});
