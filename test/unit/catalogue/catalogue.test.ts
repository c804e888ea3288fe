import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { cli, DETECTIONS } from './replay.ts';

/** Every rule issue 4 and issue 5 name, with the level they ask for. */
const REQUIRED: Record<string, string> = {
  'k8s-auth-failure-burst': 'high',
  'k8s-anonymous-request-allowed': 'high',
  'k8s-forbidden-service-account': 'medium',
  'k8s-permission-enumeration': 'medium',
  'k8s-cluster-admin-binding': 'high',
  'k8s-rbac-wildcard-role': 'high',
  'k8s-rbac-escalation-verbs': 'high',
  'k8s-rbac-pod-exec-role': 'medium',
  'k8s-rbac-write-role': 'low',
  'k8s-system-role-modified': 'high',
  'k8s-rbac-change': 'low',
  'k8s-impersonation-privileged': 'high',
  'k8s-serviceaccount-token-request': 'medium',
  'k8s-certificate-signing-request': 'medium',
  'k8s-rbac-change-then-workload': 'high',
  'k8s-privileged-container': 'high',
  'k8s-host-namespace': 'high',
  'k8s-sensitive-hostpath': 'high',
  'k8s-dangerous-capabilities': 'medium',
  'k8s-pod-in-system-namespace': 'medium',
  'k8s-pod-security-violation': 'medium',
  'k8s-mutable-image-tag': 'low',
  'k8s-ephemeral-container': 'medium',
  'k8s-exec-into-pod': 'medium',
  'k8s-port-forward': 'low',
  'k8s-exec-followed-by-shell': 'critical',
  'k8s-node-proxy-access': 'medium',
  'k8s-secret-read-by-unusual-agent': 'high',
  'k8s-secret-list-cluster-wide': 'high',
  'k8s-secret-enumeration': 'high',
  'k8s-secret-read': 'informational',
  'k8s-configmap-credentials': 'medium',
  'k8s-serviceaccount-in-system-namespace': 'medium',
  'k8s-service-exposed': 'medium',
  'k8s-ingress-without-tls': 'low',
  'k8s-network-policy-deleted': 'medium',
  'k8s-admission-webhook-changed': 'high',
  'k8s-events-deleted': 'low',
  'k8s-namespace-deleted': 'low',
  'k8s-resource-quota-exceeded': 'low',
  'k8s-image-pull-failure': 'low',
  'k8s-resource-activity': 'informational',
  'falco-runtime-alert': 'medium',
};

interface Listed {
  name: string;
  id: string;
  level: string;
  type: string;
  generates?: boolean;
  rules?: string[];
  file: string;
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return yamlFiles(p);
    return p.endsWith('.yml') ? [p] : [];
  });
}

/** Spawning the CLI takes seconds on a busy machine. */
const SLOW = 60_000;

const listRules = (): Listed[] =>
  cli(['rules', 'list', '--json', 'detections'])
    .stdout.split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Listed);

describe('detection catalogue', () => {
  let listing: Listed[] = [];
  const listed = () => listing;
  beforeAll(() => {
    listing = listRules();
  }, SLOW);

  it(
    'klaxon rules test detections: every test case of every rule passes',
    () => {
      const r = cli(['rules', 'test', 'detections']);
      expect(r.stdout).not.toMatch(/^FAIL/m);
      expect(r.stderr).toMatch(/ 0 failed; 0 load error\(s\)/);
      expect(r.status).toBe(0);
    },
    SLOW,
  );

  it(
    'klaxon rules lint detections: no errors',
    () => {
      const r = cli(['rules', 'lint', 'detections']);
      expect(r.stderr).toMatch(/ 0 error\(s\)/);
      expect(r.status).toBe(0);
    },
    SLOW,
  );

  it('klaxon rules list --json shows every rule the issues name, at the level they ask, and alerting', () => {
    const rules = listed().filter((r) => r.type !== 'filter');
    const byName = new Map(rules.map((r) => [r.name, r]));
    for (const [name, level] of Object.entries(REQUIRED)) {
      expect(byName.get(name), name).toBeDefined();
      expect(byName.get(name)?.level, name).toBe(level);
      expect(byName.get(name)?.generates, name).toBe(true);
    }
  });

  it('rule names and ids are unique; ids are UUID v4', () => {
    const rules = listed();
    const names = rules.filter((r) => r.type !== 'filter').map((r) => r.name);
    const ids = rules.map((r) => r.id);
    expect(new Set(names).size).toBe(names.length);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids)
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('every filter names rules that exist', () => {
    const rules = listed();
    const names = new Set(rules.filter((r) => r.type !== 'filter').map((r) => r.name));
    const filters = rules.filter((r) => r.type === 'filter');
    expect(filters.length).toBeGreaterThanOrEqual(6);
    for (const f of filters) for (const n of f.rules ?? []) expect(names, `${f.name} → ${n}`).toContain(n);
  });

  it('each file is named after the alerting rule it holds', () => {
    for (const file of yamlFiles(DETECTIONS)) {
      const rel = relative(DETECTIONS, file);
      if (rel.startsWith('filters/')) continue;
      const docs = parseAllDocuments(readFileSync(file, 'utf8')).map(
        (d) => d.toJSON() as Record<string, unknown>,
      );
      expect(docs[0]?.name, rel).toBe(
        rel
          .split('/')
          .pop()
          ?.replace(/\.yml$/, ''),
      );
    }
  });
});
