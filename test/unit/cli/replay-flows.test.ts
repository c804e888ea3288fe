import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { replay } from '../catalogue/replay.ts';
import { neighbourScan } from '../scenarios/quiet-flows.ts';

const FIXTURES = join(import.meta.dirname, '../../fixtures/hubble');
const fixture = (file: string) => readFileSync(join(FIXTURES, file), 'utf8');
const records = (file: string) =>
  fixture(file)
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { flow: Record<string, unknown> });

function scratch(): string {
  return mkdtempSync(join(tmpdir(), 'klaxon-replay-flows-'));
}

/** `klaxon replay` on Hubble's outputs: the exporter's files (rotated and compressed too), `hubble observe`, arrays. */
describe('klaxon replay: Hubble flows', { timeout: 60_000 }, () => {
  it('reads an exporter file: the flows are detected, the lost-events notice is skipped, not bad', async () => {
    const dir = scratch();
    const file = join(dir, 'events.log');
    writeFileSync(file, `${fixture('drop-networkpolicy.jsonl')}${fixture('lost-events.jsonl')}`);
    const { code, alerts, stderr } = await replay([file]);
    expect(code).toBe(0);
    expect(stderr).toContain(`${file}:5: skipped, not a flow: lost_events (Hubble lost 312 events)`);
    expect(stderr).toContain('5 record(s), 4 event(s), 0 bad, 1 skipped (no event in them)');
    expect(alerts.map((a) => a.rule.name)).toEqual(['hubble-sensitive-namespace-drop']);
    expect(alerts[0]!.orchestrator?.cluster?.name).toBe('test');
  });

  it('reads hubble observe -o jsonpb lines and their jq-pretty form alike', async () => {
    const observe = await replay([join(FIXTURES, 'observe-ipv6.jsonl')]);
    expect(observe.stderr).toContain('3 record(s), 3 event(s), 0 bad;');
    expect(observe.alerts.map((a) => a.rule.name)).toEqual(['hubble-metadata-endpoint-access']);
    expect(observe.alerts[0]!.destination?.ip).toBe('fd00:ec2::254');
    const pretty = await replay([join(FIXTURES, 'observe-jq-pretty.json')]);
    const lines = await replay([join(FIXTURES, 'drop-networkpolicy.jsonl')]);
    expect(pretty.stderr).toMatch(/ 0 bad;/);
    expect(pretty.alerts.map((a) => a.klaxon.alert_id)).toEqual(lines.alerts.map((a) => a.klaxon.alert_id));
  });

  it('reads JSON arrays of bare flows and of records (a log shipper’s batch)', async () => {
    const dir = scratch();
    const bare = join(dir, 'flows.json');
    writeFileSync(
      bare,
      JSON.stringify(
        records('drop-ciliumnetworkpolicy.jsonl').map((r) => r.flow),
        null,
        2,
      ),
    );
    const wrapped = join(dir, 'batch.json');
    writeFileSync(wrapped, JSON.stringify(records('audit-verdict.jsonl')));
    const { alerts, stderr } = await replay([bare, wrapped]);
    expect(stderr).toContain('3 record(s), 3 event(s), 0 bad;');
    expect(alerts.map((a) => a.rule.name).sort()).toEqual([
      'hubble-metadata-endpoint-access',
      'hubble-sensitive-namespace-drop',
    ]);
  });

  it('reads a directory of rotated exporter files, gzip-compressed ones included', async () => {
    const dir = scratch();
    const hubble = join(dir, 'hubble');
    mkdirSync(hubble);
    const scan = neighbourScan();
    const text = (part: unknown[]) => `${part.map((r) => JSON.stringify(r)).join('\n')}\n`;
    const half = Math.floor(scan.length / 2);
    // lumberjack's names: the rotated backup (compressed with fileCompress: true), then the live file.
    writeFileSync(join(hubble, 'events-2026-11-30T09-30-20.000.log.gz'), gzipSync(text(scan.slice(0, half))));
    writeFileSync(join(hubble, 'events.log'), text(scan.slice(half)));
    copyFileSync(join(FIXTURES, 'README.md'), join(hubble, 'README.md'));
    const { code, alerts, stderr } = await replay([hubble]);
    expect(code).toBe(0);
    expect(stderr).toContain(`2 file(s), ${scan.length} record(s), ${scan.length} event(s), 0 bad;`);
    // A pod sweeping its neighbours: one alert, however many drops.
    expect(alerts.map((a) => a.rule.name)).toEqual(['hubble-address-sweep']);
  });
});
