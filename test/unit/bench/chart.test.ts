import { describe, expect, it } from 'vitest';
import { type SweepPoint, sweepChart } from '../../../scripts/bench/chart.ts';

const point = (rate: number, p99: number, eps = rate, wait = 0): SweepPoint => ({
  rate,
  eps,
  p50_ms: p99 / 4,
  p90_ms: p99 / 2,
  p99_ms: p99,
  after_answer_p99_ms: p99 / 3,
  cpu: {
    ingest: rate / 40_000,
    detect: rate / 30_000,
    detect_wait: wait,
    kafka: 0.2,
    elasticsearch: 0.1,
    load: 0.05,
    machine: 1.5,
    cores: 2,
  },
});

describe('sweepChart', () => {
  const svg = sweepChart([point(20_000, 3_000, 12_000, 1.5), point(2_000, 80), point(5_000, 150)], {
    title: 'T <&>',
    subtitle: 'S',
    targets: [
      { rate: 5_000, ms: 250 },
      { rate: 50_000, ms: 1_000 },
    ],
  });

  it('is one SVG document with the title escaped', () => {
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('T &lt;&amp;&gt;');
  });

  it('draws every percentile at every rate, in rate order, and the goal', () => {
    for (const label of ['p50', 'p90', 'p99', 'p99 from ingest answered']) {
      const titles = [...svg.matchAll(new RegExp(`<title>${label} at ([0-9.k]+)/s`, 'g'))].map((m) => m[1]);
      expect(titles).toEqual(['2k', '5k', '20k']);
    }
    expect(svg).toContain('goal p99 &lt; 250 ms');
    expect(svg).not.toContain('goal p99 &lt; 1 s'); // 50k/s: beyond the rates measured
    expect(svg).toContain('<title>p99 at 20k/s: 3 s</title>');
    expect(svg).toContain('<title>p99 from ingest answered at 20k/s: 1 s</title>');
    expect(
      svg.match(/<path d="M[^"]*" stroke="#e45756" stroke-width="2" fill="none" stroke-dasharray="5 4"\/>/g),
    ).toHaveLength(1);
  });

  it('stacks the CPU of each process and the rest of the machine, and says where the detector fell behind', () => {
    expect(svg).toContain('<title>klaxon detect at 20k/s: 0.67 cores</title>');
    // machine 1.5 minus the processes named: nothing left at 20k/s (1.52), 1.03 at 2k/s (0.05 + 0.07 + 0.35)
    expect(svg).not.toContain('<title>everything else at 20k/s');
    expect(svg).toContain('<title>everything else at 2k/s: 1.03 cores</title>');
    expect(svg).toContain('sustained 12k/s');
    expect(svg).toContain('<title>waiting for a CPU at 20k/s: 1.50 cores</title>');
    expect(svg).not.toContain('<title>waiting for a CPU at 2k/s');
    expect(svg).not.toContain('sustained 2k/s');
  });

  it('leaves out a percentile that has no finite value (markers lost)', () => {
    const lost = sweepChart([point(2_000, 80), { ...point(5_000, 150), p99_ms: Number.POSITIVE_INFINITY }], {
      title: 't',
      subtitle: 's',
    });
    expect(lost).toContain('<title>p99 at 2k/s');
    expect(lost).not.toContain('<title>p99 at 5k/s');
    expect(lost).not.toMatch(/NaN|Infinity/);
  });
});
