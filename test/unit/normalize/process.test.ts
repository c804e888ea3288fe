import { describe, expect, it } from 'vitest';
import { normalizeAudit } from '../../../src/normalize/audit.ts';
import { eventProcesses, MAX_PROCESSES, processFields } from '../../../src/normalize/process.ts';
import { REDACTED } from '../../../src/normalize/redact.ts';

const ctx = { cluster: 'prod-eu' };

function auditEvent(overrides: Record<string, unknown>): Record<string, unknown> {
  return {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'Metadata',
    auditID: '9c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e5f',
    stage: 'ResponseStarted',
    verb: 'create',
    user: { username: 'alice@example.com', groups: ['developers', 'system:authenticated'] },
    sourceIPs: ['198.51.100.23'],
    userAgent: 'kubectl/v1.30.2 (linux/amd64) kubernetes/3968350',
    responseStatus: { metadata: {}, code: 101 },
    requestReceivedTimestamp: '2024-06-11T09:00:00.000000Z',
    stageTimestamp: '2024-06-11T09:00:00.031000Z',
    annotations: { 'authorization.k8s.io/decision': 'allow', 'authorization.k8s.io/reason': '' },
    ...overrides,
  };
}

function normalized(raw: unknown) {
  const r = normalizeAudit(raw, ctx);
  if (!r.ok) throw new Error(r.reason);
  return r.event;
}

const execRef = {
  resource: 'pods',
  namespace: 'shop',
  name: 'web-7d9f8c6b5-x2x4q',
  apiVersion: 'v1',
  subresource: 'exec',
};

describe('process fields', () => {
  it('an exec: repeated command= parameters, URL-decoded, in order, with the container', () => {
    const e = normalized(
      auditEvent({
        requestURI:
          '/api/v1/namespaces/shop/pods/web-7d9f8c6b5-x2x4q/exec?command=%2Fbin%2Fsh&command=-c&command=ls+-la+%2Fapp+%7C+head&container=web&stderr=true&stdout=true',
        objectRef: execRef,
      }),
    );
    expect(e.process).toEqual({
      name: 'sh',
      executable: '/bin/sh',
      args: ['/bin/sh', '-c', 'ls -la /app | head'],
      args_count: 3,
      command_line: '/bin/sh -c ls -la /app | head',
    });
    expect(e.container).toEqual({ name: 'web' });
    expect(e.klaxon?.processes).toEqual([{ ...e.process, container: { name: 'web' } }]);
  });

  it('an attach names the container but starts no process; an exec without command= has none either', () => {
    const attach = normalized(
      auditEvent({
        requestURI: '/api/v1/namespaces/shop/pods/web/attach?container=web&stdin=true&stdout=true&tty=true',
        objectRef: { ...execRef, subresource: 'attach' },
      }),
    );
    expect(attach.container).toEqual({ name: 'web' });
    expect(attach.process).toBeUndefined();
    const bare = normalized(
      auditEvent({ requestURI: '/api/v1/namespaces/shop/pods/web/exec', objectRef: execRef }),
    );
    expect(bare.process).toBeUndefined();
    expect(bare.container).toBeUndefined();
  });

  it('a secret in an exec command is redacted in process.*, klaxon.processes and requestURI alike', () => {
    const e = normalized(
      auditEvent({
        requestURI:
          '/api/v1/namespaces/shop/pods/web/exec?command=sh&command=-c&command=mysql+-uroot+-pS3cretPass+shop&container=web&stdout=true',
        objectRef: execRef,
      }),
    );
    expect(e.process?.command_line).toBe(`sh -c mysql -uroot -p${REDACTED} shop`);
    expect(JSON.stringify(e)).not.toContain('S3cretPass');
    expect(e.klaxon?.redacted).toContain('/requestURI');
  });

  it('a pod spec: every container with a command or args, containers first, then init, then ephemeral', () => {
    const e = normalized(
      auditEvent({
        stage: 'ResponseComplete',
        level: 'RequestResponse',
        requestURI: '/api/v1/namespaces/shop/pods',
        objectRef: { resource: 'pods', namespace: 'shop', name: 'cart', apiVersion: 'v1' },
        responseStatus: { metadata: {}, code: 201 },
        requestObject: {
          kind: 'Pod',
          spec: {
            initContainers: [{ name: 'migrate', image: 'cart:2', command: ['/app/migrate'], args: ['--up'] }],
            containers: [
              { name: 'cart', image: 'cart:2' },
              { name: 'proxy', image: 'envoy:1.30', args: ['-c', '/etc/envoy/envoy.yaml'] },
              { name: 'shell', image: 'alpine:3.20', args: ['sh', '-c', 'sleep 3600'] },
            ],
          },
        },
      }),
    );
    expect(e.klaxon?.processes?.map((p) => [p.container.name, p.name, p.command_line])).toEqual([
      ['proxy', undefined, '-c /etc/envoy/envoy.yaml'],
      ['shell', 'sh', 'sh -c sleep 3600'],
      ['migrate', 'migrate', '/app/migrate --up'],
    ]);
    expect(e.process?.command_line).toBe('-c /etc/envoy/envoy.yaml');
    expect(e.container).toEqual({ image: { name: 'cart:2' } });
  });

  it('workload templates and CronJobs are read too; reads of a pod spec and status writes are not', () => {
    const spec = { containers: [{ name: 'w', image: 'alpine', command: ['sh', '-c', 'echo hi'] }] };
    const cron = eventProcesses({
      verb: 'create',
      objectRef: { resource: 'cronjobs' },
      requestObject: { spec: { jobTemplate: { spec: { template: { spec } } } } },
    });
    expect(cron.process?.command_line).toBe('sh -c echo hi');
    const deploy = eventProcesses({
      verb: 'patch',
      objectRef: { resource: 'deployments' },
      requestObject: { spec: { template: { spec } } },
    });
    expect(deploy.processes).toHaveLength(1);
    expect(
      eventProcesses({ verb: 'get', objectRef: { resource: 'pods' }, responseObject: { spec } }),
    ).toEqual({});
    expect(
      eventProcesses({
        verb: 'patch',
        objectRef: { resource: 'pods', subresource: 'status' },
        requestObject: { spec },
      }),
    ).toEqual({});
  });

  it('kubectl debug: the new (last) ephemeral container is the process, its name and image the container', () => {
    const out = eventProcesses({
      verb: 'patch',
      objectRef: { resource: 'pods', subresource: 'ephemeralcontainers' },
      requestObject: {
        spec: {
          ephemeralContainers: [
            { name: 'debugger-old', image: 'busybox:1.36' },
            { name: 'debugger-k2x9p', image: 'nicolaka/netshoot:v0.13', command: ['tcpdump', '-i', 'any'] },
          ],
        },
      },
    });
    expect(out.container).toEqual({ name: 'debugger-k2x9p', image: 'nicolaka/netshoot:v0.13' });
    expect(out.process?.command_line).toBe('tcpdump -i any');
  });

  it('lists at most MAX_PROCESSES processes of one pod spec', () => {
    const containers = Array.from({ length: MAX_PROCESSES + 10 }, (_, i) => ({
      name: `c${i}`,
      command: ['true'],
    }));
    const out = eventProcesses({
      verb: 'create',
      objectRef: { resource: 'pods' },
      requestObject: { spec: { containers } },
    });
    expect(out.processes).toHaveLength(MAX_PROCESSES);
  });

  it('names the program only when args[0] is one', () => {
    expect(processFields(['--port=8080'], false).name).toBeUndefined();
    expect(processFields(['nginx', '-g', 'daemon off;'], false).name).toBe('nginx');
    expect(processFields(['/usr/local/bin/'], true).name).toBe('bin');
  });
});

describe('secrets in pod specs', () => {
  it('command, args, probes and env values named like secrets are redacted in the stored audit event', () => {
    const e = normalized(
      auditEvent({
        stage: 'ResponseComplete',
        level: 'RequestResponse',
        requestURI: '/apis/apps/v1/namespaces/shop/deployments',
        objectRef: {
          resource: 'deployments',
          namespace: 'shop',
          name: 'cart',
          apiGroup: 'apps',
          apiVersion: 'v1',
        },
        responseStatus: { metadata: {}, code: 201 },
        requestObject: {
          kind: 'Deployment',
          spec: {
            template: {
              spec: {
                containers: [
                  {
                    name: 'cart',
                    image: 'cart:2',
                    command: ['/app/cart', '--db-password', 'Pl41nT3xt!', '--api-key=K3yV4lu3'],
                    env: [
                      { name: 'DB_PASSWORD', value: 'EnvS3cret' },
                      { name: 'DB_HOST', value: 'postgres.data.svc' },
                      { name: 'API_TOKEN', valueFrom: { secretKeyRef: { name: 'cart', key: 'token' } } },
                    ],
                    livenessProbe: { exec: { command: ['sh', '-c', 'redis-cli -a Pr0beS3cret ping'] } },
                  },
                ],
              },
            },
          },
        },
      }),
    );
    const text = JSON.stringify(e);
    for (const secret of ['Pl41nT3xt!', 'K3yV4lu3', 'EnvS3cret', 'Pr0beS3cret'])
      expect(text).not.toContain(secret);
    expect(text).toContain('postgres.data.svc');
    expect(text).toContain('secretKeyRef');
    expect(e.klaxon?.redacted).toEqual(
      expect.arrayContaining([
        '/requestObject/spec/template/spec/containers/0/command/2',
        '/requestObject/spec/template/spec/containers/0/command/3',
        '/requestObject/spec/template/spec/containers/0/env/0/value',
        '/requestObject/spec/template/spec/containers/0/livenessProbe/exec/command/2',
      ]),
    );
    expect(e.process?.args).toEqual(['/app/cart', '--db-password', REDACTED, `--api-key=${REDACTED}`]);
  });

  it('a JSON patch of a container command or env entry is redacted too', () => {
    const e = normalized(
      auditEvent({
        stage: 'ResponseComplete',
        level: 'Request',
        verb: 'patch',
        requestURI: '/apis/apps/v1/namespaces/shop/deployments/cart',
        objectRef: {
          resource: 'deployments',
          namespace: 'shop',
          name: 'cart',
          apiGroup: 'apps',
          apiVersion: 'v1',
        },
        responseStatus: { metadata: {}, code: 200 },
        requestObject: [
          { op: 'replace', path: '/spec/template/spec/containers/0/args', value: ['--token', 'Tok3nV4lue'] },
          { op: 'add', path: '/spec/template/spec/containers/0/command/2', value: 'mysql -pGlu3dP4ss' },
          {
            op: 'add',
            path: '/spec/template/spec/containers/0/env/-',
            value: { name: 'SECRET_KEY', value: 'Env4dd3d' },
          },
        ],
      }),
    );
    const text = JSON.stringify(e);
    for (const secret of ['Tok3nV4lue', 'Glu3dP4ss', 'Env4dd3d']) expect(text).not.toContain(secret);
  });

  it('no secret of any supported form survives an exec URI or a pod spec (randomised)', () => {
    let seed = 7;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    const forms = [
      (s: string) => ['mysql', '-uroot', `-p${s}`],
      (s: string) => ['sh', '-c', `export PGPASSWORD=${s}; psql -h db`],
      (s: string) => ['curl', '-H', `Authorization: Bearer ${s}`, 'https://api.example.com'],
      (s: string) => ['sh', '-c', `curl -H 'X-Api-Key: ${s}' https://api`],
      (s: string) => ['app', '--client-secret', s],
      (s: string) => ['app', `--password=${s}`],
      (s: string) => ['sh', '-c', `AWS_SECRET_ACCESS_KEY=${s} aws s3 ls`],
      (s: string) => ['curl', `https://svc:${s}@registry.example.com/v2/`],
      (s: string) => ['curl', `https://example.com/download?token=${s}&x=1`],
      (s: string) => ['redis-cli', '-a', s, 'ping'],
      (s: string) => ['sshpass', '-p', s, 'ssh', 'root@10.0.0.5'],
    ];
    for (let i = 0; i < 200; i++) {
      const secret = `Zq${Math.floor(rnd() * 1e12).toString(36)}X${i}`;
      const argv = forms[i % forms.length]!(secret);
      const q = new URLSearchParams();
      for (const a of argv) q.append('command', a);
      q.append('container', 'app');
      const exec = normalized(
        auditEvent({
          requestURI: `/api/v1/namespaces/shop/pods/web/exec?${q.toString()}`,
          objectRef: execRef,
        }),
      );
      expect(JSON.stringify(exec), argv.join(' ')).not.toContain(secret);
      const pod = normalized(
        auditEvent({
          stage: 'ResponseComplete',
          level: 'RequestResponse',
          requestURI: '/api/v1/namespaces/shop/pods',
          objectRef: { resource: 'pods', namespace: 'shop', name: 'p', apiVersion: 'v1' },
          requestObject: { kind: 'Pod', spec: { containers: [{ name: 'app', image: 'app:1', args: argv }] } },
          responseObject: {
            kind: 'Pod',
            spec: { containers: [{ name: 'app', image: 'app:1', args: argv }] },
          },
        }),
      );
      expect(JSON.stringify(pod), argv.join(' ')).not.toContain(secret);
    }
  });
});
