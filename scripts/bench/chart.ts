/**
 * The end-to-end sweep as one SVG (no external service, no dependency): attack → alert latency percentiles
 * against the offered rate, beside the CPU each process used at that rate, from the same run.
 */

export interface SweepPoint {
  /** Offered rate, events per second. */
  rate: number;
  /** Sustained rate: events of the step per second until the detector had committed them all. */
  eps: number;
  /** Attack POSTed → alert consumed from the alerts topic, milliseconds. */
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  /** From ingest's answer (the events on Kafka) to the alert: detection's share of p99. */
  after_answer_p99_ms: number;
  /** Cores used during the step by each process (ingest, detect, kafka, elasticsearch, load), and the machine. */
  cpu: Record<string, number>;
}

export interface ChartOptions {
  title: string;
  /** One line under the title: machine, date, commit. */
  subtitle: string;
  /** Latency goals drawn as marks: at `rate`, below `ms`. */
  targets?: ReadonlyArray<{ rate: number; ms: number }>;
}

const W = 960;
const H = 480;
const PANEL = { top: 70, bottom: 370, left1: 70, right1: 450, left2: 540, right2: 900 };
const SERIES = [
  { key: 'p50_ms', label: 'p50', color: '#4c78a8', dash: '' },
  { key: 'p90_ms', label: 'p90', color: '#f58518', dash: '' },
  { key: 'p99_ms', label: 'p99', color: '#e45756', dash: '' },
  { key: 'after_answer_p99_ms', label: 'p99 from ingest answered', color: '#e45756', dash: '5 4' },
] as const;
const PROCESSES = [
  { key: 'ingest', label: 'klaxon ingest', color: '#4c78a8' },
  { key: 'detect', label: 'klaxon detect', color: '#f58518' },
  { key: 'kafka', label: 'Kafka', color: '#54a24b' },
  { key: 'elasticsearch', label: 'Elasticsearch', color: '#b279a2' },
  { key: 'load', label: 'load generator', color: '#9d755d' },
  { key: 'other', label: 'everything else', color: '#bab0ac' },
] as const;

/** A series' stroke-dasharray attribute, if it is dashed. */
const dashOf = (s: (typeof SERIES)[number]) => (s.dash ? ` stroke-dasharray="${s.dash}"` : '');
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (n: number) => (n >= 1000 ? `${Math.round(n / 100) / 10}k` : String(Math.round(n)));
const fmtMs = (ms: number) => (ms >= 1000 ? `${Math.round(ms / 100) / 10} s` : `${Math.round(ms)} ms`);

function text(x: number, y: number, s: string, attrs = ''): string {
  return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${attrs}>${esc(s)}</text>`;
}

/** Powers of ten (and 2×, 5×) spanning [lo, hi], for a log axis. */
function logTicks(lo: number, hi: number): number[] {
  const ticks: number[] = [];
  for (let p = Math.floor(Math.log10(lo)); p <= Math.ceil(Math.log10(hi)); p++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** p;
      if (v >= lo && v <= hi) ticks.push(v);
    }
  }
  return ticks;
}

function niceStep(max: number, count: number): number {
  const raw = max / count;
  const p = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 2.5, 5, 10].map((m) => m * p).find((s) => s >= raw) ?? raw;
}

export function sweepChart(points: readonly SweepPoint[], options: ChartOptions): string {
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    text(W / 2, 24, options.title, 'text-anchor="middle" font-size="16" font-weight="bold"'),
    text(W / 2, 44, options.subtitle, 'text-anchor="middle" fill="#555"'),
  );
  const sorted = [...points].sort((a, b) => a.rate - b.rate);
  const maxRate = Math.max(1, ...sorted.map((p) => p.rate));
  const { top, bottom, left1, right1, left2, right2 } = PANEL;

  // Panel 1: latency percentiles (log scale) against the offered rate.
  const xRate = (r: number) => left1 + (r / (maxRate * 1.05)) * (right1 - left1);
  const finite = sorted
    .flatMap((p) => SERIES.map((s) => p[s.key]))
    .filter((v) => Number.isFinite(v) && v > 0);
  // Goals beyond the rates measured have no place on this axis.
  const targets = (options.targets ?? []).filter((t) => t.rate <= maxRate * 1.05);
  const lo = Math.max(1, Math.min(...finite, ...targets.map((t) => t.ms)) / 1.5);
  const hi = Math.max(lo * 10, ...finite, ...targets.map((t) => t.ms)) * 1.5;
  const yMs = (ms: number) =>
    bottom -
    ((Math.log10(Math.min(hi, Math.max(lo, ms))) - Math.log10(lo)) / Math.log10(hi / lo)) * (bottom - top);
  out.push(`<g stroke="#ddd">`);
  for (const t of logTicks(lo, hi))
    out.push(`<line x1="${left1}" x2="${right1}" y1="${yMs(t)}" y2="${yMs(t)}"/>`);
  out.push('</g>');
  for (const t of logTicks(lo, hi))
    out.push(text(left1 - 6, yMs(t) + 4, fmtMs(t), 'text-anchor="end" fill="#555"'));
  for (const p of sorted)
    out.push(text(xRate(p.rate), bottom + 16, fmt(p.rate), 'text-anchor="middle" fill="#555"'));
  out.push(
    `<line x1="${left1}" x2="${right1}" y1="${bottom}" y2="${bottom}" stroke="#333"/>`,
    `<line x1="${left1}" x2="${left1}" y1="${top}" y2="${bottom}" stroke="#333"/>`,
    text((left1 + right1) / 2, bottom + 34, 'offered rate (events/s)', 'text-anchor="middle"'),
    text(left1, top - 10, 'attack → alert on the alerts topic (log scale)', 'font-weight="bold"'),
  );
  for (const t of targets) {
    const x = xRate(t.rate);
    const y = yMs(t.ms);
    out.push(
      `<path d="M${x - 7},${y} L${x + 7},${y} M${x},${y} L${x},${y + 9}" stroke="#2a2" stroke-width="2" fill="none"/>`,
      text(x + 9, y + 14, `goal p99 < ${fmtMs(t.ms)}`, 'fill="#2a2" font-size="11"'),
    );
  }
  for (const s of SERIES) {
    const pts = sorted.filter((p) => Number.isFinite(p[s.key]) && p[s.key] > 0);
    if (pts.length === 0) continue;
    const d = pts.map(
      (p, i) => `${i === 0 ? 'M' : 'L'}${xRate(p.rate).toFixed(1)},${yMs(p[s.key]).toFixed(1)}`,
    );
    out.push(`<path d="${d.join(' ')}" stroke="${s.color}" stroke-width="2" fill="none"${dashOf(s)}/>`);
    for (const p of pts) {
      out.push(
        `<circle cx="${xRate(p.rate).toFixed(1)}" cy="${yMs(p[s.key]).toFixed(1)}" r="3.5" fill="${s.color}"><title>${s.label} at ${fmt(p.rate)}/s: ${fmtMs(p[s.key])}</title></circle>`,
      );
    }
  }
  // Where the detector did not keep up, say what it sustained.
  for (const p of sorted) {
    if (p.eps < p.rate * 0.95) {
      out.push(
        text(
          xRate(p.rate),
          top + 12,
          `sustained ${fmt(p.eps)}/s`,
          'text-anchor="middle" fill="#c00" font-size="11"',
        ),
      );
    }
  }
  SERIES.forEach((s, i) => {
    const x = left1 + 10 + i * 60;
    out.push(
      `<line x1="${x}" x2="${x + 16}" y1="${top + 30}" y2="${top + 30}" stroke="${s.color}" stroke-width="2"${dashOf(s)}/>`,
      text(x + 20, top + 34, s.label),
    );
  });

  // Panel 2: cores used per process at each rate, stacked, against the machine's cores.
  const cores = Math.max(1, ...sorted.map((p) => Math.round(p.cpu.cores ?? 0)));
  const stackOf = (p: SweepPoint) => {
    const parts: Array<{ key: string; label: string; color: string; v: number }> = PROCESSES.filter(
      (q) => q.key !== 'other',
    ).map((q) => ({ ...q, v: Math.max(0, p.cpu[q.key] ?? 0) }));
    const known = parts.reduce((a, b) => a + b.v, 0);
    const other = PROCESSES.find((q) => q.key === 'other');
    if (other) parts.push({ ...other, v: Math.max(0, (p.cpu.machine ?? known) - known) });
    return parts;
  };
  /**
   * Klaxon's own processes' threads waiting for a CPU (thread-seconds per second): what they would have used on
   * top. Kafka's and Elasticsearch's are left out: dozens of JVM threads each would drown the scale.
   */
  const waitOf = (p: SweepPoint) => Math.max(0, p.cpu.ingest_wait ?? 0) + Math.max(0, p.cpu.detect_wait ?? 0);
  const maxStack = Math.max(cores, ...sorted.map((p) => stackOf(p).reduce((a, b) => a + b.v, 0) + waitOf(p)));
  const step = niceStep(maxStack, 5);
  const yMax = Math.ceil(maxStack / step) * step;
  const yCores = (c: number) => bottom - (c / yMax) * (bottom - top);
  out.push(`<g stroke="#ddd">`);
  for (let v = 0; v <= yMax + 1e-9; v += step)
    out.push(`<line x1="${left2}" x2="${right2}" y1="${yCores(v)}" y2="${yCores(v)}"/>`);
  out.push('</g>');
  for (let v = 0; v <= yMax + 1e-9; v += step) {
    out.push(
      text(left2 - 6, yCores(v) + 4, String(Math.round(v * 100) / 100), 'text-anchor="end" fill="#555"'),
    );
  }
  const slot = (right2 - left2) / Math.max(1, sorted.length);
  const bar = Math.min(46, slot * 0.6);
  sorted.forEach((p, i) => {
    const cx = left2 + slot * (i + 0.5);
    let y = bottom;
    for (const part of stackOf(p)) {
      const h = (part.v / yMax) * (bottom - top);
      if (h <= 0) continue;
      y -= h;
      out.push(
        `<rect x="${(cx - bar / 2).toFixed(1)}" y="${y.toFixed(1)}" width="${bar.toFixed(1)}" height="${h.toFixed(1)}" fill="${part.color}"><title>${esc(part.label)} at ${fmt(p.rate)}/s: ${part.v.toFixed(2)} cores</title></rect>`,
      );
    }
    const wait = waitOf(p);
    if (wait > 0) {
      const h = (wait / yMax) * (bottom - top);
      out.push(
        `<rect x="${(cx - bar / 2).toFixed(1)}" y="${(y - h).toFixed(1)}" width="${bar.toFixed(1)}" height="${h.toFixed(1)}" fill="none" stroke="#c00" stroke-dasharray="4 3"><title>waiting for a CPU at ${fmt(p.rate)}/s: ${wait.toFixed(2)} cores</title></rect>`,
      );
    }
    out.push(text(cx, bottom + 16, fmt(p.rate), 'text-anchor="middle" fill="#555"'));
  });
  out.push(
    `<line x1="${left2}" x2="${right2}" y1="${yCores(cores)}" y2="${yCores(cores)}" stroke="#000" stroke-dasharray="6 4"/>`,
    text(right2, yCores(cores) - 5, `${cores} cores`, 'text-anchor="end"'),
    `<line x1="${left2}" x2="${right2}" y1="${bottom}" y2="${bottom}" stroke="#333"/>`,
    `<line x1="${left2}" x2="${left2}" y1="${top}" y2="${bottom}" stroke="#333"/>`,
    text((left2 + right2) / 2, bottom + 34, 'offered rate (events/s)', 'text-anchor="middle"'),
    text(left2, top - 10, 'CPU per process (cores, /proc/<pid>/stat)', 'font-weight="bold"'),
  );
  PROCESSES.forEach((q, i) => {
    const x = left2 + (i % 3) * 125;
    const y = bottom + 52 + Math.floor(i / 3) * 16;
    out.push(
      `<rect x="${x}" y="${y - 10}" width="12" height="12" fill="${q.color}"/>`,
      text(x + 16, y, q.label),
    );
  });
  out.push(
    `<rect x="${left2}" y="${bottom + 74}" width="12" height="12" fill="none" stroke="#c00" stroke-dasharray="4 3"/>`,
    text(left2 + 16, bottom + 84, 'klaxon ingest + detect threads waiting for a CPU (run queue)'),
  );
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
