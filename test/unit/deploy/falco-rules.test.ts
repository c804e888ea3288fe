import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import draft6 from 'ajv/dist/refs/json-schema-draft-06.json' with { type: 'json' };
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { Detector, loadRules } from '../../../src/detect/index.ts';
import { normalizeAny } from '../../../src/normalize/index.ts';
import { DETECTIONS, ROOT } from '../catalogue/replay.ts';

/**
 * deploy/falco/klaxon-rules.yaml, checked without Falco (not installable from the registries this project reaches;
 * see test/fixtures/falco-rules-schema/NOTICE.md): Falco's own rules-file JSON schema, the references between
 * rules, macros and lists, and that Klaxon's counterpart rules are tested with the fields these rules output.
 */
type Item = Record<string, unknown>;
const FILE = join(ROOT, 'deploy/falco/klaxon-rules.yaml');
const items = parse(readFileSync(FILE, 'utf8')) as Item[];
const schema = JSON.parse(
  readFileSync(join(ROOT, 'test/fixtures/falco-rules-schema/rule_schema.json'), 'utf8'),
);
const rules = items.filter((i) => typeof i.rule === 'string');
const macros = new Set(items.filter((i) => typeof i.macro === 'string').map((i) => i.macro as string));
const lists = new Set(items.filter((i) => typeof i.list === 'string').map((i) => i.list as string));

/** The counterpart Klaxon rule of each Falco rule. */
const COUNTERPARTS: Record<string, string> = {
  'Kubernetes client run in container by untrusted user': 'falco-k8s-client-in-container',
  'Unexpected connection to etcd': 'falco-etcd-unexpected-connection',
};

// The catalogue takes seconds to load on a busy machine: a timeout for the file, the rules loaded once.
describe('deploy/falco/klaxon-rules.yaml', { timeout: 60_000 }, () => {
  let loaded: ReturnType<typeof loadRules> | undefined;
  const catalogue = () => {
    loaded ??= loadRules([DETECTIONS]);
    return loaded;
  };

  it("is valid against Falco's rules-file schema", () => {
    const ajv = new Ajv({ strict: false, allErrors: true });
    ajv.addMetaSchema(draft6);
    const validate = ajv.compile(schema);
    expect(validate(items), JSON.stringify(validate.errors)).toBe(true);
  });

  it('every rule has a description, a condition, an output, a priority and MITRE tags', () => {
    expect(rules.map((r) => r.rule).sort()).toEqual(Object.keys(COUNTERPARTS).sort());
    for (const r of rules) {
      for (const key of ['desc', 'condition', 'output', 'priority'])
        expect(typeof r[key], `${r.rule}: ${key}`).toBe('string');
      expect(
        (r.tags as string[]).some((t) => /^T\d{4}/.test(t)),
        `${r.rule}: technique tag`,
      ).toBe(true);
    }
  });

  it('conditions balance their parentheses and refer only to macros and lists defined in the file', () => {
    for (const i of items) {
      const cond = typeof i.condition === 'string' ? i.condition : undefined;
      if (!cond) continue;
      let depth = 0;
      for (const ch of cond) {
        depth += ch === '(' ? 1 : ch === ')' ? -1 : 0;
        expect(depth, cond).toBeGreaterThanOrEqual(0);
      }
      expect(depth, cond).toBe(0);
      for (const name of cond.match(/\bklaxon_[a-z0-9_]+/g) ?? [])
        expect(macros.has(name) || lists.has(name), `${name} in ${i.rule ?? i.macro}`).toBe(true);
      for (const [, name] of cond.matchAll(/\bin \((klaxon_[a-z0-9_]+)\)/g))
        expect(lists.has(name!), name).toBe(true);
    }
  });

  it.each(Object.entries(COUNTERPARTS))(
    '"%s" has a Klaxon rule tested with every field its output sends',
    (falcoRule, klaxonRule) => {
      const r = rules.find((x) => x.rule === falcoRule)!;
      const fields = [...(r.output as string).matchAll(/%([a-z0-9_.]+)/g)].map((m) => m[1]!);
      const { ruleset } = catalogue();
      const doc = ruleset.docs.find((d) => d.raw.name === klaxonRule);
      expect(doc, klaxonRule).toBeDefined();
      const firing = (doc!.tests ?? []).filter((t) => t.expect === 'fire').flatMap((t) => t.events);
      expect(firing.length).toBeGreaterThan(0);
      for (const ev of firing) {
        const sent = Object.keys((ev.output_fields as Record<string, unknown>) ?? {});
        for (const f of fields) expect(sent, `${klaxonRule} test event lacks ${f}`).toContain(f);
        const normalized = normalizeAny(ev, { cluster: 'test' });
        if (!normalized.ok) throw new Error(normalized.reason);
        const names = new Detector(ruleset).process(normalized.event).map((a) => a.rule.name);
        expect(names).toContain(klaxonRule);
        expect(names, 'the generic rule leaves it to the specific one').not.toContain('falco-runtime-alert');
      }
    },
  );
});
