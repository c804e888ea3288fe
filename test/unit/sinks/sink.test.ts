import { describe, expect, it } from 'vitest';
import type { Alert } from '../../../src/schema/alert.ts';
import { backoffMs } from '../../../src/sinks/retry.ts';
import {
  allReady,
  type RejectedAlert,
  type Sink,
  SinkUnavailableError,
  writeToAll,
} from '../../../src/sinks/sink.ts';
import { makeAlert } from './make-alert.ts';

class FakeSink implements Sink {
  readonly name: string;
  readonly written: Alert[] = [];
  private readonly behaviour: 'ok' | 'down' | 'reject';
  constructor(name: string, behaviour: 'ok' | 'down' | 'reject') {
    this.name = name;
    this.behaviour = behaviour;
  }
  async write(alerts: readonly Alert[]): Promise<RejectedAlert[]> {
    await new Promise((r) => setTimeout(r, 5));
    if (this.behaviour === 'down') throw new SinkUnavailableError(this.name, 'down');
    this.written.push(...alerts);
    return this.behaviour === 'reject'
      ? alerts.map((alert) => ({ alert, sink: this.name, reason: 'bad' }))
      : [];
  }
  async ready(): Promise<boolean> {
    if (this.behaviour === 'down') throw new Error('unreachable');
    return true;
  }
  async close(): Promise<void> {}
}

describe('writeToAll', () => {
  it('collects every rejection when all sinks answer', async () => {
    const ok = new FakeSink('ok', 'ok');
    const picky = new FakeSink('picky', 'reject');
    const rejected = await writeToAll([ok, picky], [makeAlert('a')]);
    expect(ok.written).toHaveLength(1);
    expect(rejected.map((r) => r.sink)).toEqual(['picky']);
  });

  it('fails when one sink is down, after the others finished writing', async () => {
    const ok = new FakeSink('ok', 'ok');
    await expect(writeToAll([new FakeSink('down', 'down'), ok], [makeAlert('a')])).rejects.toBeInstanceOf(
      SinkUnavailableError,
    );
    expect(ok.written).toHaveLength(1);
  });
});

describe('allReady', () => {
  it('is false when a readiness probe throws', async () => {
    expect(await allReady([new FakeSink('ok', 'ok')])).toBe(true);
    expect(await allReady([new FakeSink('ok', 'ok'), new FakeSink('down', 'down')])).toBe(false);
  });
});

describe('backoffMs', () => {
  it('doubles up to the cap, with jitter between half and all of it', () => {
    const policy = { attempts: 5, baseMs: 100, maxMs: 1000 };
    expect(backoffMs(policy, 0, () => 0)).toBe(50);
    expect(backoffMs(policy, 0, () => 1)).toBe(100);
    expect(backoffMs(policy, 2, () => 1)).toBe(400);
    expect(backoffMs(policy, 10, () => 1)).toBe(1000);
  });
});
