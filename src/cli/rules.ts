import type { Command } from 'commander';
import { BUILTIN_RULES_DIR } from '../config.ts';
import { type LoadedDoc, loadRules, runRuleTests } from '../detect/index.ts';
import { TEST_CLUSTER } from '../detect/testcases.ts';
import { normalizeAny } from '../normalize/index.ts';

const KEBAB = /^[a-z0-9]+(-[a-z0-9]+)*$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MITRE = /^attack\.(t[0-9]{4}(\.[0-9]{3})?|[a-z]+(-[a-z]+)*)$/;

function dirs(args: string[]): string[] {
  return args.length > 0 ? args : [BUILTIN_RULES_DIR];
}

function testCommand(paths: string[]): number {
  const { ruleset, errors } = loadRules(dirs(paths));
  for (const e of errors) process.stderr.write(`${e.where}: ${e.reason}\n`);
  const outcomes = runRuleTests(ruleset, (raw) => normalizeAny(raw, { cluster: TEST_CLUSTER }));
  let failed = 0;
  for (const o of outcomes) {
    if (o.ok) process.stdout.write(`PASS ${o.rule} — ${o.test}\n`);
    else {
      failed++;
      process.stdout.write(`FAIL ${o.rule} — ${o.test}: ${o.detail} (${o.where})\n`);
    }
  }
  const withTests = ruleset.docs.filter((d) => d.tests && d.tests.length > 0).length;
  process.stderr.write(
    `${outcomes.length} test(s) in ${withTests} rule(s): ${outcomes.length - failed} passed, ${failed} failed; ${errors.length} load error(s)\n`,
  );
  return failed > 0 || errors.length > 0 ? 1 : 0;
}

interface Finding {
  where: string;
  severity: 'error' | 'warning';
  message: string;
}

/**
 * Klaxon's own rules (those that declare a `name`) must meet the house
 * requirements; third-party rules (SigmaHQ's have no `name`) only get warnings.
 */
function lintDoc(doc: LoadedDoc): Finding[] {
  const out: Finding[] = [];
  const where = `${doc.file}:${doc.line}`;
  if (doc.type === 'filter') {
    if (typeof doc.raw.id !== 'string' || !UUID.test(doc.raw.id))
      out.push({ where, severity: 'warning', message: 'filter has no UUID id' });
    return out;
  }
  const own = typeof doc.raw.name === 'string';
  // A rule that only feeds correlations raises no alert: its correlation carries the metadata and the tests.
  const alerting = doc.rule?.kind !== 'filter' && doc.rule?.generates === true;
  const problem = (message: string, required = true) =>
    out.push({ where, severity: own && required ? 'error' : 'warning', message });
  if (!own) problem('no `name` (kebab-case slug): using a slug of the title');
  else if (!KEBAB.test(doc.raw.name as string)) problem(`name "${doc.raw.name}" is not kebab-case`);
  if (typeof doc.raw.id !== 'string' || !UUID.test(doc.raw.id)) problem('id must be a UUID');
  for (const t of stringTags(doc.raw.tags))
    if (t.startsWith('attack.') && !MITRE.test(t)) problem(`tag "${t}" is not a MITRE ATT&CK tag`);
  if (!alerting) return out;
  if (typeof doc.raw.level !== 'string') problem('no level');
  const attack = stringTags(doc.raw.tags).filter((t) => t.startsWith('attack.'));
  if (attack.length === 0) problem('no MITRE ATT&CK tag (attack.*)');
  else if (!attack.some((t) => /^attack\.t[0-9]{4}/.test(t)))
    problem('no MITRE technique tag (attack.tNNNN)', false);
  if (!Array.isArray(doc.raw.falsepositives) || doc.raw.falsepositives.length === 0)
    problem('no falsepositives');
  const tests = doc.tests ?? [];
  if (!tests.some((t) => t.expect === 'fire')) problem('no test that must fire');
  if (!tests.some((t) => t.expect === 'quiet')) problem('no test that must stay quiet');
  return out;
}

function stringTags(tags: unknown): string[] {
  return Array.isArray(tags) ? tags.filter((t): t is string => typeof t === 'string') : [];
}

function lintCommand(paths: string[]): number {
  const { ruleset, errors } = loadRules(dirs(paths));
  const findings: Finding[] = errors.map((e) => ({ where: e.where, severity: 'error', message: e.reason }));
  for (const doc of ruleset.docs) if (doc.rule) findings.push(...lintDoc(doc));
  for (const f of findings) process.stdout.write(`${f.where}: ${f.severity}: ${f.message}\n`);
  const nErrors = findings.filter((f) => f.severity === 'error').length;
  process.stderr.write(
    `${ruleset.docs.length} document(s): ${nErrors} error(s), ${findings.length - nErrors} warning(s)\n`,
  );
  return nErrors > 0 ? 1 : 0;
}

function listCommand(paths: string[], json: boolean): number {
  const { ruleset, errors } = loadRules(dirs(paths));
  for (const e of errors) process.stderr.write(`${e.where}: ${e.reason}\n`);
  for (const doc of ruleset.docs) {
    const r = doc.rule;
    if (!r || r.kind === 'filter') continue;
    const entry = {
      name: r.name,
      id: r.id,
      title: r.title,
      level: r.level,
      type: r.kind === 'correlation' ? r.type : r.kind,
      tags: r.tags,
      logsource: r.kind === 'detection' ? r.logsource : undefined,
      generates: r.generates,
      file: `${r.file}:${r.line}`,
    };
    if (json) process.stdout.write(`${JSON.stringify(entry)}\n`);
    else process.stdout.write(`${entry.name}\t${entry.level}\t${entry.type}\t${entry.id}\t${entry.file}\n`);
  }
  for (const f of ruleset.filters) {
    const entry = { name: f.title, id: f.id, type: 'filter', rules: f.rules, file: `${f.file}:${f.line}` };
    if (json) process.stdout.write(`${JSON.stringify(entry)}\n`);
    else process.stdout.write(`${entry.name}\t-\tfilter\t${entry.id ?? '-'}\t${entry.file}\n`);
  }
  return 0;
}

export function registerRules(program: Command): void {
  const rules = program.command('rules').description('Test, lint and list Sigma detection rules.');
  rules
    .command('test')
    .description("Run every rule's own test cases (the `tests` attribute) against the whole rule set.")
    .argument('[dirs...]', 'rule files or directories', [])
    .action((paths: string[]) => {
      process.exitCode = testCommand(paths);
    });
  rules
    .command('lint')
    .description("Check rule files: Sigma schema and Klaxon's requirements (name, id, level, tags, tests).")
    .argument('[dirs...]', 'rule files or directories', [])
    .action((paths: string[]) => {
      process.exitCode = lintCommand(paths);
    });
  rules
    .command('list')
    .description('List the rules: name, level, type, id, file.')
    .argument('[dirs...]', 'rule files or directories', [])
    .option('--json', 'one JSON object per rule per line')
    .action((paths: string[], opts: { json?: boolean }) => {
      process.exitCode = listCommand(paths, opts.json === true);
    });
}
