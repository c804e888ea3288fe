import { describe, expect, it } from 'vitest';
import { loadRules } from '../../../src/detect/index.ts';
import { DETECTIONS, levelsByRule, replay } from '../catalogue/replay.ts';
import {
  audit,
  container,
  controller,
  firedRules,
  type Json,
  podSpec,
  T0,
  user,
  uuid,
  workload,
  writeJsonl,
} from './k8s.ts';

const mallory = user('mallory@example.com', '203.0.113.45');
const IMAGE = 'docker.io/library/alpine:3.19';

interface Setting {
  rule: string;
  container: Json;
  pod: Json;
}
const SETTINGS: Record<string, Setting> = {
  privileged: {
    rule: 'k8s-privileged-container',
    container: { securityContext: { privileged: true } },
    pod: {},
  },
  hostPID: { rule: 'k8s-host-namespace', container: {}, pod: { hostPID: true } },
  'hostPath /': {
    rule: 'k8s-sensitive-hostpath',
    container: { volumeMounts: [{ name: 'host', mountPath: '/host' }] },
    pod: { volumes: [{ name: 'host', hostPath: { path: '/', type: '' } }] },
  },
  'containerd socket': {
    rule: 'k8s-sensitive-hostpath',
    container: { volumeMounts: [{ name: 'sock', mountPath: '/run/containerd/containerd.sock' }] },
    pod: {
      volumes: [{ name: 'sock', hostPath: { path: '/var/run/containerd/containerd.sock', type: 'Socket' } }],
    },
  },
  SYS_ADMIN: {
    rule: 'k8s-dangerous-capabilities',
    container: { securityContext: { capabilities: { add: ['SYS_ADMIN'] } } },
    pod: {},
  },
};
const KINDS: Record<string, string> = {
  Deployment: 'deployments',
  DaemonSet: 'daemonsets',
  CronJob: 'cronjobs',
  Job: 'jobs',
  StatefulSet: 'statefulsets',
};
const templatePath = (kind: string) =>
  kind === 'CronJob' ? '/spec/jobTemplate/spec/template/spec' : '/spec/template/spec';
const wrapTemplate = (kind: string, spec: Json): Json =>
  kind === 'CronJob'
    ? { spec: { jobTemplate: { spec: { template: { spec } } } } }
    : { spec: { template: { spec } } };

async function fired(events: Json[]): Promise<Set<string>> {
  const { alerts } = await replay([writeJsonl('trace.jsonl', events)]);
  return new Set(levelsByRule(alerts).keys());
}

interface Case {
  title: string;
  rule: string;
  event: Json;
}

/** Every kind × setting × place × way of writing it (create, update, server-side apply, strategic merge patch, JSON patch). */
function cases(): Case[] {
  const out: Case[] = [];
  for (const [kind, resource] of Object.entries(KINDS))
    for (const [name, s] of Object.entries(SETTINGS))
      for (const where of ['containers', 'initContainers'] as const) {
        const special = container('helper', IMAGE, undefined, s.container);
        const app = container('app', 'ghcr.io/acme/app:1.2.3');
        const spec =
          where === 'containers'
            ? podSpec([app, special], s.pod)
            : podSpec([app], { ...s.pod, initContainers: [special] });
        const ref = { resource, namespace: 'shop', name: 'x' };
        const body = workload(kind, 'x', 'shop', spec);
        const t = `${kind} ${name} in ${where}`;
        out.push(
          {
            title: `${t}, created`,
            rule: s.rule,
            event: audit({
              at: T0,
              actor: mallory,
              verb: 'create',
              ref: { resource, namespace: 'shop' },
              query: 'fieldManager=kubectl-client-side-apply&fieldValidation=Strict',
              requestObject: body,
            }),
          },
          {
            title: `${t}, replaced`,
            rule: s.rule,
            event: audit({
              at: T0,
              actor: mallory,
              verb: 'update',
              ref,
              query: 'fieldManager=kubectl-edit',
              requestObject: body,
            }),
          },
          {
            title: `${t}, server-side applied`,
            rule: s.rule,
            event: audit({
              at: T0,
              actor: mallory,
              verb: 'patch',
              ref,
              query: 'fieldManager=kubectl&fieldValidation=Strict&force=false',
              requestObject: body,
            }),
          },
          {
            title: `${t}, strategic merge patch`,
            rule: s.rule,
            event: audit({
              at: T0,
              actor: mallory,
              verb: 'patch',
              ref,
              query: 'fieldManager=kubectl-patch',
              requestObject: wrapTemplate(kind, {
                ...s.pod,
                [`$setElementOrder/${where}`]: [{ name: 'helper' }],
                [where]: [{ name: 'helper', image: IMAGE, ...s.container }],
              }),
            }),
          },
        );
      }
  for (const [kind, resource] of Object.entries(KINDS)) {
    const p = templatePath(kind);
    const patches: [string, string, Json[]][] = [
      [
        'privileged securityContext added',
        'k8s-privileged-container',
        [{ op: 'add', path: `${p}/containers/0/securityContext`, value: { privileged: true } }],
      ],
      [
        'privileged flag replaced',
        'k8s-privileged-container',
        [{ op: 'replace', path: `${p}/containers/0/securityContext/privileged`, value: true }],
      ],
      [
        'privileged init container list added',
        'k8s-privileged-container',
        [
          {
            op: 'add',
            path: `${p}/initContainers`,
            value: [{ name: 'h', image: IMAGE, securityContext: { privileged: true } }],
          },
        ],
      ],
      [
        'whole pod spec replaced',
        'k8s-privileged-container',
        [{ op: 'replace', path: p, value: podSpec([container('h', IMAGE, { privileged: true })]) }],
      ],
      ['hostPID added', 'k8s-host-namespace', [{ op: 'add', path: `${p}/hostPID`, value: true }]],
      [
        'hostPath volume added',
        'k8s-sensitive-hostpath',
        [{ op: 'add', path: `${p}/volumes/-`, value: { name: 'h', hostPath: { path: '/' } } }],
      ],
      [
        'hostPath path replaced',
        'k8s-sensitive-hostpath',
        [
          {
            op: 'replace',
            path: `${p}/volumes/0/hostPath/path`,
            value: '/var/run/containerd/containerd.sock',
          },
        ],
      ],
      [
        'hostPath replaced',
        'k8s-sensitive-hostpath',
        [{ op: 'replace', path: `${p}/volumes/0/hostPath`, value: { path: '/etc/kubernetes' } }],
      ],
      [
        'SYS_ADMIN added',
        'k8s-dangerous-capabilities',
        [{ op: 'add', path: `${p}/containers/0/securityContext/capabilities/add/-`, value: 'SYS_ADMIN' }],
      ],
    ];
    for (const [title, rule, body] of patches)
      out.push({
        title: `${kind} JSON patch: ${title}`,
        rule,
        event: audit({
          at: T0,
          actor: mallory,
          verb: 'patch',
          ref: { resource, namespace: 'shop', name: 'x' },
          query: 'fieldManager=kubectl-patch',
          requestObject: body,
        }),
      });
  }
  return out;
}

/** Scenario d: escalation through workload templates, and the objects the controllers make from them. */
describe('escalation through workload templates', { timeout: 120_000 }, () => {
  it('every kind, setting, place and way of writing it fires its rule', () => {
    const { ruleset } = loadRules([DETECTIONS]);
    const all = cases();
    expect(all.length).toBeGreaterThan(200);
    const missed: string[] = [];
    for (const c of all)
      if (!firedRules(ruleset, [c.event]).has(c.rule)) missed.push(`${c.title} → ${c.rule}`);
    expect(missed).toEqual([]);
  });

  const hostile = podSpec([container('app', IMAGE, { privileged: true })], {
    hostPID: true,
    volumes: [{ name: 'h', hostPath: { path: '/' } }],
  });
  const made: [string, string, string, Json][] = [
    [
      'the deployment-controller ReplicaSet',
      'deployment-controller',
      'replicasets',
      {
        kind: 'ReplicaSet',
        apiVersion: 'apps/v1',
        metadata: {
          name: 'x-7d9f8c6b5',
          namespace: 'shop',
          ownerReferences: [
            { apiVersion: 'apps/v1', kind: 'Deployment', name: 'x', controller: true, uid: uuid('d') },
          ],
        },
        spec: { replicas: 2, template: { spec: hostile } },
      },
    ],
    [
      'the replicaset-controller Pod',
      'replicaset-controller',
      'pods',
      {
        kind: 'Pod',
        apiVersion: 'v1',
        metadata: { generateName: 'x-7d9f8c6b5-', namespace: 'shop' },
        spec: hostile,
      },
    ],
    [
      'the daemon-set-controller Pod',
      'daemon-set-controller',
      'pods',
      { kind: 'Pod', apiVersion: 'v1', metadata: { generateName: 'x-', namespace: 'shop' }, spec: hostile },
    ],
    [
      'the job-controller Pod',
      'job-controller',
      'pods',
      {
        kind: 'Pod',
        apiVersion: 'v1',
        metadata: { generateName: 'x-28634720-', namespace: 'shop' },
        spec: hostile,
      },
    ],
    [
      'the cronjob-controller Job',
      'cronjob-controller',
      'jobs',
      {
        kind: 'Job',
        apiVersion: 'batch/v1',
        metadata: { name: 'x-28634720', namespace: 'shop' },
        spec: { template: { spec: hostile } },
      },
    ],
    [
      'the statefulset-controller Pod',
      'statefulset-controller',
      'pods',
      { kind: 'Pod', apiVersion: 'v1', metadata: { name: 'x-0', namespace: 'shop' }, spec: hostile },
    ],
  ];
  it.each(made)(
    '%s fires the pod-content rules too (controller identities are not allow-listed)',
    async (_t, ctl, resource, body) => {
      const rules = await fired([
        audit({
          at: T0,
          actor: controller(ctl),
          verb: 'create',
          ref: { resource, namespace: 'shop' },
          requestObject: body,
        }),
      ]);
      for (const rule of ['k8s-privileged-container', 'k8s-host-namespace', 'k8s-sensitive-hostpath'])
        expect(rules, rule).toContain(rule);
    },
  );

  it('a pod the daemon-set-controller makes in kube-system from an unknown image is a pod in a system namespace', async () => {
    const body = {
      kind: 'Pod',
      apiVersion: 'v1',
      metadata: { generateName: 'node-agent-', namespace: 'kube-system' },
      spec: podSpec([container('agent', IMAGE)]),
    };
    expect(
      await fired([
        audit({
          at: T0,
          actor: controller('daemon-set-controller'),
          verb: 'create',
          ref: { resource: 'pods', namespace: 'kube-system' },
          requestObject: body,
        }),
      ]),
    ).toContain('k8s-pod-in-system-namespace');
  });

  it('the same kinds with a hardened pod spec fire none of the pod-content rules', async () => {
    const safe = podSpec(
      [
        container('app', 'ghcr.io/acme/app:1.2.3', {
          runAsNonRoot: true,
          allowPrivilegeEscalation: false,
          capabilities: { drop: ['ALL'] },
        }),
      ],
      {
        volumes: [
          { name: 'cache', emptyDir: {} },
          { name: 'tz', hostPath: { path: '/usr/share/zoneinfo' } },
        ],
      },
    );
    const events = Object.entries(KINDS).map(([kind, resource]) =>
      audit({
        at: T0,
        actor: mallory,
        verb: 'create',
        ref: { resource, namespace: 'shop' },
        requestObject: workload(kind, 'x', 'shop', safe),
      }),
    );
    const rules = await fired(events);
    for (const rule of [
      'k8s-privileged-container',
      'k8s-host-namespace',
      'k8s-sensitive-hostpath',
      'k8s-dangerous-capabilities',
    ])
      expect(rules).not.toContain(rule);
  });
});
