import { describe, expect, it } from 'vitest';
import { Detector } from '../../../src/detect/index.ts';
import { audit, rulesFrom } from '../detect/helpers.ts';

const RULE = `title: Privileged pod
name: every-test-privileged
id: 3c1b6f0e-9a4d-4c2e-8f7a-5b6d7e8f9a01
status: test
level: high
logsource: {product: kubernetes, service: audit}
detection:
    selection:
        verb: create
        requestObject.spec.containers.securityContext.privileged: true
    condition: selection
`;

/** An allow-list that holds only when every container runs a trusted image. */
const FILTER = `title: Trusted images
id: 7d2e4f60-1b3c-4d5e-9f80-a1b2c3d4e5f6
logsource: {product: kubernetes, service: audit}
klaxon:
    arrays: every
filter:
    rules: [every-test-privileged]
    selection:
        requestObject.spec.containers.image|startswith: [registry.k8s.io/, quay.io/cilium/]
    init_none:
        requestObject.spec.initContainers: null
    init:
        requestObject.spec.initContainers.image|startswith: [registry.k8s.io/, quay.io/cilium/]
    condition: not (selection and (init_none or init))
`;

const pod = (containers: unknown[], initContainers?: unknown[]) =>
  audit({
    verb: 'create',
    user: { username: 'mallory' },
    objectRef: { resource: 'pods', namespace: 'shop' },
    requestObject: { kind: 'Pod', spec: { containers, ...(initContainers ? { initContainers } : {}) } },
  });
const trusted = { name: 'a', image: 'quay.io/cilium/cilium:v1.15.5', securityContext: { privileged: true } };
const pause = { name: 'p', image: 'registry.k8s.io/pause:3.9' };
const evil = { name: 'e', image: 'docker.io/library/alpine:3.19', securityContext: { privileged: true } };

function fires(rules: string[], event: ReturnType<typeof pod>): boolean {
  const { ruleset, errors } = rulesFrom(...rules);
  expect(errors).toEqual([]);
  return new Detector(ruleset).process(event).some((a) => a.rule.name === 'every-test-privileged');
}

/** `klaxon: {arrays: every}`: a field path crossing arrays matches only when every element matches. */
describe('arrays: every', () => {
  it('allows a pod whose containers and init containers all run trusted images', () => {
    expect(fires([RULE, FILTER], pod([trusted, pause]))).toBe(false);
    expect(fires([RULE, FILTER], pod([trusted], [pause]))).toBe(false);
  });

  it('does not allow a pod where one container (or init container) runs another image', () => {
    expect(fires([RULE, FILTER], pod([pause, evil]))).toBe(true);
    expect(fires([RULE, FILTER], pod([trusted], [{ name: 'i', image: 'ghcr.io/x/y:1' }]))).toBe(true);
  });

  it('counts a container without the field (a merge patch naming only its securityContext) as not matching', () => {
    expect(fires([RULE, FILTER], pod([pause, { name: 'e', securityContext: { privileged: true } }]))).toBe(
      true,
    );
  });

  it('the default (any element) is unchanged: one trusted image is enough', () => {
    const anyFilter = FILTER.replace('klaxon:\n    arrays: every\n', '');
    expect(fires([RULE, anyFilter], pod([pause, evil]))).toBe(false);
  });

  it('rejects an unknown arrays mode at load with the place of the error', () => {
    const { errors } = rulesFrom(RULE, FILTER.replace('arrays: every', 'arrays: most'));
    expect(errors).toHaveLength(1);
    expect(errors[0]!.reason).toContain('klaxon.arrays');
  });
});
