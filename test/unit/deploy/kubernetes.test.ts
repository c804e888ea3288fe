import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';

// Checks every Klaxon workload in deploy/kubernetes against the Restricted Pod
// Security Standard (the checks Klaxon's own rules enforce on other clusters).

const dir = join(import.meta.dirname, '../../../deploy/kubernetes');

type Obj = Record<string, unknown>;
type Manifest = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
} & Obj;

function load(file: string): Manifest[] {
  return parseAllDocuments(readFileSync(join(dir, file), 'utf8'))
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]?.message}`);
      return doc.toJS() as Manifest | null;
    })
    .filter((m): m is Manifest => m !== null);
}

const kustomization = load('kustomization.yaml')[0] as Manifest & {
  resources: string[];
  images: { name: string; newTag?: string; digest?: string }[];
};
const manifests = kustomization.resources.flatMap(load);
const byKind = (kind: string) => manifests.filter((m) => m.kind === kind);
const at = (o: unknown, ...path: string[]): unknown =>
  path.reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Obj)[k] : undefined), o);

type Container = {
  name: string;
  image: string;
  env?: { name: string; valueFrom?: Obj }[];
  envFrom?: Obj[];
  securityContext?: Obj;
  resources?: { requests?: Obj; limits?: Obj };
  livenessProbe?: Obj;
  readinessProbe?: Obj;
  volumeMounts?: { name: string; mountPath: string }[];
};
type PodSpec = {
  securityContext?: Obj;
  automountServiceAccountToken?: boolean;
  hostNetwork?: boolean;
  hostPID?: boolean;
  hostIPC?: boolean;
  containers: Container[];
  initContainers?: Container[];
  volumes?: ({ name: string } & Obj)[];
};

const workloadKinds = ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'CronJob', 'Pod'];
const workloads = manifests.filter((m) => workloadKinds.includes(m.kind));
function podSpec(m: Manifest): PodSpec {
  const spec =
    m.kind === 'Pod'
      ? at(m, 'spec')
      : m.kind === 'CronJob'
        ? at(m, 'spec', 'jobTemplate', 'spec', 'template', 'spec')
        : at(m, 'spec', 'template', 'spec');
  if (!spec) throw new Error(`${m.kind}/${m.metadata.name} has no pod spec`);
  return spec as PodSpec;
}

describe('deploy/kubernetes', () => {
  it('lists every manifest in kustomization.yaml (only examples are left out)', () => {
    const files = readdirSync(dir).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
    const unlisted = files.filter((f) => !kustomization.resources.includes(f));
    expect(unlisted).toEqual(['secrets.example.yaml']);
  });

  it('puts Klaxon in a namespace that enforces the Restricted profile', () => {
    const ns = byKind('Namespace');
    expect(ns).toHaveLength(1);
    expect(ns[0]?.metadata.labels).toMatchObject({
      'pod-security.kubernetes.io/enforce': 'restricted',
      'pod-security.kubernetes.io/audit': 'restricted',
      'pod-security.kubernetes.io/warn': 'restricted',
    });
  });

  it('has both workloads', () => {
    expect(workloads.map((w) => `${w.kind}/${w.metadata.name}`).sort()).toEqual([
      'Deployment/klaxon-detect',
      'Deployment/klaxon-ingest',
    ]);
  });

  it('pins the image', () => {
    const klaxon = kustomization.images.find((i) => i.name === 'klaxon');
    expect(klaxon?.digest ?? klaxon?.newTag).toMatch(/^(sha256:[0-9a-f]{64}|\d+\.\d+\.\d+)$/);
  });

  for (const w of workloads) {
    describe(`${w.kind}/${w.metadata.name}`, () => {
      const spec = podSpec(w);
      const containers = [...spec.containers, ...(spec.initContainers ?? [])];

      it('meets the Restricted profile at pod level', () => {
        expect(spec.securityContext?.runAsNonRoot).toBe(true);
        expect(spec.securityContext?.runAsUser).toBeGreaterThan(0);
        expect(at(spec.securityContext, 'seccompProfile', 'type')).toBe('RuntimeDefault');
        expect(spec.automountServiceAccountToken).toBe(false);
        expect(spec.hostNetwork ?? false).toBe(false);
        expect(spec.hostPID ?? false).toBe(false);
        expect(spec.hostIPC ?? false).toBe(false);
        const volumeKinds = (spec.volumes ?? []).flatMap((v) => Object.keys(v).filter((k) => k !== 'name'));
        expect(volumeKinds).not.toContain('hostPath');
      });

      for (const c of containers) {
        it(`container ${c.name} meets the Restricted profile`, () => {
          const sc = c.securityContext ?? {};
          expect(sc.runAsNonRoot).toBe(true);
          expect(sc.runAsUser).toBeGreaterThan(0);
          expect(sc.allowPrivilegeEscalation).toBe(false);
          expect(sc.readOnlyRootFilesystem).toBe(true);
          expect(sc.privileged ?? false).toBe(false);
          expect(at(sc, 'capabilities', 'drop')).toEqual(['ALL']);
          expect(at(sc, 'capabilities', 'add') ?? []).toEqual([]);
          expect(at(sc, 'seccompProfile', 'type')).toBe('RuntimeDefault');
        });

        it(`container ${c.name} has requests, limits and probes`, () => {
          for (const kind of ['requests', 'limits'] as const) {
            expect(c.resources?.[kind]?.cpu, kind).toBeDefined();
            expect(c.resources?.[kind]?.memory, kind).toBeDefined();
            expect(c.resources?.[kind]?.['ephemeral-storage'], kind).toBeDefined();
          }
          expect(at(c.livenessProbe, 'httpGet', 'path')).toBe('/healthz');
          expect(at(c.readinessProbe, 'httpGet', 'path')).toBe('/readyz');
        });

        it(`container ${c.name} takes no Secret through the environment`, () => {
          for (const e of c.env ?? []) expect(e.valueFrom?.secretKeyRef, e.name).toBeUndefined();
          for (const e of c.envFrom ?? []) expect(e.secretRef).toBeUndefined();
        });

        it(`container ${c.name} writes only to mounted volumes`, () => {
          const mounts = (c.volumeMounts ?? []).map((m) => m.mountPath);
          expect(mounts).toContain('/tmp');
        });
      }
    });
  }

  it('mounts the ingest tokens and TLS material from Secrets as files', () => {
    const ingest = workloads.find((w) => w.metadata.name === 'klaxon-ingest');
    const spec = podSpec(ingest as Manifest);
    const secretVolumes = (spec.volumes ?? []).filter((v) => v.secret);
    expect(secretVolumes.map((v) => at(v, 'secret', 'secretName')).sort()).toEqual([
      'klaxon-ingest-tls',
      'klaxon-ingest-tokens',
    ]);
    const mounted = spec.containers.flatMap((c) => (c.volumeMounts ?? []).map((m) => m.name));
    for (const v of secretVolumes) expect(mounted).toContain(v.name);
    expect(mounted).toContain('spool');
    const config = byKind('ConfigMap')[0]?.data as Record<string, string>;
    expect(config.KLAXON_TOKENS_FILE).toMatch(/^\/etc\/klaxon\/tokens\//);
    expect(config.KLAXON_SPOOL_DIR).toMatch(/^\/var\/lib\/klaxon\//);
    const spool = (spec.volumes ?? []).find((v) => v.name === 'spool');
    const mib = (size: unknown) => {
      const m = /^(\d+)(Mi|Gi)B?$/.exec(String(size));
      return m ? Number(m[1]) * (m[2] === 'Gi' ? 1024 : 1) : 0;
    };
    expect(mib(config.KLAXON_SPOOL_MAX_BYTES)).toBeGreaterThan(0);
    expect(mib(config.KLAXON_SPOOL_MAX_BYTES)).toBeLessThan(mib(at(spool, 'emptyDir', 'sizeLimit')));
  });

  it('ships no Secret objects (they are created out of band)', () => {
    expect(byKind('Secret')).toEqual([]);
  });

  it('denies all traffic by default and opens only named flows', () => {
    const policies = byKind('NetworkPolicy');
    const deny = policies.find(
      (p) =>
        JSON.stringify(at(p, 'spec', 'podSelector')) === '{}' &&
        at(p, 'spec', 'ingress') === undefined &&
        at(p, 'spec', 'egress') === undefined,
    );
    expect(at(deny, 'spec', 'policyTypes')).toEqual(['Ingress', 'Egress']);
    const ingressPorts = policies.flatMap((p) =>
      ((at(p, 'spec', 'ingress') as Obj[] | undefined) ?? []).flatMap((r) =>
        ((r.ports as { port: number }[]) ?? []).map((port) => port.port),
      ),
    );
    expect(new Set(ingressPorts)).toEqual(new Set([8080, 8081]));
  });

  it('protects both workloads with a PodDisruptionBudget and scales ingest with an HPA', () => {
    const pdbs = byKind('PodDisruptionBudget').map((p) =>
      at(p, 'spec', 'selector', 'matchLabels', 'app.kubernetes.io/component'),
    );
    expect(pdbs.sort()).toEqual(['detect', 'ingest']);
    const hpa = byKind('HorizontalPodAutoscaler');
    expect(hpa.map((h) => at(h, 'spec', 'scaleTargetRef', 'name'))).toEqual(['klaxon-ingest']);
  });

  it('leaves the replica count of an autoscaled Deployment to its HPA (an apply would reset it)', () => {
    for (const h of byKind('HorizontalPodAutoscaler')) {
      const target = workloads.find(
        (w) =>
          w.kind === at(h, 'spec', 'scaleTargetRef', 'kind') &&
          w.metadata.name === at(h, 'spec', 'scaleTargetRef', 'name'),
      );
      expect(target, h.metadata.name).toBeDefined();
      expect(at(target, 'spec', 'replicas'), h.metadata.name).toBeUndefined();
    }
  });
});
