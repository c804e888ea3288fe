import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const root = join(import.meta.dirname, '../../..');
const composePath = join(root, 'docker-compose.yml');

type Service = {
  image?: string;
  build?: unknown;
  read_only?: boolean;
  volumes?: string[];
  environment?: Record<string, string>;
  command?: string[];
};
const compose = parse(readFileSync(composePath, 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
};

describe('docker-compose.yml', () => {
  it('is valid for docker-compose (needs the Debian package docker-compose)', () => {
    const run = spawnSync('docker-compose', ['-f', composePath, 'config', '-q'], {
      cwd: root,
      encoding: 'utf8',
    });
    if (run.error) {
      throw new Error(
        `docker-compose is not installed (${run.error.message}); install it with: apt-get install -y docker-compose`,
      );
    }
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
  });

  it('has the whole stack', () => {
    expect(Object.keys(compose.services)).toEqual(
      expect.arrayContaining([
        'kafka',
        'elasticsearch',
        'prometheus',
        'alertmanager',
        'grafana',
        'klaxon-ingest',
        'klaxon-detect',
        'klaxon-samples',
      ]),
    );
  });

  it('pins every upstream image to a version', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      if (service.build) continue;
      expect(service.image, name).toMatch(/^[\w./-]+:v?\d+\.\d+\.\d+$/);
    }
  });

  it('runs Klaxon read-only with the spool on a volume and the tokens file mounted', () => {
    const ingest = compose.services['klaxon-ingest'];
    const detect = compose.services['klaxon-detect'];
    expect(ingest?.read_only).toBe(true);
    expect(detect?.read_only).toBe(true);
    expect(ingest?.volumes).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/:\/var\/lib\/klaxon$/),
        expect.stringMatching(/tokens\.yaml:ro$/),
      ]),
    );
    expect(ingest?.command).toEqual(['ingest', '--port', '8080']);
    expect(detect?.command).toEqual(['detect', '--port', '8081']);
  });

  it('gives Kafka a KRaft cluster id Kafka accepts: a UUID in URL-safe base64 without padding', () => {
    const id = compose.services.kafka?.environment?.CLUSTER_ID ?? '';
    expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    const bytes = Buffer.from(id, 'base64url');
    expect(bytes).toHaveLength(16);
    expect(bytes.toString('base64url')).toBe(id);
  });

  it('points the samples service at a token the ingest tokens file knows', () => {
    const tokens = parse(readFileSync(join(root, 'deploy/compose/tokens.yaml'), 'utf8')) as Record<
      string,
      string
    >;
    const token = compose.services['klaxon-samples']?.environment?.KLAXON_TOKEN;
    expect(Object.values(tokens)).toContain(token);
  });
});

describe('Dockerfile', () => {
  const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
  const instructions = dockerfile
    .split('\n')
    .filter((line) => /^[A-Z]+\s/.test(line))
    .map((line) => line.split(/\s+/)[0]);

  it('is multi-stage on a pinned Node 24 base', () => {
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:24\.\d+\.\d+-\w+-slim$/m);
    expect(dockerfile.match(/^FROM /gm)?.length).toBeGreaterThanOrEqual(2);
    expect(dockerfile).toContain('npm ci --omit=dev');
  });

  it('switches to a numeric non-root user before the entrypoint', () => {
    const user = dockerfile.match(/^USER (\d+)(?::(\d+))?$/m);
    expect(Number(user?.[1])).toBeGreaterThan(0);
    expect(instructions.lastIndexOf('USER')).toBeLessThan(instructions.lastIndexOf('ENTRYPOINT'));
  });

  it('has a HEALTHCHECK and the klaxon entrypoint', () => {
    expect(instructions).toContain('HEALTHCHECK');
    expect(dockerfile).toContain('CMD ["node", "bin/healthcheck.js"]');
    expect(dockerfile).toContain('ENTRYPOINT ["node", "bin/klaxon.js"]');
  });

  it('listens on every interface of the container, so `docker run -p 8080:8080` reaches it', () => {
    expect(dockerfile).toMatch(/^\s+KLAXON_HOST=0\.0\.0\.0$/m);
    expect(dockerfile).toMatch(/^CMD \["serve"\]$/m);
  });
});
