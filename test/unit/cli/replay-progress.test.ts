import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { runReplay } from '../../../src/cli/replay.ts';
import { contentSize, progressLine, ReplayProgress } from '../../../src/cli/replay-progress.ts';

const RULE = `title: Secret read
name: secret-read
id: 0e000000-0000-4000-8000-0000000000a1
logsource: {product: kubernetes, service: audit}
detection:
  sel: {objectRef.resource: secrets, verb: get}
  condition: sel
level: medium
`;

function auditLine(i: number): string {
  const at = new Date(Date.UTC(2024, 4, 1, 10, 0, i)).toISOString();
  return JSON.stringify({
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'Metadata',
    auditID: `a-${i}`,
    stage: 'ResponseComplete',
    verb: i % 50 === 0 ? 'get' : 'list',
    user: { username: `user-${i % 3}` },
    sourceIPs: ['10.0.0.1'],
    objectRef: { resource: i % 50 === 0 ? 'secrets' : 'pods', namespace: 'default' },
    responseStatus: { code: 200 },
    requestReceivedTimestamp: at,
    stageTimestamp: at,
  });
}

/** A writable that keeps what it is given; `isTTY` as a terminal's stderr has it, or not. */
function capture(isTTY: boolean) {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      chunks.push(String(chunk));
      done();
    },
  }) as Writable & { isTTY?: boolean };
  stream.isTTY = isTTY;
  return { stream, text: () => chunks.join('') };
}

function inputs() {
  const dir = mkdtempSync(join(tmpdir(), 'klaxon-progress-'));
  writeFileSync(join(dir, 'rules.yml'), RULE);
  const lines = Array.from({ length: 400 }, (_, i) => auditLine(i));
  const plain = join(dir, 'a.jsonl');
  writeFileSync(plain, `${lines.slice(0, 200).join('\n')}\nnot json\n`);
  const gz = join(dir, 'b.jsonl.gz');
  writeFileSync(gz, gzipSync(`${lines.slice(200).join('\n')}\n`));
  return { dir, plain, gz, gzContent: Buffer.byteLength(`${lines.slice(200).join('\n')}\n`) };
}

describe('progress line', () => {
  it('shows events, rate, files, share and ETA', () => {
    const line = progressLine({
      events: 120_500,
      files: 3,
      filesDone: 1,
      readBytes: 400,
      totalBytes: 1_000,
      elapsedMs: 2_500,
    });
    expect(line).toBe('120.5k events  48.2k/s  files 1/3  40%  ETA 0:04');
  });

  it('gives no ETA before there is a rate to give one from', () => {
    expect(
      progressLine({ events: 10, files: 2, filesDone: 0, readBytes: 5, totalBytes: 100, elapsedMs: 200 }),
    ).toContain('ETA --');
  });

  it('estimates how far into each file reading is from the measured size of its records', () => {
    let t = 0;
    const drawn: string[] = [];
    const p = new ReplayProgress([10_000, 5_000], {
      write: (s) => drawn.push(s),
      everyMs: 1_000,
      now: () => t,
    });
    const record = { a: 'x'.repeat(91) }; // 99 bytes as JSON, plus its newline
    for (let i = 0; i < 50; i++) p.record(0, record);
    p.fileDone(1);
    t = 2_000;
    expect(p.state()).toEqual({
      events: 0,
      files: 2,
      filesDone: 1,
      readBytes: 5_000 + 50 * 100,
      totalBytes: 15_000,
      elapsedMs: 2_000,
    });
    p.event();
    p.event();
    expect(drawn).toEqual(['\r1 event  1/s  files 1/2  66%  ETA 0:01\x1b[K']);
    t = 3_000;
    p.event();
    expect(drawn[1]).toBe('\r3 events  1/s  files 1/2  66%  ETA 0:02\x1b[K');
  });

  it('counts a gzip file by its uncompressed size', async () => {
    const { plain, gz, gzContent } = inputs();
    expect(await contentSize(gz)).toBe(gzContent);
    expect(await contentSize(plain)).toBeGreaterThan(0);
    expect(await contentSize(join(tmpdir(), 'no-such-file.jsonl'))).toBe(0);
  });
});

describe('klaxon replay progress', () => {
  it('draws the line on a terminal, clears it before other output, and ends on a clean line', async () => {
    const { dir, plain, gz } = inputs();
    const out = capture(false);
    const err = capture(true);
    const code = await runReplay(
      [plain, gz],
      {
        rules: [join(dir, 'rules.yml')],
        cluster: 'c',
        minLevel: 'informational',
        stream: false,
        progressEveryMs: 0,
      },
      out.stream,
      err.stream,
    );
    expect(code).toBe(0);
    const text = err.text();
    const ESC = String.fromCharCode(27);
    const drawn = text.split('\r').filter((part) => part.endsWith(`${ESC}[K`) && part.length > 3);
    expect(drawn.length).toBeGreaterThan(0);
    for (const line of drawn) {
      expect(line).toMatch(/^\d+ events? {2}[\d.k]+\/s {2}files [0-2]\/2 {2}\d+% {2}ETA [-\d:]+.\[K$/);
    }
    expect(text).toContain('\r400 events');
    // The bad line and the summary each start on a cleared line, not after the progress text.
    expect(text).toContain(`\r\x1b[K${plain}:201: invalid JSON`);
    expect(text).toContain(
      `\r${ESC}[Kklaxon replay: 2 file(s), 400 record(s), 400 event(s), 1 bad; 3 alert(s) (secret-read=3)\n`,
    );
    // Eight secret reads by three users: one alert per user (suppression).
    expect(out.text().trim().split('\n')).toHaveLength(3);
  });

  it('stays quiet in a pipe: the bad records and the summary, no progress', async () => {
    const { dir, plain, gz } = inputs();
    const err = capture(false);
    await runReplay(
      [plain, gz],
      {
        rules: [join(dir, 'rules.yml')],
        cluster: 'c',
        minLevel: 'informational',
        stream: false,
        progressEveryMs: 0,
      },
      capture(false).stream,
      err.stream,
    );
    expect(err.text()).not.toContain('\r');
    expect(err.text()).not.toContain('ETA');
    expect(err.text().trim().split('\n')).toEqual([
      `${plain}:201: invalid JSON: Unexpected token 'o', "not json" is not valid JSON`,
      'klaxon replay: 2 file(s), 400 record(s), 400 event(s), 1 bad; 3 alert(s) (secret-read=3)',
    ]);
  });
});
