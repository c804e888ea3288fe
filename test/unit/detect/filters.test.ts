import { describe, expect, it } from 'vitest';
import { audit, detector, run } from './helpers.ts';

const secretRead = `title: Secret read
name: secret-read
id: 0a000000-0000-4000-8000-000000000001
logsource: {product: kubernetes, service: audit}
detection:
  sel: {verb: get, objectRef.resource: secrets}
  condition: sel
level: medium
`;
const podCreate = `title: Pod create
name: pod-create
id: 0a000000-0000-4000-8000-000000000002
logsource: {product: kubernetes, service: audit}
detection:
  sel: {verb: create, objectRef.resource: pods}
  condition: sel
level: medium
`;
const filter = (
  rules: string,
  logsource = '{product: kubernetes, service: audit}',
) => `title: Allow cert-manager
id: 0a000000-0000-4000-8000-0000000000ff
logsource: ${logsource}
filter:
  rules: ${rules}
  selection:
    user.username|startswith: 'system:serviceaccount:cert-manager:'
  condition: not selection
`;
const ev = (verb: string, resource: string, user: string) =>
  audit({ verb, user: { username: user }, objectRef: { resource, namespace: 'cert-manager', name: 'x' } });
const names = (texts: string[], events: ReturnType<typeof ev>[]) =>
  run(detector(texts), events).map((a) => a.rule.name);

describe('Sigma filter rules', () => {
  const cm = 'system:serviceaccount:cert-manager:cert-manager';
  it('removes the matches of the rules they name', () => {
    expect(names([secretRead, filter('[secret-read]')], [ev('get', 'secrets', cm)])).toEqual([]);
    expect(names([secretRead, filter('[secret-read]')], [ev('get', 'secrets', 'alice')])).toEqual([
      'secret-read',
    ]);
  });
  it('can name rules by id', () => {
    expect(
      names([secretRead, filter('[0a000000-0000-4000-8000-000000000001]')], [ev('get', 'secrets', cm)]),
    ).toEqual([]);
  });
  it('leaves the rules they do not name alone', () => {
    expect(names([secretRead, podCreate, filter('[secret-read]')], [ev('create', 'pods', cm)])).toEqual([
      'pod-create',
    ]);
  });
  it('applies to every rule it names', () => {
    const both = filter('[secret-read, pod-create]');
    expect(
      names([secretRead, podCreate, both], [ev('get', 'secrets', cm), ev('create', 'pods', cm)]),
    ).toEqual([]);
  });
  it('does not apply to rules of another logsource', () => {
    expect(
      names([secretRead, filter('[secret-read]', '{product: falco}')], [ev('get', 'secrets', cm)]),
    ).toEqual(['secret-read']);
  });
});
