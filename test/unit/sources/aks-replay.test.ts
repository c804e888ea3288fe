// `klaxon replay` (and `klaxon normalize`) on what AKS leaves behind: the storage account's hourly archive blobs
// (`insights-logs-kube-audit/resourceId=…/y=…/m=…/d=…/h=…/m=00/PT1H.json`, one record a line) and saved Event
// Hubs messages (`{"records": [...]}` documents), read through the shared cloud unwrapping.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { type ReplayOptions, runReplay } from '../../../src/cli/replay.ts';
import { BUILTIN_RULES_DIR } from '../../../src/config.ts';
import type { Alert } from '../../../src/schema/alert.ts';
import { expandPaths, type FileRecord, readRecords } from '../../../src/sources/files.ts';
import { FIXTURES, fixtureJson } from '../cloud/fixtures.ts';

type Json = Record<string, unknown>;

const RESOURCE =
  'resourceId=/SUBSCRIPTIONS/0B6CB75E-8BB1-426B-8C7E-ACD7C6599495/RESOURCEGROUPS/RG-PROD-WEU/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/PROD-WEU';

function sink(): Writable & { text: () => string } {
  const chunks: string[] = [];
  const w = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  }) as Writable & { text: () => string };
  w.text = () => chunks.join('');
  return w;
}

/** An archive as the diagnostic setting writes it, and a file of saved Event Hubs messages (one per line). */
function layout(): { root: string; blob: string; saved: string } {
  const root = mkdtempSync(join(tmpdir(), 'klaxon-aks-archive-'));
  const hour = join(
    root,
    'insights-logs-kube-audit-admin',
    RESOURCE,
    'y=2025',
    'm=03',
    'd=11',
    'h=14',
    'm=00',
  );
  mkdirSync(hour, { recursive: true });
  const blob = join(hour, 'PT1H.json');
  writeFileSync(blob, readFileSync(join(FIXTURES, 'aks/PT1H.json')));
  const saved = join(root, 'eventhub-messages.jsonl');
  const message = fixtureJson('aks/eventhub-message.json') as { records: Json[] };
  const half = Math.ceil(message.records.length / 2);
  writeFileSync(
    saved,
    `${JSON.stringify({ records: message.records.slice(0, half) })}\n${JSON.stringify({ records: message.records.slice(half) })}\n`,
  );
  return { root, blob, saved };
}

async function collect(path: string): Promise<FileRecord[]> {
  const out: FileRecord[] = [];
  for await (const r of readRecords(path)) out.push(r);
  return out;
}

const options = (extra: Partial<ReplayOptions> = {}): ReplayOptions => ({
  rules: [BUILTIN_RULES_DIR],
  cluster: 'prod-weu',
  minLevel: 'informational',
  stream: false,
  ...extra,
});

function alertsOf(out: string): Alert[] {
  return out
    .trim()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Alert);
}

describe('AKS archives and saved Event Hubs messages as files', { timeout: 60_000 }, () => {
  it('finds the hourly blobs under the archive layout and reads each line as the audit event it carries', async () => {
    const { root, blob } = layout();
    expect((await expandPaths([root])).files).toContain(blob);
    const records = await collect(blob);
    expect(records).toHaveLength(5);
    expect(records.map((r) => r.where)).toEqual([1, 2, 3, 4, 5].map((n) => `${blob}:${n}`));
    expect(records.every((r) => 'raw' in r && (r.raw as Json).kind === 'Event')).toBe(true);
  });

  it('reads saved messages record by record: the broken record is an error where it is, other categories are skipped', async () => {
    const { saved } = layout();
    const records = await collect(saved);
    const errors = records.filter((r) => 'error' in r);
    expect(errors).toEqual([
      { error: expect.stringMatching(/^properties\.log: invalid JSON/), where: `${saved}:1#records[7]` },
    ]);
    const events = records.filter((r): r is { raw: Json; where: string } => 'raw' in r);
    expect(events).toHaveLength(18);
    expect(events[0]).toMatchObject({
      where: `${saved}:1#records[0]`,
      raw: { kind: 'Event', verb: 'create' },
    });
    expect(events.every((e) => e.raw.kind === 'Event')).toBe(true);
  });

  it('replays to the same alerts as the same events logged by a self-managed API server', async () => {
    const { root } = layout();
    const out = sink();
    const err = sink();
    expect(await runReplay([root], options(), out, err)).toBe(0);
    const fromAks = alertsOf(out.text());
    expect(err.text()).toMatch(/properties\.log: invalid JSON/);
    expect(err.text()).toMatch(/2 file\(s\), 23 record\(s\), 23 event\(s\), 1 bad/);

    // The same audit events, as the API server's log backend writes them.
    const plain = join(root, '..', `${root.split('/').pop()}-plain.jsonl`);
    const lines: string[] = [];
    for (const file of (await expandPaths([root])).files)
      for (const r of await collect(file)) if ('raw' in r) lines.push(JSON.stringify(r.raw));
    writeFileSync(plain, `${lines.join('\n')}\n`);
    const selfManaged = sink();
    expect(await runReplay([plain], options(), selfManaged, sink())).toBe(0);

    const key = (a: Alert) => `${a.rule.name} ${a.klaxon.alert_id} ${a.user?.name}`;
    expect(fromAks.map(key).sort()).toEqual(alertsOf(selfManaged.text()).map(key).sort());
    expect(fromAks.map((a) => a.rule.name)).toEqual(
      expect.arrayContaining(['k8s-privileged-container', 'k8s-cluster-admin-binding', 'k8s-exec-into-pod']),
    );
    // An Entra ID user's object id is searchable on the alert where analysts look for a user (ECS related.user).
    expect(fromAks.find((a) => a.rule.name === 'k8s-privileged-container')).toMatchObject({
      user: { name: 'alice@example.com' },
      related: { user: ['alice@example.com', '6c7d8e9f-0a1b-4c2d-9e3f-4a5b6c7d8e9f'] },
    });
    // AKS's own identities (the archive blob: aksService, nodeclient, the policy and Defender agents) stay quiet.
    expect(fromAks.filter((a) => a.orchestrator?.resource?.name === 'aks-service-rolebinding')).toEqual([]);
  });
});
