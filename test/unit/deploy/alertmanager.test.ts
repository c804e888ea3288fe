import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../../../src/config.ts';
import { Level } from '../../../src/schema/alert.ts';
import { toPostable } from '../../../src/sinks/alertmanager.ts';
import { meetsLevel } from '../../../src/sinks/filter.ts';
import { makeAlert } from '../sinks/make-alert.ts';

// The routing tree of deploy/alertmanager/alertmanager.yml, checked by Alertmanager's own amtool
// with the labels Klaxon really sends: its detections (toPostable, at every level the default
// KLAXON_ALERTMANAGER_MIN_LEVEL lets through) and the alerts of deploy/prometheus/klaxon-rules.yml.

const root = join(import.meta.dirname, '../../..');
const config = join(root, 'deploy/alertmanager/alertmanager.yml');

/** The receivers amtool resolves a label set to, in routing-tree order. */
function routes(labels: Record<string, string>): string[] {
  const args = Object.entries(labels).map(([k, v]) => `${k}=${v}`);
  const run = spawnSync('amtool', ['config', 'routes', 'test', `--config.file=${config}`, ...args], {
    encoding: 'utf8',
  });
  if (run.error) {
    throw new Error(
      `amtool is not installed (${run.error.message}); install Debian's prometheus-alertmanager package`,
    );
  }
  expect(run.status, run.stderr).toBe(0);
  return run.stdout.trim().split(',').filter(Boolean);
}

type Rule = { alert: string; labels: Record<string, string> };
const prometheusAlerts = (
  parse(readFileSync(join(root, 'deploy/prometheus/klaxon-rules.yml'), 'utf8')) as {
    groups: { rules: Rule[] }[];
  }
).groups.flatMap((g) => g.rules);

describe('deploy/alertmanager/alertmanager.yml', () => {
  it('amtool check-config accepts it', () => {
    const run = spawnSync('amtool', ['check-config', config], { encoding: 'utf8' });
    expect(run.status, run.stdout + run.stderr).toBe(0);
  });

  const minLevel = loadConfig({}).alertmanager.minLevel;
  const posted = Level.options.filter((level) => meetsLevel(makeAlert('x', { level }), minLevel));

  it('Klaxon posts medium detections by default (what the routing must page for)', () => {
    expect(posted).toEqual(['medium', 'high', 'critical']);
  });

  for (const level of posted) {
    it(`pages the security on-call for a ${level} detection, as klaxon-detect labels it`, () => {
      const { labels } = toPostable(makeAlert(`route-${level}`, { level }), { resolveAfterMs: 3_600_000 });
      expect(routes(labels)).toEqual(['security-oncall']);
    });
  }

  it('routes every alert of the Prometheus rules by its component', () => {
    expect(prometheusAlerts.length).toBeGreaterThan(0);
    for (const rule of prometheusAlerts) {
      const labels = { alertname: rule.alert, job: 'klaxon-ingest', cluster: 'prod-eu-1', ...rule.labels };
      const expected = { klaxon: 'klaxon-operations', security: 'security-oncall' }[
        rule.labels.component ?? ''
      ];
      expect(expected, `${rule.alert} has component klaxon or security`).toBeDefined();
      expect(routes(labels), rule.alert).toEqual([expected]);
    }
  });

  it('sends KlaxonFailedAuthSpike to the security on-call', () => {
    const spike = prometheusAlerts.find((r) => r.alert === 'KlaxonFailedAuthSpike');
    expect(routes({ alertname: 'KlaxonFailedAuthSpike', ...spike?.labels })).toEqual(['security-oncall']);
  });

  it('sends what is neither Klaxon nor a detection to the null receiver', () => {
    expect(routes({ alertname: 'NodeDiskFull', severity: 'critical' })).toEqual(['null']);
  });
});
