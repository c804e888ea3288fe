import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The OCI image scripts/image builds (with buildah, no Docker daemon): its configuration, its
// contents, and the image run for real with `buildah run` (chroot isolation: no daemon, no runtime).

const root = join(import.meta.dirname, '../../..');
const scratch = mkdtempSync(join(tmpdir(), 'klaxon-image-'));
const storage = [
  '--root',
  join(scratch, 'storage'),
  '--runroot',
  join(scratch, 'run'),
  '--storage-driver',
  'vfs',
];
let archive = '';
let ref = '';
let container = '';

function sh(cmd: string, args: string[], timeout = 600_000) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd: root, timeout, maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw r.error;
  return r;
}

beforeAll(() => {
  const build = sh('bash', [join(root, 'scripts/image'), 'build'], 900_000);
  if (build.status !== 0) throw new Error(`scripts/image build failed:\n${build.stderr}`);
  archive = build.stdout.trim();
  ref = sh('bash', [join(root, 'scripts/image'), 'ref']).stdout.trim();
  const from = sh('buildah', [...storage, 'from', '--quiet', `oci-archive:${archive}`]);
  if (from.status !== 0) throw new Error(`buildah from failed:\n${from.stderr}`);
  container = from.stdout.trim().split('\n').pop() ?? '';
}, 900_000);

afterAll(() => {
  if (container) sh('buildah', [...storage, 'rm', container]);
  rmSync(scratch, { recursive: true, force: true });
}, 120_000);

/** Runs a command in the image as its configuration says (user, working directory, environment). */
function runInImage(...args: string[]) {
  return sh('buildah', [...storage, 'run', '--isolation', 'chroot', container, '--', ...args]);
}

// Each check runs Klaxon in the image (loading the whole catalogue, or running every rule's tests): seconds each.
describe('the image scripts/image builds', { timeout: 120_000 }, () => {
  it('is an OCI archive named as the manifests and the chart reference it', () => {
    const index = JSON.parse(sh('tar', ['-xOf', archive, 'index.json']).stdout) as {
      manifests: { annotations: Record<string, string> }[];
    };
    expect(index.manifests).toHaveLength(1);
    expect(index.manifests[0]?.annotations['org.opencontainers.image.ref.name']).toBe(ref);
    const kustomization = readFileSync(join(root, 'deploy/kubernetes/kustomization.yaml'), 'utf8');
    const [name, tag] = ref.split(/:(?=[^:]+$)/);
    expect(kustomization).toContain(`newName: ${name}`);
    expect(kustomization).toContain(`newTag: ${tag}`);
  });

  it('runs Klaxon as a non-root user, from /app, listening on every interface of the container', () => {
    const inspect = sh('buildah', [...storage, 'inspect', '--type', 'container', container]);
    const config = (JSON.parse(inspect.stdout) as { OCIv1: { config: Record<string, unknown> } }).OCIv1
      .config;
    expect(config.User).toBe('10001:10001');
    expect(config.WorkingDir).toBe('/app');
    expect(config.Entrypoint).toEqual(['node', 'bin/klaxon.js']);
    expect(config.Cmd).toEqual(['serve']);
    expect(config.Env).toEqual(
      expect.arrayContaining([
        'KLAXON_HOST=0.0.0.0',
        'KLAXON_SPOOL_DIR=/var/lib/klaxon/spool',
        'NODE_ENV=production',
      ]),
    );
    expect(Object.keys(config.Volumes as object)).toEqual(['/var/lib/klaxon']);
  });

  it('runs: the rules load and pass their own tests, as UID 10001', () => {
    const who = runInImage('node', '-e', 'console.log(process.getuid(), process.cwd())');
    expect(who.stdout.trim(), who.stderr).toBe('10001 /app');
    const rules = runInImage('node', 'bin/klaxon.js', 'rules', 'test');
    expect(rules.status, rules.stdout.slice(-2000) + rules.stderr).toBe(0);
  });

  it("carries Klaxon's fixes of its dependencies (patches/), applied at build", () => {
    const probe = runInImage(
      'node',
      '-e',
      `const fs = require('node:fs');
       const q = fs.readFileSync('node_modules/kafkajs/src/network/requestQueue/index.js', 'utf8');
       console.log(q.includes('Klaxon patch') ? 'patched' : 'unpatched');`,
    );
    expect(probe.stdout.trim(), probe.stderr).toBe('patched');
  });

  it('lets the runtime user write the spool and nothing of the application', () => {
    const probe = runInImage(
      'node',
      '-e',
      `const fs = require('node:fs');
       fs.writeFileSync('/var/lib/klaxon/spool/probe', 'x');
       let appWritable = true;
       try { fs.writeFileSync('/app/src/probe', 'x'); } catch { appWritable = false; }
       console.log(appWritable ? 'app writable' : 'ok');`,
    );
    expect(probe.stdout.trim(), probe.stderr).toBe('ok');
  });

  it('refuses, in one line, to open to the network without credentials', () => {
    const serve = runInImage('node', 'bin/klaxon.js', 'serve', '--port', '0');
    expect(serve.status).not.toBe(0);
    // buildah adds its own lines about the exit status (2) after Klaxon's.
    expect(serve.stderr).toContain('subprocess exited with status 2');
    const klaxon = serve.stderr.split('\n').filter((l) => !/exit(ed with)? status/.test(l) && l !== '');
    expect(klaxon).toEqual([
      'klaxon serve: refusing to listen on 0.0.0.0 without authentication: set KLAXON_TOKENS_FILE or mTLS (KLAXON_TLS_CA + KLAXON_TLS_CLIENTS)',
    ]);
  });
});
