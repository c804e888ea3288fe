import type { Bus, BusMessage } from '../bus/types.ts';
import { datasetOf } from '../datasets/index.ts';
import { contextOf } from '../detect/alert.ts';
import type { Detector } from '../detect/detector.ts';
import { suppressesInWindow, suppressionSignal } from '../detect/suppression-signal.ts';
import { detectEvents } from '../metrics.ts';
import type { Alert } from '../schema/alert.ts';
import type { NormalizedEvent } from '../schema/event.ts';
import type { Signal } from '../schema/signal.ts';
import type { ElasticsearchSink } from '../sinks/elasticsearch.ts';
import type { Sink } from '../sinks/sink.ts';
import type { Chunk, ChunkPlan } from './chunk.ts';
import type { CommitBarrier, CommitMarks } from './commit-barrier.ts';
import { type DeadLetter, type DeadLetterOutput, undecodableLetter } from './deadletter.ts';
import { decodeEvent } from './decode.ts';
import { deliverAlerts } from './deliver.ts';
import { countSecuritySignals } from './security-signals.ts';

export interface DetectStageOptions {
  /** Makes the stateless evaluator and the suppression state; called again after a rebalance. */
  newDetector(): Detector;
  sinks: readonly Sink[];
  /** Where signals go (Kafka, or the in-memory bus of `serve`). */
  bus: Pick<Bus, 'produce'>;
  signalsTopic: string;
  deadLetters: DeadLetterOutput;
  /** When set and enabled, normalized events are indexed for hunting too. */
  eventIndex?: ElasticsearchSink;
  /**
   * Suppression windows live in the correlate stage, where they are rebuilt from the signals
   * topic after a rebalance: a match of a rule that suppresses becomes a suppression signal,
   * and a chunk is committed only once the correlate stage has committed those signals (their
   * alerts are with every sink). Unset: the windows live here, in this replica's memory.
   */
  handoff?: { barrier: CommitBarrier; timeoutMs?: number };
}

/** How long one attempt waits for the correlate stage before it is retried (and readiness says so). */
const HANDOFF_TIMEOUT_MS = 30_000;

/**
 * Waits for the correlate stage to commit the suppression signals produced under `keys`. Built
 * apart from the plan, so a chunk waiting for it holds its keys, not its events.
 */
function handedOver(
  handoff: NonNullable<DetectStageOptions['handoff']>,
  keys: string[],
): () => Promise<void> {
  let marks: CommitMarks | undefined;
  return async () => {
    marks ??= await handoff.barrier.mark(keys);
    await handoff.barrier.reached(marks, handoff.timeoutMs ?? HANDOFF_TIMEOUT_MS);
  };
}

/** The key of a signal: its correlation's group key, so one window lives on one partition. */
export function signalMessage(signal: Signal): BusMessage {
  return { key: signal.key, value: JSON.stringify(signal) };
}

/**
 * Stage 1, on the events topic: decode, evaluate the detection rules (stateless per event),
 * send detection alerts to the sinks, and re-key every match a correlation needs onto the
 * signals topic by that correlation's group-by values. Undecodable messages, and events the
 * rules cannot be evaluated on, become dead letters and never block the partition.
 */
export class DetectStage {
  private readonly opts: DetectStageOptions;
  private detector: Detector;
  /** Clusters whose windows this detector holds (bounded: cluster names come from Klaxon's credentials). */
  private clusters = new Set<string>();

  constructor(opts: DetectStageOptions) {
    this.opts = opts;
    this.detector = opts.newDetector();
  }

  /**
   * A new group generation may hand this replica partitions whose suppression windows it
   * never saw, and take back chunks it evaluated but did not commit: start clean so a
   * re-read chunk raises its alerts again (same ids, so sinks deduplicate).
   */
  reset(): void {
    this.detector.discard();
    this.detector = this.opts.newDetector();
    this.clusters = new Set();
  }

  plan(chunk: Chunk): ChunkPlan {
    const letters: DeadLetter[] = [];
    const events: NormalizedEvent[] = [];
    const alerts: Alert[] = [];
    const signals: Signal[] = [];
    /** Keys of the suppression signals: the correlate stage must deliver them before this chunk commits. */
    const handed: string[] = [];
    const { handoff } = this.opts;
    /** Latest event time per cluster: each cluster's windows move with its own events only. */
    const latest = new Map<string, number>();
    for (const m of chunk.messages) {
      const decoded = decodeEvent(m.value);
      if (!decoded.ok) {
        letters.push(undecodableLetter(m, decoded));
        continue;
      }
      const event = decoded.value;
      try {
        const raised: Alert[] = [];
        const matched: Signal[] = [];
        for (const match of this.detector.firstPerRequest(event, this.detector.evaluate(event))) {
          if (handoff && suppressesInWindow(match.rule)) {
            const signal = suppressionSignal(match.rule, event, contextOf(event));
            matched.push(signal);
            handed.push(signal.key);
          } else raised.push(...this.detector.alertsFor(match));
          matched.push(...this.detector.signalsFor(match));
        }
        alerts.push(...raised);
        signals.push(...matched);
      } catch (error) {
        letters.push({
          reason: 'evaluation-failed',
          detail: error instanceof Error ? error.message : String(error),
          key: m.key,
          value: m.value,
          source: { topic: m.topic, partition: m.partition, offset: m.offset },
        });
        continue;
      }
      events.push(event);
      const cluster = event.orchestrator.cluster.name;
      this.clusters.add(cluster);
      const t = Date.parse(event['@timestamp']);
      if (!(t <= (latest.get(cluster) ?? Number.NEGATIVE_INFINITY))) latest.set(cluster, t);
    }
    for (const [cluster, t] of latest)
      if (Number.isFinite(t)) alerts.push(...this.detector.advance(cluster, t));

    const { sinks, bus, signalsTopic, deadLetters, eventIndex } = this.opts;
    // A retried delivery goes on from the step that failed: nothing is produced or written twice.
    let signalsSent = false;
    let written = false;
    return {
      outcome: { kind: 'commit' },
      ...(handoff && handed.length > 0 ? { handedOver: handedOver(handoff, handed) } : {}),
      deliver: async () => {
        if (!signalsSent) {
          // Signals first: once they are acknowledged, the correlation stage owns them.
          await bus.produce(signalsTopic, signals.map(signalMessage));
          signalsSent = true;
        }
        if (!written) {
          await deliverAlerts(sinks, alerts, deadLetters);
          const refused = eventIndex ? await eventIndex.writeEvents(events) : [];
          await deadLetters.send([
            ...letters,
            ...refused.map(({ event, reason }) => ({
              reason: 'sink-rejected' as const,
              detail: `elasticsearch events: ${reason}`,
              key: event.event.id,
              value: JSON.stringify(event),
            })),
          ]);
          written = true;
        }
        // Counted once the chunk is delivered, so a retried chunk is not counted twice.
        for (const event of events) {
          detectEvents.inc({ source: datasetOf(event).label });
          countSecuritySignals(event);
        }
      },
    };
  }

  /**
   * End of input (`serve` stopping: its state does not outlive the process): closes every
   * suppression window, returning the final revisions to deliver.
   */
  close(): Alert[] {
    const out: Alert[] = [];
    for (const cluster of this.clusters)
      out.push(...this.detector.advance(cluster, Number.POSITIVE_INFINITY));
    return out;
  }
}
