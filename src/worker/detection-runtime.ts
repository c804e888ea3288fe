import { Detector } from '../detect/detector.ts';
import type { RuleSet } from '../detect/ruleset.ts';
import { suppressesInWindow } from '../detect/suppression-signal.ts';
import type { Logger } from '../log.ts';
import type { ElasticsearchSink } from '../sinks/elasticsearch.ts';
import type { RetryPolicy } from '../sinks/retry.ts';
import { allReady, type Sink } from '../sinks/sink.ts';
import type { ChunkConsumer, ChunkTransport } from './chunk.ts';
import { CHUNK_RETRY } from './chunk-retry.ts';
import { CorrelateStage } from './correlate-stage.ts';
import type { DeadLetterOutput } from './deadletter.ts';
import { deliverAlerts } from './deliver.ts';
import { DetectStage } from './detect-stage.ts';
import type { FirstSeenLog } from './first-seen-log.ts';

/** A topic a stage reads as a consumer group, on Kafka or on the in-memory bus. */
export interface StageInput {
  transport: ChunkTransport;
  topic: string;
  groupId: string;
}

export interface DetectionRuntimeOptions {
  ruleset: RuleSet;
  sinks: Sink[];
  logger: Logger;
  /** Stage 1 reads the normalized events here. */
  events: StageInput;
  /** Stage 1 produces signals here and stage 2 reads them back. */
  signals: StageInput;
  deadLetters: DeadLetterOutput;
  latenessMs: number;
  /** Extra margin for clock skew between the machines that stamp events and Kafka messages. */
  skewMs?: number;
  eventIndex?: ElasticsearchSink;
  chunkSize?: number;
  retry?: RetryPolicy;
  /**
   * At stop, judge every open window and deliver what it raises. For state that lives only
   * in this process (`serve`); on Kafka the next owner rebuilds the windows instead.
   */
  closeWindowsOnStop?: boolean;
  /** Where the first-seen rules' state is kept (Kafka topic or `state.dir`); without it, in memory only. */
  firstSeen?: FirstSeenLog;
}

/**
 * The detection runtime of `klaxon detect` and `klaxon serve`: two stages, each a consumer
 * group that plans a chunk once, retries its delivery until every sink has it, and commits
 * only then. Stage 1 (`events`) evaluates detection rules and re-keys correlation matches
 * onto `signals`; stage 2 (`signals`) runs the correlation windows of the partitions it
 * owns. On Kafka, stage 1 also re-keys the matches of rules that suppress, so their
 * suppression windows live (and are rebuilt) in stage 2 too, and commits an events chunk
 * only once stage 2 delivered their alerts. Alerts, dead letters and events are counted
 * when delivered, on either bus.
 */
export class DetectionRuntime {
  private readonly opts: DetectionRuntimeOptions;
  private readonly stage1: DetectStage;
  private readonly stage2: CorrelateStage | undefined;
  readonly detect: ChunkConsumer;
  readonly correlate: ChunkConsumer | undefined;
  private failing = false;

  constructor(opts: DetectionRuntimeOptions) {
    this.opts = opts;
    const { events, signals, logger } = opts;
    const newDetector = () => new Detector(opts.ruleset, { latenessMs: opts.latenessMs });
    const common = {
      chunkSize: opts.chunkSize ?? 500,
      retry: opts.retry ?? CHUNK_RETRY,
      onDeliveryFailure: () => {
        this.failing = true;
      },
      onDeliverySuccess: () => {
        this.failing = false;
      },
    };

    // Where the signals outlive a replica (Kafka), suppression windows go with them to stage 2:
    // a rebalance then rebuilds them instead of losing them (a second page for one incident).
    const suppressing = opts.ruleset.rules.filter(suppressesInWindow);
    const barrier =
      suppressing.length > 0 ? signals.transport.commitBarrier?.(signals.groupId, signals.topic) : undefined;
    const stage1 = new DetectStage({
      newDetector,
      sinks: opts.sinks,
      bus: signals.transport,
      signalsTopic: signals.topic,
      deadLetters: opts.deadLetters,
      eventIndex: opts.eventIndex,
      handoff: barrier ? { barrier } : undefined,
    });
    this.stage1 = stage1;
    this.detect = events.transport.consumer({
      ...common,
      groupId: events.groupId,
      topic: events.topic,
      logger: logger.child({ stage: 'detect' }),
      plan: (chunk) => stage1.plan(chunk),
      onGroupJoin: () => stage1.reset(),
    });

    const { correlations, firstSeen } = opts.ruleset;
    if (correlations.length > 0 || firstSeen.length > 0 || barrier) {
      const windows = [
        ...correlations.map((c) => c.timespanMs),
        ...(barrier ? suppressing.map((r) => r.suppress.windowMs) : []),
      ];
      const stage2 = new CorrelateStage({
        newDetector,
        sinks: opts.sinks,
        history: signals.transport.history(signals.groupId),
        deadLetters: opts.deadLetters,
        maxTimespanMs: Math.max(0, ...windows),
        latenessMs: opts.latenessMs + (opts.skewMs ?? 60_000),
        firstSeen: opts.firstSeen,
      });
      this.stage2 = stage2;
      this.correlate = signals.transport.consumer({
        ...common,
        groupId: signals.groupId,
        topic: signals.topic,
        logger: logger.child({ stage: 'correlate' }),
        plan: (chunk) => stage2.plan(chunk),
        onGroupJoin: () => stage2.reset(),
      });
    }
  }

  /** Prepares both buses (topics it writes, admin), then joins both consumer groups. */
  async start(): Promise<void> {
    await this.opts.events.transport.start();
    await this.opts.signals.transport.start();
    await this.detect.start();
    await this.correlate?.start();
  }

  /** Both consumers are group members, the sinks answer, and the last delivery did not fail. */
  async ready(): Promise<{ ready: boolean; reason?: string }> {
    if (!this.detect.isJoined) return { ready: false, reason: 'detect consumer has not joined its group' };
    if (this.correlate && !this.correlate.isJoined) {
      return { ready: false, reason: 'correlate consumer has not joined its group' };
    }
    if (!(await allReady(this.opts.sinks))) return { ready: false, reason: 'a sink is not reachable' };
    if (this.failing) return { ready: false, reason: 'sink writes are failing; offsets held' };
    return { ready: true };
  }

  /**
   * Stage 1 finishes its chunk (on the in-memory bus: first what is already there, until
   * `drainMs` passed), commits and leaves its group; then stage 2 likewise, so it sees the
   * last signals. With `closeWindowsOnStop`, the windows are judged and delivered once.
   * Then the sinks are closed.
   */
  async stop(options: { drainMs?: number } = {}): Promise<void> {
    const deadline = Date.now() + (options.drainMs ?? 0);
    await this.detect.drain(deadline);
    await this.detect.stop();
    await this.correlate?.drain(deadline);
    await this.correlate?.stop();
    if (this.opts.closeWindowsOnStop) await this.closeWindows();
    await this.opts.events.transport.stop();
    await this.opts.signals.transport.stop();
    await this.opts.firstSeen?.close();
    await Promise.allSettled(this.opts.sinks.map((s) => s.close()));
  }

  private async closeWindows(): Promise<void> {
    const alerts = [...this.stage1.close(), ...(this.stage2?.close() ?? [])];
    try {
      await deliverAlerts(this.opts.sinks, alerts, this.opts.deadLetters);
    } catch (error) {
      this.opts.logger.error(
        { err: error, alerts: alerts.length },
        'alerts of the windows closed at shutdown not delivered',
      );
    }
  }
}
