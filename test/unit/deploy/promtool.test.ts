import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { exportedSeriesNames, klaxonSeriesIn, RUNBOOK_BASE } from './promql.ts';

const root = join(import.meta.dirname, '../../..');
const rulesFile = join(root, 'deploy/prometheus/klaxon-rules.yml');
const testsFile = join(root, 'deploy/prometheus/tests/klaxon-rules.test.yml');

type AlertRule = {
  alert: string;
  expr: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
};
const alerts = (
  parse(readFileSync(rulesFile, 'utf8')) as { groups: { rules: AlertRule[] }[] }
).groups.flatMap((g) => g.rules);
const cases = (
  parse(readFileSync(testsFile, 'utf8')) as {
    tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[];
  }
).tests.flatMap((t) => t.alert_rule_test);

function promtool(...args: string[]) {
  const run = spawnSync('promtool', args, { cwd: root, encoding: 'utf8' });
  if (run.error) {
    throw new Error(
      `promtool is not installed (${run.error.message}); install Debian's prometheus package: apt-get install -y prometheus`,
    );
  }
  return run;
}

describe('deploy/prometheus', () => {
  it('promtool check rules accepts the rule file', () => {
    const run = promtool('check', 'rules', rulesFile);
    expect(run.stdout + run.stderr).toContain(`SUCCESS: ${alerts.length} rules found`);
    expect(run.status).toBe(0);
  });

  it('promtool test rules passes', () => {
    const run = promtool('test', 'rules', testsFile);
    expect(run.stdout + run.stderr).toContain('SUCCESS');
    expect(run.status, run.stdout + run.stderr).toBe(0);
  });

  it('has the alerts the runbook promises', () => {
    expect(alerts.map((a) => a.alert)).toEqual(
      expect.arrayContaining([
        'KlaxonDown',
        'KlaxonRejectsRising',
        'KlaxonDetectLagHigh',
        'KlaxonDeadLettersRising',
        'KlaxonAuditStreamSilent',
        'KlaxonFailedAuthSpike',
        'KlaxonSpoolFilling',
        'KlaxonSpoolDropping',
        'KlaxonSinkErrors',
      ]),
    );
  });

  it('tests every alert both firing and not firing', () => {
    for (const { alert } of alerts) {
      const mine = cases.filter((c) => c.alertname === alert);
      expect(
        mine.some((c) => c.exp_alerts.length > 0),
        `${alert} firing`,
      ).toBe(true);
      expect(
        mine.some((c) => c.exp_alerts.length === 0),
        `${alert} quiet`,
      ).toBe(true);
    }
  });

  it('gives every alert a severity, a summary, a description and a runbook section that exists', () => {
    const operations = readFileSync(join(root, 'docs/operations.md'), 'utf8');
    const anchors = new Set(
      [...operations.matchAll(/^#+\s+(.+)$/gm)].map((m) =>
        (m[1] ?? '')
          .trim()
          .toLowerCase()
          .replace(/[^\w\- ]/g, '')
          .replace(/ /g, '-'),
      ),
    );
    for (const a of alerts) {
      expect(['critical', 'warning', 'info'], a.alert).toContain(a.labels.severity);
      expect(a.annotations.summary, a.alert).toBeTruthy();
      expect(a.annotations.description, a.alert).toBeTruthy();
      const [base, anchor] = (a.annotations.runbook_url ?? '').split('#');
      expect(base, `${a.alert} runbook_url is absolute (works in Alertmanager, Grafana, Slack)`).toBe(
        RUNBOOK_BASE,
      );
      expect(anchor, `${a.alert} runbook_url`).toBe(a.alert.toLowerCase());
      expect(anchors.has(anchor ?? ''), `docs/operations.md has a section for ${a.alert}`).toBe(true);
    }
  });

  it('queries only metrics Klaxon exports (or Prometheus up)', async () => {
    const exported = await exportedSeriesNames();
    for (const a of alerts) {
      const used = klaxonSeriesIn(a.expr);
      expect(used.length > 0 || /\bup\{/.test(a.expr), a.alert).toBe(true);
      for (const series of used) expect(exported, `${a.alert}: ${series}`).toContain(series);
    }
  });
});
