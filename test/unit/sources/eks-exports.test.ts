// `klaxon replay` (and `normalize`) over what an incident responder exports from AWS: `aws logs
// filter-log-events` output, CloudWatch Logs subscription payloads (gzip'd or not) and Firehose request bodies.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { runReplay } from '../../../src/cli/replay.ts';
import { BUILTIN_RULES_DIR } from '../../../src/config.ts';
import type { Alert } from '../../../src/schema/alert.ts';
import { type FileRecord, readRecords } from '../../../src/sources/files.ts';
import { FIXTURES } from '../cloud/fixtures.ts';

type Json = Record<string, unknown>;
const eks = (name: string) => join(FIXTURES, 'eks', name);
const audit = JSON.parse(readFileSync(eks('subscription-audit.json'), 'utf8')) as Json & {
  logEvents: Array<{ message: string }>;
};
const auditIds = audit.logEvents.map((e) => (JSON.parse(e.message) as { auditID: string }).auditID);

async function collect(path: string): Promise<FileRecord[]> {
  const records: FileRecord[] = [];
  for await (const record of readRecords(path)) records.push(record);
  return records;
}
const auditIdsOf = (records: FileRecord[]) =>
  records.map((r) => ('raw' in r ? (r.raw as { auditID?: string }).auditID : `error: ${r.error}`));

class Sink extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: string, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

describe('reading EKS exports', () => {
  it('gives the audit events of a subscription payload, gzip’d as CloudWatch sends it or not, at their place', async () => {
    const plain = await collect(eks('subscription-audit.json'));
    expect(auditIdsOf(plain)).toEqual(auditIds);
    expect(plain[3]!.where).toBe(`${eks('subscription-audit.json')}:1#logEvents[3]`);
    const zipped = await collect(eks('subscription-audit.json.gz'));
    expect(zipped.map((r) => ('raw' in r ? r.raw : r))).toEqual(plain.map((r) => ('raw' in r ? r.raw : r)));
  });

  it('skips control messages and EKS’s other log streams', async () => {
    expect(await collect(eks('subscription-control-message.json'))).toEqual([]);
    expect(await collect(eks('subscription-authenticator.json'))).toEqual([]);
  });

  it('reads `aws logs filter-log-events` output and Firehose request bodies, gzip’d or not', async () => {
    const filtered = await collect(eks('filter-log-events.json'));
    expect(filtered.length).toBeGreaterThan(0);
    expect(filtered.every((r) => 'raw' in r && (r.raw as Json).kind === 'Event')).toBe(true);
    const firehose = await collect(eks('firehose-request.json'));
    expect(auditIdsOf(firehose).slice(0, auditIds.length)).toEqual(auditIds);
    expect(firehose[0]!.where).toMatch(/#records\[1\]\.logEvents\[0\]$/);
    const dir = mkdtempSync(join(tmpdir(), 'klaxon-eks-exports-'));
    const zipped = join(dir, 'firehose-body.json.gz');
    writeFileSync(zipped, gzipSync(readFileSync(eks('firehose-request.json'))));
    expect(auditIdsOf(await collect(zipped))).toEqual(auditIdsOf(firehose));
  });

  it('reads several payloads in a JSON array or one after another, and reports a broken record at its place', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'klaxon-eks-exports-'));
    const broken = { ...audit, logEvents: [{ id: '1', timestamp: 1, message: '{"kind":"Event",' }] };
    const array = join(dir, 'payloads.json');
    writeFileSync(array, JSON.stringify([audit, broken], null, 2));
    const records = await collect(array);
    expect(auditIdsOf(records).slice(0, auditIds.length)).toEqual(auditIds);
    expect(records.at(-1)).toEqual({
      error: expect.stringMatching(/^message: invalid JSON/),
      where: `${array}:1#1#logEvents[0]`,
    });
    const lines = join(dir, 'payloads.jsonl');
    writeFileSync(lines, `${JSON.stringify(audit)}\n${JSON.stringify(audit)}\n`);
    expect(await collect(lines)).toHaveLength(2 * auditIds.length);
  });

  it('runs the catalogue over the exports: the same alerts as over the audit log itself', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'klaxon-eks-replay-'));
    const log = join(dir, 'audit.log');
    writeFileSync(log, `${audit.logEvents.map((e) => e.message).join('\n')}\n`);
    const rules = (paths: string[]) => {
      const out = new Sink();
      const err = new Sink();
      return runReplay(
        paths,
        { rules: [BUILTIN_RULES_DIR], cluster: 'prod-eu', minLevel: 'informational', stream: false },
        out,
        err,
      ).then((code) => ({
        code,
        names: out.text
          .trim()
          .split('\n')
          .map((l) => (JSON.parse(l) as Alert).rule.name)
          .sort(),
        err: err.text,
      }));
    };
    const fromLog = await rules([log]);
    // The other formats give the same records (above): one export through the whole catalogue is enough.
    const fromExport = await rules([eks('subscription-audit.json.gz')]);
    expect(fromExport.code).toBe(0);
    expect(fromExport.err).toMatch(/0 bad/);
    expect(fromExport.names).toEqual(fromLog.names);
    expect(fromLog.names).toContain('k8s-privileged-container');
  }, 120_000);
});
