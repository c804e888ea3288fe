import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

// The audit Policy decides what the API server records. These tests evaluate it
// the way kube-apiserver does (first matching rule wins; k8s.io/apiserver
// pkg/audit/policy/checker.go) for the requests that matter to Klaxon.

const deploy = join(import.meta.dirname, '../../../deploy');
const read = (path: string) => parse(readFileSync(join(deploy, path), 'utf8'));

type GroupResources = { group?: string; resources?: string[]; resourceNames?: string[] };
type Rule = {
  level: Level;
  users?: string[];
  userGroups?: string[];
  verbs?: string[];
  resources?: GroupResources[];
  namespaces?: string[];
  nonResourceURLs?: string[];
  omitStages?: string[];
};
const LEVELS = ['None', 'Metadata', 'Request', 'RequestResponse'] as const;
type Level = (typeof LEVELS)[number];
const rank = (level: Level) => LEVELS.indexOf(level);

type Request = {
  user?: string;
  groups?: string[];
  verb: string;
  group?: string;
  resource?: string;
  subresource?: string;
  namespace?: string;
  name?: string;
  path?: string;
};

const policy = read('audit/policy.yaml') as {
  apiVersion: string;
  kind: string;
  omitStages?: string[];
  rules: Rule[];
};

function matchesResource(rule: Rule, req: Request): boolean {
  if (req.resource === undefined) return false;
  if (rule.namespaces?.length && !rule.namespaces.includes(req.namespace ?? '')) return false;
  if (!rule.resources?.length) return true;
  const combined = req.subresource ? `${req.resource}/${req.subresource}` : req.resource;
  return rule.resources.some((gr) => {
    if ((gr.group ?? '') !== (req.group ?? '')) return false;
    if (!gr.resources?.length) return true;
    if (gr.resourceNames?.length && !gr.resourceNames.includes(req.name ?? '')) return false;
    return gr.resources.some(
      (res) =>
        res === combined ||
        res === '*' ||
        (req.subresource !== undefined && res === `*/${req.subresource}`) ||
        (res.endsWith('/*') && res.slice(0, -2) === req.resource),
    );
  });
}

function matchesNonResource(rule: Rule, req: Request): boolean {
  if (req.resource !== undefined || req.path === undefined) return false;
  const path = req.path;
  return (rule.nonResourceURLs ?? []).some(
    (spec) => spec === '*' || spec === path || (spec.endsWith('*') && path.startsWith(spec.slice(0, -1))),
  );
}

function levelFor(req: Request): Level {
  for (const rule of policy.rules) {
    if (rule.users?.length && !rule.users.includes(req.user ?? '')) continue;
    if (rule.userGroups?.length && !rule.userGroups.some((g) => req.groups?.includes(g))) continue;
    if (rule.verbs?.length && !rule.verbs.includes(req.verb)) continue;
    if (rule.namespaces?.length || rule.resources?.length) {
      if (matchesResource(rule, req)) return rule.level;
      continue;
    }
    if (rule.nonResourceURLs?.length) {
      if (matchesNonResource(rule, req)) return rule.level;
      continue;
    }
    return rule.level;
  }
  return 'None';
}

const alice = { user: 'alice', groups: ['system:authenticated'] };
const kubelet = { user: 'system:node:n1', groups: ['system:nodes', 'system:authenticated'] };
const allVerbs = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection'];
const writes = ['create', 'update', 'patch', 'delete'];
const identities = [
  alice,
  kubelet,
  {
    user: 'system:serviceaccount:kube-system:generic',
    groups: ['system:serviceaccounts', 'system:serviceaccounts:kube-system'],
  },
  { user: 'system:anonymous', groups: ['system:unauthenticated'] },
];

describe('deploy/audit/policy.yaml', () => {
  it('is an audit.k8s.io/v1 Policy of well-formed rules', () => {
    expect(policy.apiVersion).toBe('audit.k8s.io/v1');
    expect(policy.kind).toBe('Policy');
    const allowed = new Set([
      'level',
      'users',
      'userGroups',
      'verbs',
      'resources',
      'namespaces',
      'nonResourceURLs',
      'omitStages',
      'omitManagedFields',
    ]);
    for (const rule of policy.rules) {
      expect(LEVELS).toContain(rule.level);
      expect(Object.keys(rule).filter((k) => !allowed.has(k))).toEqual([]);
      // The API server rejects a rule that mixes resources and non-resource URLs.
      expect(
        Boolean(rule.nonResourceURLs?.length) && Boolean(rule.resources?.length || rule.namespaces?.length),
      ).toBe(false);
      for (const gr of rule.resources ?? []) {
        expect(Object.keys(gr).filter((k) => !['group', 'resources', 'resourceNames'].includes(k))).toEqual(
          [],
        );
      }
    }
  });

  it('names, in its comments, only detections that exist', () => {
    const detections = join(deploy, '../detections');
    const names = new Set(
      readdirSync(detections, { recursive: true, encoding: 'utf8' })
        .filter((f) => f.endsWith('.yml') || f.endsWith('.yaml'))
        .flatMap((f) =>
          [...readFileSync(join(detections, f), 'utf8').matchAll(/^name:\s*([\w-]+)/gm)].map((m) => m[1]),
        ),
    );
    const cited = new Set(
      readFileSync(join(deploy, 'audit/policy.yaml'), 'utf8').match(/\bk8s-[a-z-]+[a-z]/g),
    );
    expect(cited.size).toBeGreaterThan(20);
    expect([...cited].filter((name) => !names.has(name))).toEqual([]);
  });

  it('omits the RequestReceived stage', () => {
    expect(policy.omitStages).toContain('RequestReceived');
  });

  it('never logs Secret or TokenReview bodies, for any verb or identity', () => {
    for (const who of identities) {
      for (const verb of allVerbs) {
        expect(
          rank(levelFor({ ...who, verb, resource: 'secrets', namespace: 'default', name: 's' })),
          `${who.user} ${verb} secrets`,
        ).toBeLessThanOrEqual(rank('Metadata'));
      }
      expect(
        rank(levelFor({ ...who, verb: 'create', group: 'authentication.k8s.io', resource: 'tokenreviews' })),
      ).toBeLessThanOrEqual(rank('Metadata'));
    }
  });

  it('logs Secret access by people at Metadata (enumeration and secret-read rules need it)', () => {
    for (const verb of ['get', 'list', 'watch', 'create', 'delete']) {
      expect(levelFor({ ...alice, verb, resource: 'secrets', namespace: 'default' })).toBe('Metadata');
    }
  });

  it('never logs the response of a TokenRequest (it is the issued token)', () => {
    expect(
      rank(
        levelFor({
          ...alice,
          verb: 'create',
          resource: 'serviceaccounts',
          subresource: 'token',
          namespace: 'default',
        }),
      ),
    ).toBeLessThanOrEqual(rank('Request'));
  });

  it('logs ConfigMap writes at Request and reads at Metadata', () => {
    for (const verb of ['create', 'update', 'patch']) {
      expect(levelFor({ ...alice, verb, resource: 'configmaps', namespace: 'default' })).toBe('Request');
    }
    for (const who of identities) {
      for (const verb of ['get', 'list', 'watch', 'delete']) {
        expect(
          rank(levelFor({ ...who, verb, resource: 'configmaps', namespace: 'default' })),
        ).toBeLessThanOrEqual(rank('Metadata'));
      }
    }
  });

  it('logs every RBAC object at RequestResponse', () => {
    for (const resource of ['roles', 'rolebindings', 'clusterroles', 'clusterrolebindings']) {
      for (const verb of allVerbs) {
        expect(
          levelFor({ ...alice, verb, group: 'rbac.authorization.k8s.io', resource }),
          `${verb} ${resource}`,
        ).toBe('RequestResponse');
      }
    }
  });

  it('logs writes to pods, workloads, exposure, webhooks, CSRs and service accounts at RequestResponse', () => {
    const objects: [string, string][] = [
      ['', 'pods'],
      ['apps', 'deployments'],
      ['apps', 'daemonsets'],
      ['apps', 'statefulsets'],
      ['apps', 'replicasets'],
      ['batch', 'jobs'],
      ['batch', 'cronjobs'],
      ['', 'services'],
      ['networking.k8s.io', 'ingresses'],
      ['networking.k8s.io', 'networkpolicies'],
      ['admissionregistration.k8s.io', 'validatingwebhookconfigurations'],
      ['admissionregistration.k8s.io', 'mutatingwebhookconfigurations'],
      ['certificates.k8s.io', 'certificatesigningrequests'],
      ['', 'serviceaccounts'],
    ];
    for (const [group, resource] of objects) {
      for (const verb of writes) {
        expect(
          levelFor({ ...alice, verb, group, resource, namespace: 'default' }),
          `${verb} ${resource}`,
        ).toBe('RequestResponse');
      }
    }
  });

  it('logs exec, attach and port-forward into pods', () => {
    for (const subresource of ['exec', 'attach', 'portforward']) {
      expect(
        levelFor({ ...alice, verb: 'create', resource: 'pods', subresource, namespace: 'default' }),
      ).toBe('RequestResponse');
      expect(levelFor({ ...alice, verb: 'get', resource: 'pods', subresource, namespace: 'default' })).toBe(
        'RequestResponse',
      );
    }
  });

  it('keeps failed and anonymous requests on ordinary resources', () => {
    expect(
      levelFor({
        user: 'system:anonymous',
        groups: ['system:unauthenticated'],
        verb: 'list',
        resource: 'pods',
      }),
    ).toBe('Metadata');
    expect(levelFor({ ...alice, verb: 'get', resource: 'nodes' })).toBe('Metadata');
    expect(levelFor({ user: 'system:anonymous', verb: 'get', path: '/api' })).toBe('Metadata');
  });

  it('drops the noisiest low-value traffic', () => {
    expect(
      levelFor({
        user: 'system:kube-proxy',
        verb: 'watch',
        group: 'discovery.k8s.io',
        resource: 'endpointslices',
      }),
    ).toBe('None');
    expect(levelFor({ ...kubelet, verb: 'watch', resource: 'pods' })).toBe('None');
    expect(
      levelFor({
        ...kubelet,
        verb: 'update',
        group: 'coordination.k8s.io',
        resource: 'leases',
        namespace: 'kube-node-lease',
      }),
    ).toBe('None');
    expect(
      levelFor({
        user: 'system:kube-controller-manager',
        verb: 'update',
        resource: 'endpoints',
        namespace: 'default',
      }),
    ).toBe('None');
    for (const path of ['/healthz', '/healthz/etcd', '/readyz', '/livez', '/metrics', '/version']) {
      expect(levelFor({ user: 'system:anonymous', verb: 'get', path }), path).toBe('None');
    }
    expect(levelFor({ ...alice, verb: 'list', resource: 'events', namespace: 'default' })).toBe('None');
    // ...but Event writes carry image pull failures and quota refusals.
    expect(levelFor({ ...kubelet, verb: 'create', resource: 'events', namespace: 'default' })).toBe(
      'Request',
    );
  });
});

describe('deploy/audit/webhook-kubeconfig.yaml', () => {
  const config = read('audit/webhook-kubeconfig.yaml') as {
    kind: string;
    clusters: { name: string; cluster: { server: string; 'certificate-authority'?: string } }[];
    users: { name: string; user: Record<string, string> }[];
    contexts: { context: { cluster: string; user: string } }[];
    'current-context': string;
  };

  it('points an https cluster at /v1/audit and verifies the server', () => {
    expect(config.kind).toBe('Config');
    const server = config.clusters[0]?.cluster.server ?? '';
    expect(new URL(server).protocol).toBe('https:');
    expect(new URL(server).pathname).toBe('/v1/audit');
    expect(config.clusters[0]?.cluster['certificate-authority']).toBeTruthy();
  });

  it('offers a bearer-token user and a client-certificate user, with no inline secret', () => {
    const users = Object.fromEntries(config.users.map((u) => [u.name, u.user]));
    expect(Object.values(users).some((u) => u.tokenFile)).toBe(true);
    expect(Object.values(users).some((u) => u['client-certificate'] && u['client-key'])).toBe(true);
    for (const u of Object.values(users)) {
      expect(u.token).toBeUndefined();
      expect(u['client-key-data']).toBeUndefined();
    }
    expect(Object.keys(users)).toContain(config.contexts[0]?.context.user);
  });
});

describe('deploy/falco', () => {
  it('falco.yaml sends JSON with output and tags to /v1/falco over verified mutual TLS', () => {
    const falco = read('falco/falco.yaml');
    expect(falco).toMatchObject({
      json_output: true,
      json_include_output_property: true,
      json_include_tags_property: true,
      http_output: { enabled: true, insecure: false, mtls: true },
    });
    const url = new URL(falco.http_output.url);
    expect([url.protocol, url.pathname]).toEqual(['https:', '/v1/falco']);
    expect(falco.http_output.client_cert).toBeTruthy();
    expect(falco.http_output.client_key).toBeTruthy();
    expect(falco.http_output.ca_cert).toBeTruthy();
  });

  it('the Helm values say the same as falco.yaml', () => {
    const falco = read('falco/falco.yaml');
    const values = read('falco/values-falco.yaml');
    for (const key of ['json_output', 'json_include_output_property', 'json_include_tags_property']) {
      expect(values.falco[key], key).toBe(falco[key]);
    }
    expect(values.falco.http_output).toMatchObject(falco.http_output);
  });

  it('falcosidekick posts to /v1/falco with certificate checks', () => {
    const sidekick = read('falco/values-falcosidekick.yaml').falcosidekick.config;
    const url = new URL(sidekick.webhook.address);
    expect([url.protocol, url.pathname]).toEqual(['https:', '/v1/falco']);
    expect(sidekick.webhook.checkcert).toBe(true);
    const plain = read('falco/falcosidekick.yaml');
    expect(plain.webhook.address).toBe(sidekick.webhook.address);
    expect(plain.webhook.checkcert).toBe(true);
  });

  it('falcosidekick gets the token from its environment, not from a variable in its config it would not expand', () => {
    for (const file of ['falco/falcosidekick.yaml', 'falco/values-falcosidekick.yaml']) {
      const text = readFileSync(join(deploy, file), 'utf8');
      const config = file.includes('values') ? parse(text).falcosidekick.config : parse(text);
      expect(JSON.stringify(config), file).not.toMatch(/\$\{|\$[A-Z_]{2,}|Bearer/);
    }
    const sidekick = read('falco/values-falcosidekick.yaml').falcosidekick.config;
    // existingSecret would replace the chart's Secret, which carries WEBHOOK_ADDRESS: no webhook at all.
    expect(sidekick.existingSecret ?? '').toBe('');
    const header = sidekick.extraEnv.find((e: { name: string }) => e.name === 'WEBHOOK_CUSTOMHEADERS');
    expect(header?.valueFrom?.secretKeyRef?.key).toBe('WEBHOOK_CUSTOMHEADERS');
  });

  it('the documented WEBHOOK_CUSTOMHEADERS value gives Klaxon a bearer header, split as falcosidekick splits it', () => {
    const readme = readFileSync(join(deploy, 'falco/README.md'), 'utf8');
    const value = readme.match(/WEBHOOK_CUSTOMHEADERS="([^"]+)"/)?.[1] ?? '';
    const token = randomBytes(32).toString('base64');
    // falcosidekick's config.go: split on ",", then on ":", keep pairs of exactly two parts.
    const headers = Object.fromEntries(
      value
        .replace('$TOKEN', token)
        .split(',')
        .map((h) => h.split(':'))
        .filter((kv) => kv.length === 2),
    );
    expect(headers).toEqual({ Authorization: `Bearer ${token}` });
  });
});
