/**
 * `rss_mb`: detector memory with N live correlation keys, in a fresh child process
 * (run with `--expose-gc`): RSS after loading the catalogue and creating the
 * detector is the baseline; then N/2 requests refused by the authorizer, each from a
 * different source IP and user, each opening a group in each correlation of the
 * refused-request rules (none reaches its threshold, so none fires); RSS again after
 * full GCs. The difference is the whole detector's state: those groups, and the
 * suppression windows, first-seen keys and request memory the same events open.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface RssFigures {
  rss_mb: number;
  groups: number;
  detail: string;
}

interface ChildReport {
  baseRssMb: number;
  rssMb: number;
  heapMb: number;
  alerts: number;
  events: number;
  /** Live correlation groups the detector holds at the end. */
  groups: number;
  seconds: number;
  /** Heap freed by closing every window (suppression and correlation), then by dropping the rest of the state. */
  windowsMb: number;
  restMb: number;
}

const SELF = fileURLToPath(import.meta.url);

export function measureCorrelationRss(rulePaths: string[], keys: number, seed: number): Promise<RssFigures> {
  return new Promise((resolve, reject) => {
    const child = fork(SELF, ['--child', JSON.stringify({ rulePaths, keys, seed })], {
      execArgv: ['--expose-gc'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    child.once('message', (m: ChildReport) => {
      const delta = m.rssMb - m.baseRssMb;
      resolve({
        rss_mb: delta,
        groups: m.groups,
        detail:
          `${m.events} events opened ${m.groups} correlation groups in ${m.seconds.toFixed(1)} s, ${m.alerts} alerts; RSS ${m.baseRssMb.toFixed(1)} → ` +
          `${m.rssMb.toFixed(1)} MiB (+${delta.toFixed(1)}), heap used +${m.heapMb.toFixed(1)} MiB ` +
          `(${((delta * 1024 * 1024) / Math.max(1, m.groups)).toFixed(0)} B/group); of the heap, ` +
          `${m.windowsMb.toFixed(1)} MiB freed by closing every suppression and correlation window, ` +
          `${m.restMb.toFixed(1)} MiB by then dropping first-seen keys and the request memory`,
      });
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) reject(new Error(`rss child exited with ${code}`));
    });
  });
}

async function child(options: { rulePaths: string[]; keys: number; seed: number }): Promise<void> {
  const { Detector, loadRules } = await import('../../src/detect/index.ts');
  const { normalizeAudit } = await import('../../src/normalize/index.ts');
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc');
  const settle = () => {
    for (let i = 0; i < 3; i++) gc();
  };
  const { ruleset, errors } = await loadRules(options.rulePaths);
  if (errors.length > 0) throw new Error(`rule errors: ${JSON.stringify(errors)}`);
  const detector = new Detector(ruleset);
  // Held from a global so no GC can drop the detector's state before the figures are taken.
  (globalThis as { benchDetector?: unknown }).benchDetector = detector;
  settle();
  const base = process.memoryUsage();
  const start = Date.UTC(2026, 0, 1);
  const t0 = performance.now();
  let alerts = 0;
  // Each event opens a group in each correlation of the refused-request rules (its source IP's event_count, its
  // user's value_counts): more groups than `keys`, churning through the cap of live ones.
  const events = Math.ceil(options.keys / 2);
  for (let i = 0; i < events; i++) {
    // 1 ms apart: 100,000 events span 100 s, inside every burst window.
    const at = new Date(start + i).toISOString();
    const raw = {
      kind: 'Event',
      apiVersion: 'audit.k8s.io/v1',
      level: 'Metadata',
      auditID: `rss-${options.seed}-${i}`,
      stage: 'ResponseComplete',
      requestURI: '/api/v1/namespaces/kube-system/secrets',
      verb: 'list',
      user: { username: `scanner-${i}`, groups: ['system:authenticated'] },
      sourceIPs: [`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`],
      userAgent: 'python-requests/2.31.0',
      objectRef: { resource: 'secrets', namespace: 'kube-system', apiVersion: 'v1' },
      responseStatus: {
        metadata: {},
        status: 'Failure',
        message: `secrets is forbidden: User "scanner-${i}" cannot list resource "secrets"`,
        reason: 'Forbidden',
        code: 403,
      },
      requestReceivedTimestamp: at,
      stageTimestamp: at,
      annotations: { 'authorization.k8s.io/decision': 'forbid', 'authorization.k8s.io/reason': '' },
    };
    const result = normalizeAudit(raw, { cluster: 'bench' });
    if (!result.ok) throw new Error(result.reason);
    alerts += detector.process(result.event).length;
  }
  const seconds = (performance.now() - t0) / 1000;
  settle();
  const after = process.memoryUsage();
  const mb = (n: number) => n / 1024 / 1024;
  const groups = detector.correlationGroups;
  // What the figure is made of: the windows first (flush closes them, and its alerts are dropped at once), then
  // the state that outlives them.
  detector.flush();
  settle();
  const flushed = process.memoryUsage().heapUsed;
  detector.discard();
  settle();
  const discarded = process.memoryUsage().heapUsed;
  const report: ChildReport = {
    baseRssMb: mb(base.rss),
    rssMb: mb(after.rss),
    heapMb: mb(after.heapUsed - base.heapUsed),
    alerts,
    events,
    groups,
    seconds,
    windowsMb: mb(after.heapUsed - flushed),
    restMb: mb(flushed - discarded),
  };
  process.send?.(report, () => process.exit(0));
}

if (process.argv[2] === '--child') {
  child(JSON.parse(process.argv[3] ?? '{}')).catch((err) => {
    process.stderr.write(`rss child failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
