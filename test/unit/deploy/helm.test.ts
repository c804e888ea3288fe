import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { RUNBOOK_BASE } from './promql.ts';
import { tools } from './tools.ts';

// The Helm chart, checked by the real tools: `helm lint` and `helm template` (Helm built from the Go
// module proxy), every rendered object against the Kubernetes JSON schemas (kubernetes-validate),
// every pod template against Pod Security `restricted` (k8s.io/pod-security-admission), and the
// PrometheusRule's groups by promtool. It must install what the kustomization installs.

const root = join(import.meta.dirname, '../../..');
const chart = join(root, 'deploy/helm/klaxon');
const kustomize = join(root, 'deploy/kubernetes');
const scratch = mkdtempSync(join(tmpdir(), 'klaxon-helm-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

type Obj = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
} & Record<string, unknown>;
const at = (o: unknown, ...path: (string | number)[]): unknown =>
  path.reduce<unknown>(
    (v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined),
    o,
  );

let t: ReturnType<typeof tools>;
beforeAll(() => {
  t = tools();
}, 900_000);

function run(cmd: string, args: string[], input?: string) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input, cwd: root });
  if (r.error) throw r.error;
  return r;
}

/** The egress flows of the cloud sources and SIEM sinks: values key, kustomize component, pod, ports. */
const egressFlows = [
  { key: 'cloudwatch', component: 'cloudwatch', pod: 'ingest', ports: [443, 80] },
  { key: 'pubsub', component: 'pubsub', pod: 'ingest', ports: [443, 80] },
  { key: 'eventhubs', component: 'eventhubs', pod: 'ingest', ports: [9093] },
  { key: 'syslog', component: 'syslog', pod: 'detect', ports: [6514] },
  { key: 'otlp', component: 'otlp', pod: 'detect', ports: [4318] },
  { key: 'splunkHec', component: 'splunk-hec', pod: 'detect', ports: [8088] },
] as const;
const PLACEHOLDER_PEERS = JSON.stringify([{ ipBlock: { cidr: '203.0.113.0/24' } }]);

/** Every egress flow on, with the kustomize components' placeholder peers. */
function egressArgs(): string[] {
  return [
    ...egressFlows.flatMap((f) => [
      '--set',
      `networkPolicy.egress.${f.key}.enabled=true`,
      '--set-json',
      `networkPolicy.egress.${f.key}.peers=${PLACEHOLDER_PEERS}`,
    ]),
    '--set',
    'networkPolicy.egress.cloudwatch.credentials.enabled=true',
  ];
}

const scenarios: Record<string, string[]> = {
  default: [],
  serve: ['--set', 'mode=serve'],
  everything: [
    '--set',
    'monitoring.serviceMonitor.enabled=true',
    '--set',
    'monitoring.prometheusRule.enabled=true',
    '--set',
    'namespace.create=true',
    '--set',
    'secrets.detectCredentialsEnabled=true',
    '--set',
    'monitoring.runbookBaseUrl=https://wiki.example/klaxon/operations',
  ],
  'serve without TLS, no autoscaling': [
    '--set',
    'mode=serve',
    '--set',
    'secrets.tls=',
    '--set',
    'ingest.autoscaling.enabled=false',
  ],
  'distributed without autoscaling': ['--set', 'ingest.autoscaling.enabled=false'],
  'egress for every cloud source and SIEM sink': egressArgs(),
  'serve with egress for every cloud source and SIEM sink': ['--set', 'mode=serve', ...egressArgs()],
};

/** The NetworkPolicy of one component of deploy/kubernetes/egress. */
function egressComponent(component: string): Obj[] {
  const folder = join(kustomize, 'egress', component);
  const k = parse(readFileSync(join(folder, 'kustomization.yaml'), 'utf8')) as {
    apiVersion: string;
    kind: string;
    resources: string[];
  };
  expect(k.apiVersion).toBe('kustomize.config.k8s.io/v1alpha1');
  expect(k.kind).toBe('Component');
  return k.resources.flatMap((f) =>
    parseAllDocuments(readFileSync(join(folder, f), 'utf8'))
      .map((d) => d.toJS() as Obj | null)
      .filter((o): o is Obj => o !== null),
  );
}

const rendered = new Map<string, { text: string; objects: Obj[] }>();
function render(name: string): { text: string; objects: Obj[] } {
  const cached = rendered.get(name);
  if (cached) return cached;
  const r = run(t.helm, ['template', 'klaxon', chart, '--namespace', 'klaxon', ...(scenarios[name] ?? [])]);
  if (r.status !== 0) throw new Error(`helm template (${name}) failed:\n${r.stderr}`);
  const objects = parseAllDocuments(r.stdout)
    .map((d) => d.toJS() as Obj | null)
    .filter((o): o is Obj => o !== null);
  const out = { text: r.stdout, objects };
  rendered.set(name, out);
  return out;
}

function kustomization(): Obj[] {
  const k = parse(readFileSync(join(kustomize, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
  return k.resources.flatMap((f) =>
    parseAllDocuments(readFileSync(join(kustomize, f), 'utf8'))
      .map((d) => d.toJS() as Obj | null)
      .filter((o): o is Obj => o !== null),
  );
}

describe('deploy/helm/klaxon', () => {
  it('passes helm lint --strict, in both modes', () => {
    for (const args of [[], ['--set', 'mode=serve']]) {
      const r = run(t.helm, ['lint', '--strict', chart, ...args]);
      expect(r.status, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toContain('1 chart(s) linted, 0 chart(s) failed');
    }
  });

  it('refuses an unknown mode with a clear message', () => {
    const r = run(t.helm, ['template', 'klaxon', chart, '--set', 'mode=both']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('mode must be distributed or serve');
  });

  for (const name of Object.keys(scenarios)) {
    describe(`rendered (${name})`, () => {
      it('every object validates against the Kubernetes JSON schemas (kubernetes-validate --strict)', () => {
        const file = join(scratch, `${name.replace(/\W+/g, '-')}.yaml`);
        writeFileSync(file, render(name).text);
        const r = run(t.kubernetesValidate, ['--strict', file]);
        expect(r.status, r.stdout + r.stderr).toBe(0);
        const passed = (r.stdout.match(/ passed for resource /g) ?? []).length;
        const crds = render(name).objects.filter((o) => o.apiVersion.startsWith('monitoring.coreos.com/'));
        expect(passed).toBe(render(name).objects.length - crds.length);
        // Only prometheus-operator's kinds have no schema there (checked below by promtool and by shape).
        const unknown = [...r.stdout.matchAll(/Couldn't find schema for kind (\w+)/g)].map((m) => m[1]);
        expect(unknown.sort()).toEqual(crds.map((o) => o.kind).sort());
      });

      it('every pod template is allowed by Pod Security restricted (k8s.io/pod-security-admission)', () => {
        const r = run(t.psaCheck, ['-level', 'restricted', '-version', 'latest'], render(name).text);
        const results = r.stdout
          .trim()
          .split('\n')
          .map(
            (l) => JSON.parse(l) as { kind: string; name: string; allowed: boolean; violations: string[] },
          );
        const workloads = render(name).objects.filter((o) => o.kind === 'Deployment');
        expect(results.map((x) => `${x.kind}/${x.name}`).sort()).toEqual(
          workloads.map((w) => `Deployment/${w.metadata.name}`).sort(),
        );
        for (const x of results) expect(x.violations, x.name).toEqual([]);
        expect(r.status, r.stderr).toBe(0);
      });

      it('ships no Secret and mounts Secrets only as files', () => {
        const { objects } = render(name);
        expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);
        for (const d of objects.filter((o) => o.kind === 'Deployment')) {
          for (const c of at(d, 'spec', 'template', 'spec', 'containers') as Record<string, unknown>[]) {
            expect(JSON.stringify(c.env ?? []), d.metadata.name).not.toContain('secretKeyRef');
            expect(JSON.stringify(c.envFrom ?? []), d.metadata.name).not.toContain('secretRef');
          }
        }
      });

      it('leaves the replica count of an autoscaled Deployment to its HPA', () => {
        const { objects } = render(name);
        const hpas = objects.filter((o) => o.kind === 'HorizontalPodAutoscaler');
        for (const d of objects.filter((o) => o.kind === 'Deployment')) {
          const scaled = hpas.some((h) => at(h, 'spec', 'scaleTargetRef', 'name') === d.metadata.name);
          expect(at(d, 'spec', 'replicas') === undefined, d.metadata.name).toBe(scaled);
        }
      });
    });
  }

  it('opens no egress for cloud sources or SIEM sinks unless asked (existing installs keep their policies)', () => {
    for (const name of ['default', 'serve', 'everything']) {
      const names = render(name)
        .objects.filter((o) => o.kind === 'NetworkPolicy')
        .map((o) => o.metadata.name);
      expect(
        names.filter((n) => n.includes('-egress-') && !/-egress-(dns|kafka|sinks)$/.test(n)),
        name,
      ).toEqual([]);
    }
  });

  it('opens each flow from the pod that needs it, on its ports, as the kustomize component does', () => {
    const policies = render('egress for every cloud source and SIEM sink').objects.filter(
      (o) => o.kind === 'NetworkPolicy',
    );
    for (const flow of egressFlows) {
      const [component] = egressComponent(flow.component);
      const chart = policies.find((o) => o.metadata.name === `klaxon-${flow.pod}-egress-${flow.component}`);
      expect(component?.metadata.name, flow.key).toBe(chart?.metadata.name);
      const labels = at(chart, 'spec', 'podSelector', 'matchLabels') as Record<string, string>;
      expect(labels['app.kubernetes.io/component'], flow.key).toBe(flow.pod);
      // The chart selects its release's pods too; the kustomization has one release.
      const { 'app.kubernetes.io/instance': instance, ...common } = labels;
      expect(instance).toBe('klaxon');
      expect({ ...(chart?.spec as object), podSelector: { matchLabels: common } }, flow.key).toEqual(
        component?.spec,
      );
      const ports = (at(chart, 'spec', 'egress') as { ports: { port: number }[] }[]).flatMap((r) =>
        r.ports.map((p) => p.port),
      );
      expect(ports, flow.key).toEqual(flow.ports);
    }
  });

  it('in serve mode opens every flow from the one pod', () => {
    const names = render('serve with egress for every cloud source and SIEM sink')
      .objects.filter(
        (o) => o.kind === 'NetworkPolicy' && /-egress-(?!dns|kafka|sinks)/.test(o.metadata.name),
      )
      .map((o) => [
        o.metadata.name,
        at(o, 'spec', 'podSelector', 'matchLabels', 'app.kubernetes.io/component'),
      ]);
    expect(names.sort()).toEqual(
      egressFlows.map((f) => [`klaxon-serve-egress-${f.component}`, 'serve']).sort(),
    );
  });

  it('refuses an egress flow turned on without peers, naming the value', () => {
    const r = run(t.helm, [
      'template',
      'klaxon',
      chart,
      '--set',
      'networkPolicy.egress.splunkHec.enabled=true',
    ]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('networkPolicy.egress.splunkHec.peers is empty');
  });

  it('serve mode is one pod, never two at once, with no HPA or PDB', () => {
    const { objects } = render('serve');
    const deployments = objects.filter((o) => o.kind === 'Deployment');
    expect(deployments.map((d) => d.metadata.name)).toEqual(['klaxon']);
    expect(at(deployments[0], 'spec', 'replicas')).toBe(1);
    expect(at(deployments[0], 'spec', 'strategy', 'type')).toBe('Recreate');
    expect(
      objects.filter((o) => ['HorizontalPodAutoscaler', 'PodDisruptionBudget'].includes(o.kind)),
    ).toEqual([]);
  });

  it('installs what the kustomization installs (same objects, same pods)', () => {
    const chartObjects = render('default').objects.filter((o) => o.metadata.name !== 'klaxon-dashboard');
    const kustomized = kustomization().filter((o) => o.kind !== 'Namespace');
    const key = (o: Obj) =>
      `${o.kind}/${o.metadata.name === 'default-deny-all' ? 'klaxon-default-deny' : o.metadata.name}`;
    expect(chartObjects.map(key).sort()).toEqual(kustomized.map(key).sort());
    const byKey = new Map(chartObjects.map((o) => [key(o), o]));
    for (const k of kustomized) {
      const c = byKey.get(key(k));
      if (k.kind === 'ConfigMap') {
        // Embedded YAML files compare by content (the kustomization's carry comments).
        const data = (o: Obj | undefined) =>
          Object.fromEntries(
            Object.entries((o?.data ?? {}) as Record<string, string>).map(([f, v]) => [
              f,
              f.endsWith('.yaml') ? parse(v) : v,
            ]),
          );
        expect(data(c), key(k)).toEqual(data(k));
      }
      if (k.kind === 'HorizontalPodAutoscaler' || k.kind === 'PodDisruptionBudget') {
        expect({ ...(c?.spec as object), selector: undefined, scaleTargetRef: undefined }, key(k)).toEqual({
          ...(k.spec as object),
          selector: undefined,
          scaleTargetRef: undefined,
        });
      }
      if (k.kind !== 'Deployment') continue;
      const pod = (o: Obj | undefined) => at(o, 'spec', 'template', 'spec') as Record<string, unknown>;
      for (const field of [
        'securityContext',
        'volumes',
        'terminationGracePeriodSeconds',
        'automountServiceAccountToken',
      ]) {
        expect(pod(c)[field], `${key(k)} ${field}`).toEqual(pod(k)[field]);
      }
      const [cc, kc] = [pod(c).containers, pod(k).containers] as Record<string, unknown>[][];
      for (const field of [
        'name',
        'args',
        'ports',
        'resources',
        'securityContext',
        'volumeMounts',
        'livenessProbe',
        'readinessProbe',
        'startupProbe',
      ]) {
        expect(cc?.[0]?.[field], `${key(k)} container ${field}`).toEqual(kc?.[0]?.[field]);
      }
      expect(at(c, 'spec', 'strategy'), key(k)).toEqual(at(k, 'spec', 'strategy'));
      expect(at(c, 'spec', 'replicas'), key(k)).toEqual(at(k, 'spec', 'replicas'));
    }
  });

  it('runs the image scripts/image builds, as the kustomization does', () => {
    const ref = run('bash', [join(root, 'scripts/image'), 'ref']).stdout.trim();
    const k = parse(readFileSync(join(kustomize, 'kustomization.yaml'), 'utf8')) as {
      images: { name: string; newName: string; newTag: string }[];
    };
    const image = k.images.find((i) => i.name === 'klaxon');
    expect(`${image?.newName}:${image?.newTag}`).toBe(ref);
    for (const name of ['default', 'serve']) {
      for (const d of render(name).objects.filter((o) => o.kind === 'Deployment')) {
        expect(at(d, 'spec', 'template', 'spec', 'containers', 0, 'image'), d.metadata.name).toBe(ref);
      }
    }
  });

  it('the PrometheusRule carries the alert rules, with the runbook base from values, and promtool accepts them', () => {
    const rule = render('everything').objects.find((o) => o.kind === 'PrometheusRule');
    const groups = at(rule, 'spec', 'groups') as {
      rules: { alert: string; annotations: { runbook_url: string } }[];
    }[];
    const original = parse(readFileSync(join(root, 'deploy/prometheus/klaxon-rules.yml'), 'utf8')) as {
      groups: { rules: { alert: string }[] }[];
    };
    expect(groups.flatMap((g) => g.rules.map((r) => r.alert))).toEqual(
      original.groups.flatMap((g) => g.rules.map((r) => r.alert)),
    );
    for (const r of groups.flatMap((g) => g.rules)) {
      expect(r.annotations.runbook_url).toBe(
        `https://wiki.example/klaxon/operations#${r.alert.toLowerCase()}`,
      );
    }
    const file = join(scratch, 'prometheusrule-groups.yml');
    writeFileSync(file, stringify({ groups }));
    const check = run('promtool', ['check', 'rules', file]);
    expect(check.status, check.stdout + check.stderr).toBe(0);
  });

  it('the ServiceMonitor scrapes ports the Services have, under job names the alert rules match', () => {
    const { objects } = render('everything');
    const monitor = objects.find((o) => o.kind === 'ServiceMonitor');
    const services = objects.filter((o) => o.kind === 'Service');
    const jobLabel = at(monitor, 'spec', 'jobLabel') as string;
    for (const s of services) expect(s.metadata.labels?.[jobLabel], s.metadata.name).toMatch(/^klaxon/);
    const ports = new Set(
      services.flatMap((s) => (at(s, 'spec', 'ports') as { name: string }[]).map((p) => p.name)),
    );
    for (const e of at(monitor, 'spec', 'endpoints') as { port: string }[]) expect(ports).toContain(e.port);
  });

  it('gives Grafana the dashboard as a sidecar ConfigMap, with the runbook base from values', () => {
    for (const [name, base] of [
      ['default', RUNBOOK_BASE],
      ['everything', 'https://wiki.example/klaxon/operations'],
    ] as const) {
      const cm = render(name).objects.find((o) => o.metadata.name === 'klaxon-dashboard');
      expect(cm?.metadata.labels?.grafana_dashboard).toBe('1');
      const dashboard = JSON.parse(at(cm, 'data', 'klaxon.json') as string) as {
        uid: string;
        templating: { list: { name: string; query?: string }[] };
      };
      expect(dashboard.uid).toBe('klaxon-overview');
      expect(dashboard.templating.list.find((v) => v.name === 'runbook_base')?.query).toBe(base);
    }
  });

  it('documents every value in the chart README', () => {
    const readme = readFileSync(join(chart, 'README.md'), 'utf8');
    const values = parse(readFileSync(join(chart, 'values.yaml'), 'utf8')) as Record<string, unknown>;
    // Values that are whole Kubernetes or settings maps are documented as one entry.
    const maps = new Set([
      'config',
      'tlsClients',
      'resources',
      'podSecurityContext',
      'containerSecurityContext',
      'labels',
      'tlsConfig',
      'nodeSelector',
      'affinity',
    ]);
    const leaves = (o: unknown, prefix: string): string[] =>
      o &&
      typeof o === 'object' &&
      !Array.isArray(o) &&
      Object.keys(o).length > 0 &&
      !maps.has(prefix.split('.').pop() ?? '')
        ? Object.entries(o).flatMap(([k, v]) => leaves(v, prefix ? `${prefix}.${k}` : k))
        : [prefix];
    const missing = leaves(values, '').filter((path) => !readme.includes(`\`${path}\``));
    expect(missing).toEqual([]);
  });
});

describe('deploy/kubernetes against the same tools', () => {
  it('validates against the Kubernetes JSON schemas and Pod Security restricted', () => {
    const text = kustomization()
      .map((o) => stringify(o))
      .join('---\n');
    const file = join(scratch, 'kustomization.yaml');
    writeFileSync(file, text);
    const kv = run(t.kubernetesValidate, ['--strict', file]);
    expect(kv.status, kv.stdout + kv.stderr).toBe(0);
    const psa = run(t.psaCheck, [], text);
    expect(psa.status, psa.stdout + psa.stderr).toBe(0);
    expect(psa.stdout.trim().split('\n')).toHaveLength(2);
  });

  it('every egress component validates against the Kubernetes JSON schemas', () => {
    const text = egressFlows
      .flatMap((f) => egressComponent(f.component))
      .map((o) => stringify(o))
      .join('---\n');
    const file = join(scratch, 'egress-components.yaml');
    writeFileSync(file, text);
    const kv = run(t.kubernetesValidate, ['--strict', file]);
    expect(kv.status, kv.stdout + kv.stderr).toBe(0);
    expect((kv.stdout.match(/ passed for resource /g) ?? []).length).toBe(egressFlows.length);
  });
});
