import { describe, expect, it } from 'vitest';
import { audit, falco, matches } from './helpers.ts';

const pod = audit({
  verb: 'create',
  user: { username: 'Alice@Example.com', groups: ['system:authenticated', 'devs'] },
  sourceIPs: ['10.1.2.3', '2001:db8::7'],
  userAgent: 'kubectl/v1.30.0 (linux/amd64)',
  requestURI: '/api/v1/namespaces/default/pods',
  objectRef: { resource: 'pods', namespace: 'default', name: 'web', apiVersion: 'v1' },
  responseStatus: { code: 201 },
  annotations: { 'authorization.k8s.io/decision': 'allow' },
  requestObject: {
    metadata: { name: 'web', labels: { 'app.kubernetes.io/name': 'web' }, owner: 'web' },
    spec: {
      containers: [
        { name: 'a', image: 'nginx:1.25', securityContext: { privileged: false } },
        { name: 'b', image: 'busybox', securityContext: { privileged: true }, args: ['c2ggLWMgaWQ='] },
      ],
      volumes: [{ name: 'root', hostPath: { path: '/' } }],
      empty: '',
      nothing: null,
    },
  },
});

describe('maps, lists and values', () => {
  it('ANDs map entries and ORs list values', () => {
    expect(matches('sel:\n  verb: [get, create]\n  objectRef.resource: pods\ncondition: sel', pod)).toBe(
      true,
    );
    expect(matches('sel:\n  verb: [get, list]\n  objectRef.resource: pods\ncondition: sel', pod)).toBe(false);
  });
  it('ORs a list of maps', () => {
    expect(matches('sel:\n  - verb: delete\n  - objectRef.name: web\ncondition: sel', pod)).toBe(true);
    expect(matches('sel:\n  - verb: delete\n  - objectRef.name: api\ncondition: sel', pod)).toBe(false);
  });
  it('is case-insensitive by default and case-sensitive with cased', () => {
    expect(matches('sel:\n  user.username: alice@example.com\ncondition: sel', pod)).toBe(true);
    expect(matches('sel:\n  user.username|cased: alice@example.com\ncondition: sel', pod)).toBe(false);
    expect(matches('sel:\n  user.username|cased: Alice@Example.com\ncondition: sel', pod)).toBe(true);
  });
  it('matches numbers against numbers and their text', () => {
    expect(matches('sel:\n  responseStatus.code: 201\ncondition: sel', pod)).toBe(true);
    expect(matches("sel:\n  responseStatus.code: '201'\ncondition: sel", pod)).toBe(true);
    expect(matches('sel:\n  responseStatus.code: 200\ncondition: sel', pod)).toBe(false);
  });
  it('matches booleans', () => {
    expect(
      matches('sel:\n  requestObject.spec.containers.securityContext.privileged: true\ncondition: sel', pod),
    ).toBe(true);
  });
  it('matches a path across an array when any element matches (the 2nd container)', () => {
    expect(matches('sel:\n  requestObject.spec.containers.image: busybox\ncondition: sel', pod)).toBe(true);
    expect(matches('sel:\n  requestObject.spec.containers.image: alpine\ncondition: sel', pod)).toBe(false);
  });
  it('matches list-valued fields by element', () => {
    expect(matches('sel:\n  user.groups: devs\ncondition: sel', pod)).toBe(true);
  });
  it('handles null (absent or null) and empty values', () => {
    expect(matches('sel:\n  requestObject.spec.nothing: null\ncondition: sel', pod)).toBe(true);
    expect(matches('sel:\n  requestObject.spec.absent: null\ncondition: sel', pod)).toBe(true);
    expect(matches('sel:\n  verb: null\ncondition: sel', pod)).toBe(false);
    expect(matches("sel:\n  requestObject.spec.empty: ''\ncondition: sel", pod)).toBe(true);
    expect(matches("sel:\n  verb: ''\ncondition: sel", pod)).toBe(false);
  });
});

describe('wildcards and escaping', () => {
  it('supports * and ?', () => {
    expect(matches("sel:\n  userAgent: 'kubectl/*'\ncondition: sel", pod)).toBe(true);
    expect(matches("sel:\n  objectRef.name: 'w?b'\ncondition: sel", pod)).toBe(true);
    expect(matches("sel:\n  objectRef.name: 'w?'\ncondition: sel", pod)).toBe(false);
    expect(matches("sel:\n  requestURI: '*/namespaces/*/pods'\ncondition: sel", pod)).toBe(true);
  });
  it('treats escaped wildcards literally', () => {
    const e = audit({ verb: 'get', requestURI: '/a*b?c\\d' });
    expect(matches("sel:\n  requestURI: '/a\\*b\\?c\\d'\ncondition: sel", e)).toBe(true);
    expect(matches("sel:\n  requestURI: '/a\\*b\\?c\\\\d'\ncondition: sel", e)).toBe(true);
    expect(matches("sel:\n  requestURI: '/a\\*x'\ncondition: sel", e)).toBe(false);
    const star = audit({ verb: 'get', requestURI: '/aXb' });
    expect(matches("sel:\n  requestURI: '/a\\*b'\ncondition: sel", star)).toBe(false);
  });
});

describe('modifiers', () => {
  it('contains, startswith, endswith', () => {
    expect(matches('sel:\n  userAgent|contains: LINUX\ncondition: sel', pod)).toBe(true);
    expect(matches('sel:\n  userAgent|startswith: kubectl\ncondition: sel', pod)).toBe(true);
    expect(matches("sel:\n  userAgent|endswith: '(linux/amd64)'\ncondition: sel", pod)).toBe(true);
    expect(matches('sel:\n  userAgent|endswith: kubectl\ncondition: sel', pod)).toBe(false);
  });
  it('all: every value must match', () => {
    expect(matches('sel:\n  userAgent|contains|all: [kubectl, linux]\ncondition: sel', pod)).toBe(true);
    expect(matches('sel:\n  userAgent|contains|all: [kubectl, windows]\ncondition: sel', pod)).toBe(false);
  });
  it('re with i, m and s', () => {
    expect(matches("sel:\n  userAgent|re: '^kubectl/v1\\.[0-9]+'\ncondition: sel", pod)).toBe(true);
    expect(matches("sel:\n  userAgent|re: '^KUBECTL'\ncondition: sel", pod)).toBe(false);
    expect(matches("sel:\n  userAgent|re|i: '^KUBECTL'\ncondition: sel", pod)).toBe(true);
    const multi = audit({ verb: 'get', requestURI: 'first\nsecond' });
    expect(matches("sel:\n  requestURI|re: '^second$'\ncondition: sel", multi)).toBe(false);
    expect(matches("sel:\n  requestURI|re|m: '^second$'\ncondition: sel", multi)).toBe(true);
    expect(matches("sel:\n  requestURI|re: 'first.second'\ncondition: sel", multi)).toBe(false);
    expect(matches("sel:\n  requestURI|re|s: 'first.second'\ncondition: sel", multi)).toBe(true);
  });
  it('a catastrophic regex on a long input completes (linear-time engine)', () => {
    const long = audit({ verb: 'get', requestURI: `${'a'.repeat(50_000)}!` });
    expect(matches("sel:\n  requestURI|re: '(a+)+$'\ncondition: sel", long)).toBe(false);
    expect(matches("sel:\n  requestURI|re: '^(a|aa)+$'\ncondition: sel", long)).toBe(false);
  });
  it('cidr for IPv4 and IPv6', () => {
    expect(matches('sel:\n  sourceIPs|cidr: 10.0.0.0/8\ncondition: sel', pod)).toBe(true);
    expect(matches('sel:\n  sourceIPs|cidr: 192.168.0.0/16\ncondition: sel', pod)).toBe(false);
    expect(matches("sel:\n  sourceIPs|cidr: '2001:db8::/32'\ncondition: sel", pod)).toBe(true);
    expect(matches("sel:\n  sourceIPs|cidr: 'fd00::/8'\ncondition: sel", pod)).toBe(false);
    expect(matches('sel:\n  source.ip|cidr: 10.1.2.0/24\ncondition: sel', pod)).toBe(true);
  });
  it('exists', () => {
    expect(matches('sel:\n  requestObject.spec.volumes.hostPath|exists: true\ncondition: sel', pod)).toBe(
      true,
    );
    expect(matches('sel:\n  requestObject.spec.hostNetwork|exists: true\ncondition: sel', pod)).toBe(false);
    expect(matches('sel:\n  requestObject.spec.hostNetwork|exists: false\ncondition: sel', pod)).toBe(true);
    expect(matches('sel:\n  requestObject.spec.nothing|exists: true\ncondition: sel', pod)).toBe(true);
  });
  it('gt, gte, lt, lte', () => {
    expect(matches('sel:\n  responseStatus.code|gte: 201\ncondition: sel', pod)).toBe(true);
    expect(matches('sel:\n  responseStatus.code|gt: 201\ncondition: sel', pod)).toBe(false);
    expect(matches('sel:\n  responseStatus.code|lt: 300\ncondition: sel', pod)).toBe(true);
    expect(matches('sel:\n  responseStatus.code|lte: 200\ncondition: sel', pod)).toBe(false);
  });
  it('neq', () => {
    expect(matches('sel:\n  verb|neq: get\ncondition: sel', pod)).toBe(true);
    expect(matches('sel:\n  verb|neq: create\ncondition: sel', pod)).toBe(false);
  });
  it('fieldref compares two fields of the event', () => {
    expect(
      matches('sel:\n  objectRef.name|fieldref: requestObject.metadata.owner\ncondition: sel', pod),
    ).toBe(true);
    expect(matches('sel:\n  objectRef.name|fieldref: objectRef.namespace\ncondition: sel', pod)).toBe(false);
  });
  it('base64 and base64offset', () => {
    // 'c2ggLWMgaWQ=' is base64 of 'sh -c id'
    expect(
      matches("sel:\n  requestObject.spec.containers.args|base64: 'sh -c id'\ncondition: sel", pod),
    ).toBe(true);
    expect(
      matches(
        "sel:\n  requestObject.spec.containers.args|base64offset|contains: '-c id'\ncondition: sel",
        pod,
      ),
    ).toBe(true);
    expect(
      matches(
        "sel:\n  requestObject.spec.containers.args|base64offset|contains: 'rm -rf'\ncondition: sel",
        pod,
      ),
    ).toBe(false);
  });
  it('rejects unknown modifiers', () => {
    expect(() => matches('sel:\n  verb|windash: x\ncondition: sel', pod)).toThrow(
      /unsupported modifier "windash"/,
    );
  });
});

describe('keywords', () => {
  it('searches every string of the event', () => {
    expect(matches('kw:\n  - BUSYBOX\n  - nothing-like-this\ncondition: kw', pod)).toBe(true);
    expect(matches('kw:\n  - nothing-like-this\ncondition: kw', pod)).toBe(false);
  });
  it('|all keywords must all appear', () => {
    expect(matches("kw:\n  '|all': [nginx, busybox]\ncondition: kw", pod)).toBe(true);
    expect(matches("kw:\n  '|all': [nginx, alpine]\ncondition: kw", pod)).toBe(false);
  });
});

describe('conditions', () => {
  const d = (cond: string) =>
    `sel_a:\n  verb: create\nsel_b:\n  objectRef.resource: secrets\nfilter_x:\n  user.username|startswith: alice\n_hidden:\n  verb: delete\ncondition: ${cond}`;
  it('and / or / not / parentheses with precedence', () => {
    expect(matches(d('sel_a and not sel_b'), pod)).toBe(true);
    expect(matches(d('sel_a and sel_b'), pod)).toBe(false);
    expect(matches(d('sel_b or sel_a and filter_x'), pod)).toBe(true);
    expect(matches(d('(sel_b or sel_a) and not filter_x'), pod)).toBe(false);
    expect(matches(d('not sel_b and not _hidden'), pod)).toBe(true);
    expect(matches(d('not (sel_b or sel_a)'), pod)).toBe(false);
  });
  it('1 of / all of with patterns and them (them skips _names)', () => {
    expect(matches(d('1 of sel_*'), pod)).toBe(true);
    expect(matches(d('all of sel_*'), pod)).toBe(false);
    expect(matches(d('1 of sel_* and not 1 of filter*'), pod)).toBe(false);
    expect(matches(d('1 of them'), pod)).toBe(true);
    expect(matches(d('all of them'), pod)).toBe(false);
    expect(
      matches(
        `sel_a:\n  verb: create\nfilter_x:\n  user.username|startswith: alice\n_hidden:\n  verb: delete\ncondition: all of them`,
        pod,
      ),
    ).toBe(true);
  });
  it('a list of conditions is refused, as the Sigma v2 schema says (with file:line)', () => {
    expect(() => matches('a:\n  verb: get\nb:\n  verb: create\ncondition: [a, b]', pod)).toThrow(
      /rule0\.yml:12: detection rule: detection\.condition must be string/,
    );
  });
  it('rejects unknown identifiers and bad syntax', () => {
    expect(() => matches('sel:\n  verb: get\ncondition: sel and other', pod)).toThrow(
      /unknown search identifier "other"/,
    );
    expect(() => matches('sel:\n  verb: get\ncondition: (sel', pod)).toThrow(/parenthesis/);
    expect(() => matches('sel:\n  verb: get\ncondition: 1 of nope*', pod)).toThrow(
      /matches no search identifier/,
    );
  });
});

describe('field resolution', () => {
  it("maps pySigma's short names to audit paths", () => {
    expect(
      matches(
        'sel:\n  resource: pods\n  namespace: default\n  username: alice@example.com\ncondition: sel',
        pod,
      ),
    ).toBe(true);
    const rb = audit({
      verb: 'create',
      objectRef: { resource: 'deployments', apiGroup: 'apps', subresource: 'scale' },
    });
    expect(matches('sel:\n  apiGroup: apps\n  subresource: scale\ncondition: sel', rb)).toBe(true);
  });
  it('reaches keys that contain dots (annotations, labels)', () => {
    expect(matches('sel:\n  annotations.authorization.k8s.io/decision: allow\ncondition: sel', pod)).toBe(
      true,
    );
    expect(
      matches('sel:\n  requestObject.metadata.labels.app.kubernetes.io/name: web\ncondition: sel', pod),
    ).toBe(true);
  });
  it('falls back to ECS fields of the normalized event', () => {
    expect(
      matches('sel:\n  orchestrator.cluster.name: prod\n  user.name: alice@example.com\ncondition: sel', pod),
    ).toBe(true);
  });
  it('resolves Falco output_fields keys with dots, longest key first', () => {
    const f = falco({
      rule: 'Terminal shell in container',
      priority: 'Notice',
      tags: ['container', 'mitre_execution', 'T1059'],
      output_fields: { 'k8s.pod.name': 'web', 'k8s.ns.name': 'default', 'proc.cmdline': 'bash -i' },
    });
    const ls = '{product: falco}';
    expect(
      matches('sel:\n  output_fields.k8s.pod.name: web\n  rule|contains: shell\ncondition: sel', f, ls),
    ).toBe(true);
    expect(matches('sel:\n  tags: mitre_execution\n  priority: notice\ncondition: sel', f, ls)).toBe(true);
    expect(matches('sel:\n  orchestrator.namespace: default\ncondition: sel', f, ls)).toBe(true);
    expect(matches('sel:\n  output_fields.k8s.pod.name: api\ncondition: sel', f, ls)).toBe(false);
  });
  it('applies rules only to events of their logsource', () => {
    const f = falco({ rule: 'x', output_fields: {} });
    expect(matches('sel:\n  rule: x\ncondition: sel', f)).toBe(false);
    expect(matches('sel:\n  verb: create\ncondition: sel', pod, '{product: falco}')).toBe(false);
  });
});

describe('audit stages', () => {
  it('evaluates ResponseComplete and stage-less events, not RequestReceived', () => {
    const sel = 'sel:\n  verb: get\ncondition: sel';
    expect(matches(sel, audit({ verb: 'get', stage: 'ResponseComplete' }))).toBe(true);
    expect(matches(sel, audit({ verb: 'get', stage: undefined }))).toBe(true);
    expect(matches(sel, audit({ verb: 'get', stage: 'RequestReceived' }))).toBe(false);
    expect(matches(sel, audit({ verb: 'get', stage: 'ResponseStarted' }))).toBe(false);
  });
  it('evaluates ResponseStarted for exec, attach and portforward', () => {
    const sel = 'sel:\n  objectRef.subresource: [exec, attach]\ncondition: sel';
    const ev = (sub: string) =>
      audit({
        verb: 'create',
        stage: 'ResponseStarted',
        objectRef: { resource: 'pods', name: 'p', subresource: sub },
      });
    expect(matches(sel, ev('exec'))).toBe(true);
    expect(matches(sel, ev('attach'))).toBe(true);
    expect(matches('sel:\n  verb: create\ncondition: sel', ev('log'))).toBe(false);
  });
});

describe('evaluation order', () => {
  // Written expensive part first; the cheap identity test decides, so the addresses are never read.
  const detection =
    'trusted:\n  sourceIPs|cidr: 10.0.0.0/8\nidentity:\n  user.username|startswith: "system:node:"\n' +
    'condition: not trusted and identity';

  /** `pod` whose sourceIPs count their reads. */
  function counting(username: string, ips: string[]) {
    const event = audit({ ...pod.kubernetes!.audit, user: { username } });
    const reads = { n: 0 };
    Object.defineProperty(event.kubernetes!.audit, 'sourceIPs', {
      enumerable: true,
      get: () => {
        reads.n++;
        return ips;
      },
    });
    return { event, reads };
  }

  it('tests the cheapest part of a conjunction first, with the same result', () => {
    const alice = counting('alice', ['192.0.2.1']);
    expect(matches(detection, alice.event)).toBe(false);
    expect(alice.reads.n).toBe(0);
    const node = counting('system:node:ip-10-0-1-2', ['192.0.2.1']);
    expect(matches(detection, node.event)).toBe(true);
    expect(node.reads.n).toBeGreaterThan(0);
    expect(matches(detection, counting('system:node:ip-10-0-1-2', ['10.0.1.2']).event)).toBe(false);
  });
});
