import net from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  CpuMeter,
  machineCpuSeconds,
  pidListeningOn,
  processCpuSeconds,
  processRunQueueSeconds,
} from '../../../scripts/bench/proc.ts';

describe('/proc readings', () => {
  it('finds the process listening on a port, and no process for a port nobody listens on', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no TCP address');
    try {
      expect(pidListeningOn(address.port)).toBe(process.pid);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    expect(pidListeningOn(address.port)).toBeUndefined();
  });

  it("counts this process's CPU time as it works, and nothing for a process that is gone", () => {
    const before = processCpuSeconds(process.pid);
    const start = performance.now();
    let x = 0;
    while (performance.now() - start < 300) x += Math.sqrt(x + 1);
    const after = processCpuSeconds(process.pid);
    expect(before).toBeTypeOf('number');
    expect((after ?? 0) - (before ?? 0)).toBeGreaterThan(0);
    expect(x).toBeGreaterThan(0);
    expect(processCpuSeconds(2 ** 22 + 1)).toBeUndefined();
    expect(processRunQueueSeconds(2 ** 22 + 1)).toBeUndefined();
    expect(processRunQueueSeconds(process.pid)).toBeGreaterThanOrEqual(0);
  });

  it('gives cores per process and the machine over a window', () => {
    const machine = machineCpuSeconds();
    expect(machine.total).toBeGreaterThanOrEqual(machine.busy);
    const meter = new CpuMeter(new Map([['self', process.pid]]));
    const start = performance.now();
    let x = 0;
    while (performance.now() - start < 300) x += Math.sqrt(x + 1);
    const cores = meter.cores();
    expect(cores.self).toBeGreaterThan(0);
    expect(cores.self_wait).toBeGreaterThanOrEqual(0);
    expect(cores.cores).toBeGreaterThan(0.5);
    expect(cores.machine).toBeLessThanOrEqual((cores.cores ?? 0) + 0.01);
  });
});
