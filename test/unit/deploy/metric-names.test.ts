import { describe, expect, it } from 'vitest';
import { exportedSeriesNames } from './promql.ts';

describe('process metrics', () => {
  it('have the standard names that Node and process dashboards query', async () => {
    const names = await exportedSeriesNames();
    for (const name of [
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
      'process_open_fds',
      'nodejs_eventloop_lag_p99_seconds',
      'nodejs_heap_size_used_bytes',
    ]) {
      expect(names, name).toContain(name);
    }
    expect([...names].filter((n) => !/^(klaxon|process|nodejs)_/.test(n))).toEqual([]);
    expect([...names].filter((n) => /^klaxon_(process|nodejs)_/.test(n))).toEqual([]);
  });
});
