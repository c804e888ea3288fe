import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SegmentLog, type SegmentLogOptions } from '../../../src/bus/segment-log.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const dir = () => {
  const d = mkdtempSync(join(tmpdir(), 'segment-log-'));
  dirs.push(d);
  return d;
};
const rec = (text: string) => Buffer.from(`${text};`);
const records = (contents: Buffer) => contents.toString().split(';').filter(Boolean);

function log(d: string, more: Partial<SegmentLogOptions> = {}): SegmentLog {
  return new SegmentLog({
    dir: d,
    prefix: 'test',
    segmentBytes: 1024,
    onWriteFailed: (err) => new Error(`wrapped: ${err.message}`),
    ...more,
  });
}

describe('SegmentLog', () => {
  it('groups the appends waiting into one write and counts their bytes at once', async () => {
    const d = dir();
    let writes = 0;
    const l = log(d, { onWritten: () => writes++ });
    const a = l.append([rec('a1'), rec('a2')]);
    const b = l.append([rec('b1')]);
    expect(l.bytes).toBe(9);
    await Promise.all([a, b]);
    expect(writes).toBe(1);
    expect(l.activeCount).toBe(3);
    expect(l.closed).toEqual([]);
    expect(l.segments).toBe(1);
    await l.rotate();
    expect(l.closed.map((s) => s.count)).toEqual([3]);
    expect(records(readFileSync(l.closed[0]!.path))).toEqual(['a1', 'a2', 'b1']);
  });

  it('starts a new segment once the active one holds segmentBytes, named in order', async () => {
    const d = dir();
    const l = log(d, { segmentBytes: 4 });
    await l.append([rec('one')]);
    await l.append([rec('two')]);
    await l.append([rec('six')]);
    await l.flush();
    expect(readdirSync(d).sort()).toEqual([
      'test-000000000001.seg',
      'test-000000000002.seg',
      'test-000000000003.seg',
    ]);
    expect(l.closed.map((s) => records(readFileSync(s.path)))).toEqual([['one'], ['two'], ['six']]);
  });

  it('shiftHead forgets the oldest segment and its bytes; a rotate with nothing written leaves no file', async () => {
    const d = dir();
    const l = log(d);
    await l.append([rec('x')]);
    await l.rotate();
    await l.append([rec('yy')]);
    await l.rotate();
    expect(l.bytes).toBe(5);
    expect(l.shiftHead()?.count).toBe(1);
    expect(l.bytes).toBe(3);
    expect(l.shiftHead()?.bytes).toBe(3);
    expect(l.shiftHead()).toBeUndefined();
    expect(l.bytes).toBe(0);
    await l.rotate();
    expect(l.segments).toBe(0);
  });

  it('recovers an earlier run: counts what the owner finds valid, deletes empty segments, continues the numbering', async () => {
    const d = dir();
    const first = log(d, { segmentBytes: 1 });
    await first.append([rec('a'), rec('b')]);
    await first.append([rec('bad')]);
    await first.append([rec('c')]);
    await first.flush();
    const second = log(d);
    const seen: string[] = [];
    const total = await second.recover((contents, name) => {
      seen.push(name);
      return records(contents).filter((r) => r !== 'bad').length;
    });
    expect(seen).toEqual(['test-000000000001.seg', 'test-000000000002.seg', 'test-000000000003.seg']);
    expect(total).toBe(3);
    expect(second.closed.map((s) => [s.seq, s.count])).toEqual([
      [1, 2],
      [3, 1],
    ]);
    expect(second.bytes).toBe(6);
    expect(readdirSync(d).sort()).toEqual(['test-000000000001.seg', 'test-000000000003.seg']);
    await second.append([rec('d')]);
    await second.rotate();
    expect(second.closed.at(-1)?.seq).toBe(4);
  });

  it('ignores files of another prefix', async () => {
    const d = dir();
    writeFileSync(join(d, 'other-000000000001.seg'), 'z;');
    const l = log(d);
    expect(await l.recover(() => 1)).toBe(0);
    expect(l.closed).toEqual([]);
  });

  it('a failed write takes its bytes back, lets the owner take its counts back, and rejects every append of the group', async () => {
    const d = dir();
    const failed: number[] = [];
    const l = log(d, {
      onWriteFailed: (err, n) => {
        failed.push(n);
        return new Error(`wrapped: ${(err as NodeJS.ErrnoException).code}`);
      },
    });
    // The next segment's name is taken (and the log was not told, having recovered nothing).
    mkdirSync(join(d, 'test-000000000001.seg'));
    const a = l.append([rec('a')]);
    const b = l.append([rec('b'), rec('c')]);
    await expect(a).rejects.toThrow(/^wrapped: EEXIST$/);
    await expect(b).rejects.toThrow(/^wrapped: EEXIST$/);
    expect(failed).toEqual([3]);
    expect(l.bytes).toBe(0);
    await l.append([rec('d')]);
    await l.rotate();
    expect(l.closed.map((s) => records(readFileSync(s.path)))).toEqual([['d']]);
  });
});
