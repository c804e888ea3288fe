import { countRaised } from '../detect/detector.ts';
import { detectLagSeconds } from '../metrics.ts';
import type { Alert } from '../schema/alert.ts';
import { type Sink, writeToAll } from '../sinks/sink.ts';
import type { DeadLetterOutput } from './deadletter.ts';

/**
 * Writes alerts to every sink; alerts a sink refused for good become dead letters with the
 * sink's reason. Throws when a sink is unavailable (the caller retries the chunk and commits
 * nothing). Counts alerts (`klaxon_alerts_total`, revision 0 only) and detection lag once
 * they are delivered, so a retried chunk is counted once.
 */
export async function deliverAlerts(
  sinks: readonly Sink[],
  alerts: readonly Alert[],
  deadLetters: DeadLetterOutput,
  now: () => number = Date.now,
): Promise<void> {
  if (alerts.length === 0) return;
  const rejected = await writeToAll(sinks, alerts);
  await deadLetters.send(
    rejected.map((r) => ({
      reason: 'sink-rejected' as const,
      detail: `${r.sink}: ${r.reason}`,
      key: r.alert.klaxon.alert_id,
      value: JSON.stringify(r.alert),
    })),
  );
  const at = now();
  for (const alert of alerts) {
    if (alert.klaxon.revision !== 0) continue;
    countRaised(alert);
    const t = Date.parse(alert['@timestamp']);
    if (Number.isFinite(t)) detectLagSeconds.observe(Math.max(0, (at - t) / 1000));
  }
}
