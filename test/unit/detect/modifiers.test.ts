import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Detector, loadRules } from '../../../src/detect/index.ts';
import { PlaceholderStore } from '../../../src/detect/placeholders.ts';
import { audit, matches, rule, rulesFrom } from './helpers.ts';

/** Loads one rule whose selection is `key: value` (line 9 of the file); returns the one load error's reason. */
function refused(key: string, value: string): string {
  const { ruleset, errors } = rulesFrom(rule(`sel:\n  ${key}: ${value}\ncondition: sel`));
  expect(ruleset.rules).toEqual([]);
  expect(errors).toHaveLength(1);
  expect(errors[0]!.where).toMatch(/rule0\.yml:9$/);
  return errors[0]!.reason;
}

const ev = audit({
  verb: 'create',
  user: { username: 'Alice@Example.com' },
  sourceIPs: ['10.1.2.3'],
  userAgent: 'kubectl/v1.30.0 (linux/amd64)',
  requestURI: '/api/v1/namespaces/default/pods',
  objectRef: { resource: 'pods', namespace: 'default', name: 'web' },
  responseStatus: { code: 201 },
  requestObject: {
    metadata: { name: 'web', owner: 'web', team: 'web' },
    spec: { containers: [{ name: 'a', args: ['c2ggLWMgaWQ='] }] },
  },
});
const m = (detection: string) => matches(detection, ev);

describe('modifier chains refused at load (file:line, the item as written, the reason)', () => {
  it('re|contains: a regular expression says itself where it matches', () => {
    expect(refused('userAgent|re|contains', "'^kubectl'")).toBe(
      'userAgent|re|contains: "contains" cannot follow "re": "contains" applies to the value as written, an encoded string or a %placeholder% value, and after "re" the value is a regular expression',
    );
  });
  it('cidr|endswith: a range matches whole addresses', () => {
    expect(refused('sourceIPs|cidr|endswith', '10.0.0.0/8')).toBe(
      'sourceIPs|cidr|endswith: "endswith" cannot follow "cidr": "endswith" applies to the value as written, an encoded string or a %placeholder% value, and after "cidr" the value is a CIDR range',
    );
  });
  it('gt|contains: a comparison matches numbers', () => {
    expect(refused('responseStatus.code|gt|contains', '400')).toMatch(
      /^responseStatus\.code\|gt\|contains: "contains" cannot follow "gt": .* a numeric comparison$/,
    );
  });
  it('base64|re: re applies to the value as written', () => {
    expect(refused('userAgent|base64|re', "'^a'")).toBe(
      'userAgent|base64|re: "re" cannot follow "base64": "re" applies to the value as written, and after "base64" the value is an encoded string',
    );
  });
  it('contains|base64: a pattern with wildcards cannot be encoded', () => {
    expect(refused('userAgent|contains|base64', 'x')).toMatch(
      /"base64" cannot follow "contains": "base64" applies to the value as written, and after "contains" the value is a contains\/startswith\/endswith pattern$/,
    );
  });
  it('base64|base64offset: one transformation of the value written', () => {
    expect(refused('userAgent|base64|base64offset', 'x')).toMatch(
      /"base64offset" cannot follow "base64": .* an encoded string$/,
    );
  });
  it('contains|startswith: at most one placement', () => {
    expect(refused('userAgent|contains|startswith', 'x')).toBe(
      'userAgent|contains|startswith: "startswith" cannot follow "contains": at most one of contains, startswith, endswith',
    );
  });
  it('gt|lt: at most one comparison', () => {
    expect(refused('responseStatus.code|gt|lt', '400')).toBe(
      'responseStatus.code|gt|lt: "lt" cannot follow "gt": at most one of gt, gte, lt, lte',
    );
  });
  it('re|gt and cidr|re: one type per item', () => {
    expect(refused('userAgent|re|gt', '1')).toMatch(/"gt" cannot follow "re": .* a regular expression$/);
    expect(refused('sourceIPs|cidr|re', "'^10'")).toMatch(/"re" cannot follow "cidr": .* a CIDR range$/);
  });
  it('i|re: a regex flag comes after re', () => {
    expect(refused('userAgent|i|re', "'^KUBECTL'")).toBe(
      'userAgent|i|re: "i" is a flag of "re" and must follow it',
    );
    expect(refused('userAgent|contains|s', 'x')).toMatch(/"s" is a flag of "re" and must follow it$/);
  });
  it('re|cased: regular expressions are case-sensitive already', () => {
    expect(refused('userAgent|re|cased', "'^kubectl'")).toBe(
      'userAgent|re|cased: "cased" does not combine with "re": a regular expression is case-sensitive already (re|i ignores case)',
    );
    expect(refused('userAgent|cased|re', "'^kubectl'")).toMatch(/"cased" does not combine with "re"/);
  });
  it('cased with cidr, a comparison or a field reference', () => {
    expect(refused('sourceIPs|cidr|cased', '10.0.0.0/8')).toMatch(
      /"cased" does not combine with "cidr": addresses have no case$/,
    );
    expect(refused('responseStatus.code|gte|cased', '400')).toMatch(
      /"cased" does not combine with "gte": numbers have no case$/,
    );
    expect(refused('objectRef.name|fieldref|cased', 'requestObject.metadata.owner')).toMatch(
      /"cased" does not combine with "fieldref": a field reference compares the two values exactly$/,
    );
  });
  it('exists takes no other modifier', () => {
    expect(refused('objectRef.name|exists|all', 'true')).toBe(
      'objectRef.name|exists|all: "all" does not combine with "exists": it tests only whether the field is there',
    );
    expect(refused('objectRef.name|neq|exists', 'true')).toMatch(/"neq" does not combine with "exists"/);
    expect(refused('objectRef.name|contains|exists', 'true')).toMatch(
      /"exists" cannot follow "contains": "exists" applies to the value as written/,
    );
  });
  it('fieldref|contains: a field reference is compared whole', () => {
    expect(refused('objectRef.name|fieldref|contains', 'requestObject.metadata.owner')).toMatch(
      /"contains" cannot follow "fieldref": .* a field reference$/,
    );
  });
  it('all|neq: neq already means none of the values', () => {
    expect(refused('verb|all|neq', '[get, list]')).toBe(
      'verb|all|neq: "all" and "neq" do not combine: "neq" already means that none of the values matches',
    );
  });
  it('a modifier given twice', () => {
    expect(refused('userAgent|re|re', "'^a'")).toBe('userAgent|re|re: modifier "re" is given twice');
  });
  it('an unknown modifier', () => {
    expect(refused('userAgent|wide', 'x')).toBe('userAgent|wide: unsupported modifier "wide"');
    expect(refused('userAgent|constructor', 'x')).toMatch(/unsupported modifier "constructor"/);
  });
  it('a placement or encoding of a boolean', () => {
    expect(refused('requestObject.spec.hostPID|contains', 'true')).toBe(
      'requestObject.spec.hostPID|contains: "contains" needs a string or number value',
    );
    expect(refused('requestObject.spec.hostPID|base64', 'true')).toMatch(
      /"base64" needs a string or number value$/,
    );
  });
  it('a modifier on null', () => {
    expect(refused('objectRef.name|contains', 'null')).toBe(
      'objectRef.name|contains: null (absent or null) takes no modifier',
    );
  });
  it('expand combines only with cidr, placements, cased and neq, in any position, and needs a field', () => {
    expect(refused('userAgent|expand|all', "'%indicator_ips%'")).toBe(
      'userAgent|expand|all: "expand" does not combine with "all": a placeholder stands for a list of plain strings or networks',
    );
    expect(refused('userAgent|base64|expand', "'%indicator_ips%'")).toMatch(
      /"expand" does not combine with "base64"/,
    );
    expect(refused("'|expand'", "'%indicator_ips%'")).toBe(
      '|expand: "expand" needs a field: keywords are searched in every string of the event',
    );
  });
  it('keywords: exists, fieldref and neq need a field', () => {
    expect(refused("'|exists'", 'true')).toBe(
      '|exists: "exists" needs a field: keywords are searched in every string of the event',
    );
    expect(refused("'|fieldref'", 'verb')).toMatch(/"fieldref" needs a field/);
    expect(refused("'|neq'", 'x')).toBe(
      '|neq: "neq" needs a field: negate a keyword search with "not" in the condition',
    );
  });
});

describe('modifier chains accepted, and what they do', () => {
  it('contains|all and all|contains (companions go anywhere)', () => {
    expect(m('sel:\n  userAgent|contains|all: [kubectl, linux]\ncondition: sel')).toBe(true);
    expect(m('sel:\n  userAgent|all|contains: [kubectl, linux]\ncondition: sel')).toBe(true);
    expect(m('sel:\n  userAgent|all|contains: [kubectl, windows]\ncondition: sel')).toBe(false);
  });
  it('startswith|cased and cased|endswith', () => {
    expect(m('sel:\n  user.username|startswith|cased: Alice\ncondition: sel')).toBe(true);
    expect(m('sel:\n  user.username|startswith|cased: alice\ncondition: sel')).toBe(false);
    expect(m('sel:\n  user.username|cased|endswith: Example.com\ncondition: sel')).toBe(true);
    expect(m('sel:\n  user.username|cased|endswith: example.com\ncondition: sel')).toBe(false);
  });
  it('contains|neq: present and containing none of the values', () => {
    expect(m('sel:\n  userAgent|contains|neq: [curl, python]\ncondition: sel')).toBe(true);
    expect(m('sel:\n  userAgent|contains|neq: [curl, kubectl]\ncondition: sel')).toBe(false);
  });
  it('base64 then a placement: the encoded value, placed', () => {
    // 'c2ggLWMgaWQ=' is base64 of 'sh -c id'
    const field = 'requestObject.spec.containers.args';
    expect(m(`sel:\n  ${field}|base64|startswith: 'sh -c id'\ncondition: sel`)).toBe(true);
    expect(m(`sel:\n  ${field}|base64|endswith: 'sh -c ls'\ncondition: sel`)).toBe(false);
  });
  it('base64offset|contains|all', () => {
    const field = 'requestObject.spec.containers.args';
    expect(m(`sel:\n  ${field}|base64offset|contains|all: ['sh -c', '-c id']\ncondition: sel`)).toBe(true);
    expect(m(`sel:\n  ${field}|base64offset|contains|all: ['sh -c', 'rm -rf']\ncondition: sel`)).toBe(false);
  });
  it('re with its flags in any order, with all or neq', () => {
    expect(m("sel:\n  userAgent|re|s|i: '^KUBECTL.V1'\ncondition: sel")).toBe(true);
    expect(m("sel:\n  userAgent|re|all: ['^kubectl', 'amd64\\)$']\ncondition: sel")).toBe(true);
    expect(m("sel:\n  userAgent|re|all: ['^kubectl', 'arm64\\)$']\ncondition: sel")).toBe(false);
    expect(m("sel:\n  userAgent|re|neq: '^curl'\ncondition: sel")).toBe(true);
    expect(m("sel:\n  userAgent|re|i|neq: '^KUBECTL'\ncondition: sel")).toBe(false);
  });
  it('cidr with neq or all', () => {
    expect(m('sel:\n  sourceIPs|cidr|neq: [192.168.0.0/16, 172.16.0.0/12]\ncondition: sel')).toBe(true);
    expect(m('sel:\n  sourceIPs|cidr|neq: 10.0.0.0/8\ncondition: sel')).toBe(false);
    expect(m('sel:\n  sourceIPs|cidr|all: [10.0.0.0/8, 10.1.0.0/16]\ncondition: sel')).toBe(true);
    expect(m('sel:\n  sourceIPs|cidr|all: [10.0.0.0/8, 10.2.0.0/16]\ncondition: sel')).toBe(false);
  });
  it('a comparison with all (a range) or neq', () => {
    expect(m('sel:\n  responseStatus.code|gte|all: [200, 201]\ncondition: sel')).toBe(true);
    expect(m('sel:\n  responseStatus.code|gte|all: [200, 300]\ncondition: sel')).toBe(false);
    expect(m('sel:\n  responseStatus.code|gte|neq: 400\ncondition: sel')).toBe(true);
    expect(m('sel:\n  responseStatus.code|lt|neq: 400\ncondition: sel')).toBe(false);
  });
  it('fieldref with neq or all', () => {
    expect(m('sel:\n  objectRef.name|fieldref|neq: objectRef.namespace\ncondition: sel')).toBe(true);
    expect(m('sel:\n  objectRef.name|fieldref|neq: requestObject.metadata.owner\ncondition: sel')).toBe(
      false,
    );
    const both = '[requestObject.metadata.owner, requestObject.metadata.team]';
    expect(m(`sel:\n  objectRef.name|fieldref|all: ${both}\ncondition: sel`)).toBe(true);
    const one = '[requestObject.metadata.owner, objectRef.namespace]';
    expect(m(`sel:\n  objectRef.name|fieldref|all: ${one}\ncondition: sel`)).toBe(false);
  });
  it('expand with cidr, and neq (placements: placeholders.test.ts)', () => {
    expect(m("sel:\n  sourceIPs|expand|cidr: '%trusted_networks%'\ncondition: sel")).toBe(true);
    expect(m("sel:\n  sourceIPs|expand|cidr|neq: '%trusted_networks%'\ncondition: sel")).toBe(false);
  });
  it('cased before or after expand: the placeholder values match with their case', () => {
    const store = new PlaceholderStore();
    store.set('admins', ['Alice@Example.com']);
    const dir = mkdtempSync(join(tmpdir(), 'klaxon-rules-'));
    const cases = ['user.username|cased|expand', 'user.username|expand|cased', 'user.username|expand'];
    const found = cases.map((key) => {
      writeFileSync(join(dir, 'r.yml'), rule(`sel:\n  ${key}: '%admins%'\ncondition: sel`));
      const { ruleset, errors } = loadRules([dir], { placeholders: store });
      expect(errors).toEqual([]);
      const d = new Detector(ruleset);
      const hit = (username: string) => d.evaluate(audit({ verb: 'get', user: { username } })).length > 0;
      return [hit('Alice@Example.com'), hit('alice@example.com')];
    });
    expect(found).toEqual([
      [true, false],
      [true, false],
      [true, true],
    ]);
  });
  it('exists alone', () => {
    expect(m('sel:\n  objectRef.name|exists: true\ncondition: sel')).toBe(true);
    expect(m('sel:\n  objectRef.subresource|exists: true\ncondition: sel')).toBe(false);
  });
  it('all, neq and cased alone', () => {
    expect(m('sel:\n  verb|neq: [get, list]\ncondition: sel')).toBe(true);
    expect(m('sel:\n  user.username|cased: Alice@Example.com\ncondition: sel')).toBe(true);
    expect(m('sel:\n  user.username|cased: alice@example.com\ncondition: sel')).toBe(false);
    expect(m("sel:\n  requestURI|all: ['/api/*', '*/pods']\ncondition: sel")).toBe(true);
  });
  it('keywords: contains by default; re, startswith, cased and all when written', () => {
    expect(m("kw:\n  '|re': 'kubectl/v[0-9]+'\ncondition: kw")).toBe(true);
    expect(m("kw:\n  '|startswith': '/api/v1/'\ncondition: kw")).toBe(true);
    expect(m("kw:\n  '|startswith': 'v1/'\ncondition: kw")).toBe(false);
    expect(m("kw:\n  '|cased': 'Example'\ncondition: kw")).toBe(true);
    expect(m("kw:\n  '|cased': 'EXAMPLE'\ncondition: kw")).toBe(false);
    expect(m("kw:\n  '|all|cased': [Alice, kubectl]\ncondition: kw")).toBe(true);
  });
});
