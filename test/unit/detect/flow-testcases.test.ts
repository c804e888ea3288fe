import { describe, expect, it } from 'vitest';
import { fillFlowTestEvent } from '../../../src/detect/flow-testcases.ts';
import { normalizeFlow } from '../../../src/normalize/flow.ts';

const MS = Date.parse('2024-01-01T00:00:05Z');

describe('fillFlowTestEvent', () => {
  it('dates a bare flow and a record, with the exporter’s nanosecond precision', () => {
    const bare = fillFlowTestEvent(
      { verdict: 'DROPPED', IP: { source: '10.0.0.1', destination: '10.0.0.2' } },
      MS,
    );
    expect(bare.time).toBe('2024-01-01T00:00:05.000000000Z');
    const record = fillFlowTestEvent({ flow: { verdict: 'AUDIT' }, node_name: 'n' }, MS);
    expect(record).toEqual({
      time: '2024-01-01T00:00:05.000000000Z',
      flow: { time: '2024-01-01T00:00:05.000000000Z', verdict: 'AUDIT' },
      node_name: 'n',
    });
    const normalized = normalizeFlow(bare, { cluster: 'test' });
    expect(normalized.ok && normalized.event['@timestamp']).toBe('2024-01-01T00:00:05.000000000Z');
  });

  it('keeps the time a test gives', () => {
    expect(fillFlowTestEvent({ time: '2024-02-02T00:00:00Z', verdict: 'DROPPED' }, MS).time).toBe(
      '2024-02-02T00:00:00Z',
    );
    const record = fillFlowTestEvent({ flow: { time: '2024-02-02T00:00:00Z' } }, MS);
    expect((record.flow as { time: string }).time).toBe('2024-02-02T00:00:00Z');
  });
});
