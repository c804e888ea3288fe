import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { atLeast, cli, ROOT, replay } from './replay.ts';

/**
 * Falco's own k8s-audit verdicts (falco 0.34.1 test suite, ../shared/conformance/falco-k8s-audit/EXPECTED.md),
 * replayed through Klaxon's catalogue with the Klaxon rule that stands for each Falco rule.
 */
const TRACES = join(ROOT, 'test/fixtures/falco-k8s-audit');

const FIRES: Record<string, string> = {
  anonymous_creates_namespace_foo: 'k8s-anonymous-request-allowed',
  attach_cluster_admin_role: 'k8s-cluster-admin-binding',
  attach_pod: 'k8s-exec-into-pod',
  exec_pod: 'k8s-exec-into-pod',
  create_cluster_role_pod_exec: 'k8s-rbac-pod-exec-role',
  create_cluster_role_wildcard_resources: 'k8s-rbac-wildcard-role',
  create_cluster_role_wildcard_verbs: 'k8s-rbac-wildcard-role',
  create_cluster_role_write_privileges: 'k8s-rbac-write-role',
  create_clusterrole: 'k8s-rbac-change',
  create_clusterrolebinding: 'k8s-rbac-change',
  delete_clusterrole: 'k8s-rbac-change',
  delete_clusterrolebinding: 'k8s-rbac-change',
  create_configmap_sensitive_values: 'k8s-configmap-credentials',
  create_nginx_pod_hostnetwork: 'k8s-host-namespace',
  create_nginx_pod_privileged: 'k8s-privileged-container',
  create_nginx_pod_privileged_2nd_container: 'k8s-privileged-container',
  create_nginx_pod_no_secctx_1st_container_privileged_2nd_container: 'k8s-privileged-container',
  create_nginx_pod_sensitive_mount: 'k8s-sensitive-hostpath',
  create_nginx_pod_sensitive_mount_2nd_container: 'k8s-sensitive-hostpath',
  create_nginx_service_nodeport: 'k8s-service-exposed',
  create_pod_kube_public_namespace: 'k8s-pod-in-system-namespace',
  create_pod_kube_system_namespace: 'k8s-pod-in-system-namespace',
  create_serviceaccount_kube_public_namespace: 'k8s-serviceaccount-in-system-namespace',
  create_serviceaccount_kube_system_namespace: 'k8s-serviceaccount-in-system-namespace',
  delete_cluster_role_kube_aggregator: 'k8s-system-role-modified',
  modify_cluster_role_node_problem_detector: 'k8s-system-role-modified',
  create_configmap: 'k8s-resource-activity',
  create_deployment: 'k8s-resource-activity',
  create_secret: 'k8s-resource-activity',
  create_service: 'k8s-resource-activity',
  create_serviceaccount: 'k8s-resource-activity',
  delete_configmap: 'k8s-resource-activity',
  delete_deployment: 'k8s-resource-activity',
  delete_secret: 'k8s-resource-activity',
  delete_service: 'k8s-resource-activity',
  delete_serviceaccount: 'k8s-resource-activity',
  delete_namespace_foo: 'k8s-namespace-deleted',
};

const DOES_NOT_FIRE: Record<string, string> = {
  create_configmap_no_sensitive_values: 'k8s-configmap-credentials',
  create_nginx_pod_nohostnetwork: 'k8s-host-namespace',
  create_nginx_pod_unprivileged: 'k8s-privileged-container',
  create_nginx_pod_unsensitive_mount: 'k8s-sensitive-hostpath',
  create_nginx_service_nonodeport: 'k8s-service-exposed',
};

/** Falco raises nothing on these with its default rules; Klaxon raises nothing at low or above. */
const NOTHING_AT_LOW = [
  'create_kube_system_secret',
  'create_service_account_token_secret',
  'fal_01_003',
  'minikube_creates_namespace_foo',
  'some-user_creates_namespace_foo',
  'create_nginx_pod_unsensitive_mount',
];

describe('Falco k8s-audit parity', { timeout: 30_000 }, () => {
  it('covers every trace file', () => {
    const files = readdirSync(TRACES)
      .filter((f) => f.endsWith('.json'))
      .map((f) => f.slice(0, -'.json'.length));
    const covered = new Set([...Object.keys(FIRES), ...Object.keys(DOES_NOT_FIRE), ...NOTHING_AT_LOW]);
    expect(files.length).toBe(47);
    expect(files.filter((f) => !covered.has(f))).toEqual([]);
  });

  it.each(Object.entries(FIRES))('%s fires %s', async (file, rule) => {
    const { code, alerts } = await replay([join(TRACES, `${file}.json`)]);
    expect(code).toBe(0);
    expect(alerts.map((a) => a.rule.name)).toContain(rule);
  });

  it.each(Object.entries(DOES_NOT_FIRE))('%s does not fire %s', async (file, rule) => {
    const { code, alerts } = await replay([join(TRACES, `${file}.json`)]);
    expect(code).toBe(0);
    expect(alerts.map((a) => a.rule.name)).not.toContain(rule);
  });

  it.each(NOTHING_AT_LOW)('%s raises nothing at low or above', async (file) => {
    const { code, alerts } = await replay([join(TRACES, `${file}.json`)]);
    expect(code).toBe(0);
    expect(alerts.filter((a) => atLeast(a.klaxon.severity, 'low')).map((a) => a.rule.name)).toEqual([]);
  });

  it('create_configmap_sensitive_values: one alert covering its six events', async () => {
    const { alerts } = await replay([join(TRACES, 'create_configmap_sensitive_values.json')]);
    const mine = alerts.filter((a) => a.rule.name === 'k8s-configmap-credentials');
    expect(mine.reduce((n, a) => n + a.klaxon.count, 0)).toBe(6);
  });

  it('the malformed {"kind": 0} file: an error on stderr, no alert, exit 0 (klaxon replay)', () => {
    const r = cli(['replay', '--rules', 'detections', join(TRACES, 'fal_01_003.json')]);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/fal_01_003\.json:1: /);
  }, 60_000);

  it('the whole directory in one replay gives the same verdicts', async () => {
    const { code, alerts, stderr } = await replay([TRACES]);
    expect(code).toBe(0);
    expect(stderr).toMatch(/fal_01_003\.json:1: /);
    const fired = new Set(alerts.map((a) => a.rule.name));
    for (const rule of new Set(Object.values(FIRES))) expect(fired).toContain(rule);
  });
});
