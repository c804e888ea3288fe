import type { Admin } from 'kafkajs';
import type { KafkaBus } from '../bus/kafka.ts';
import { Detector } from '../detect/detector.ts';
import type { RuleSet } from '../detect/ruleset.ts';
import type { Logger } from '../log.ts';
import type { ElasticsearchSink } from '../sinks/elasticsearch.ts';
import { allReady, type Sink } from '../sinks/sink.ts';
import { BatchConsumer } from './batch-consumer.ts';
import { CorrelateStage } from './correlate-stage.ts';
import { DetectStage } from './detect-stage.ts';

export interface DetectWorkerOptions {
  bus: KafkaBus;
  ruleset: RuleSet;
  sinks: Sink[];
  logger: Logger;
  topics: { events: string; signals: string; deadletter: string; alerts: string };
  /** Partitions of the topics the worker creates when missing (signals, alerts, dead letters). */
  partitions: number;
  replicationFactor?: number;
  groups: { detect: string; correlate: string };
  latenessMs: number;
  /** Extra margin for clock skew between the machines that stamp events and Kafka messages. */
  skewMs?: number;
  eventIndex?: ElasticsearchSink;
  chunkSize?: number;
}

/**
 * The distributed detector: two consumer groups in one process. Stage 1 (`groups.detect`
 * on the events topic) evaluates detection rules and re-keys correlation matches onto the
 * signals topic; stage 2 (`groups.correlate` on the signals topic) runs the correlation
 * windows of the partitions it owns. Both commit only after every sink acknowledged.
 */
export class DetectWorker {
  private readonly opts: DetectWorkerOptions;
  readonly detect: BatchConsumer;
  readonly correlate: BatchConsumer | undefined;
  private readonly admin: Admin;
  private failing = false;

  constructor(opts: DetectWorkerOptions) {
    this.opts = opts;
    const kafka = opts.bus.kafka;
    this.admin = kafka.admin();
    const newDetector = () => new Detector(opts.ruleset, { latenessMs: opts.latenessMs });
    const onDeliveryFailure = () => {
      this.failing = true;
    };
    const onDeliverySuccess = () => {
      this.failing = false;
    };

    const stage1 = new DetectStage({
      newDetector,
      sinks: opts.sinks,
      bus: opts.bus,
      signalsTopic: opts.topics.signals,
      deadletterTopic: opts.topics.deadletter,
      eventIndex: opts.eventIndex,
    });
    this.detect = new BatchConsumer({
      kafka,
      groupId: opts.groups.detect,
      topic: opts.topics.events,
      logger: opts.logger.child({ stage: 'detect' }),
      chunkSize: opts.chunkSize,
      plan: (chunk) => stage1.plan(chunk),
      onGroupJoin: () => stage1.reset(),
      onDeliveryFailure,
      onDeliverySuccess,
    });

    const correlations = opts.ruleset.correlations;
    if (correlations.length > 0) {
      const stage2 = new CorrelateStage({
        newDetector,
        sinks: opts.sinks,
        bus: opts.bus,
        admin: this.admin,
        groupId: opts.groups.correlate,
        deadletterTopic: opts.topics.deadletter,
        maxTimespanMs: Math.max(...correlations.map((c) => c.timespanMs)),
        latenessMs: opts.latenessMs + (opts.skewMs ?? 60_000),
      });
      this.correlate = new BatchConsumer({
        kafka,
        groupId: opts.groups.correlate,
        topic: opts.topics.signals,
        logger: opts.logger.child({ stage: 'correlate' }),
        chunkSize: opts.chunkSize,
        plan: (chunk) => stage2.plan(chunk),
        onGroupJoin: () => stage2.reset(),
        onDeliveryFailure,
        onDeliverySuccess,
      });
    }
  }

  /** Creates the topics it writes when missing, then joins both consumer groups. */
  async start(): Promise<void> {
    const { topics, partitions, replicationFactor } = this.opts;
    await this.opts.bus.ensureTopics(
      [topics.signals, topics.alerts, topics.deadletter].map((topic) => ({
        topic,
        partitions,
        replicationFactor: replicationFactor ?? -1,
      })),
    );
    await this.admin.connect();
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

  /** Finishes the chunk in progress, commits it, leaves both groups; then closes the sinks. */
  async stop(): Promise<void> {
    await Promise.all([this.detect.stop(), this.correlate?.stop()]);
    await this.admin.disconnect();
    await Promise.allSettled(this.opts.sinks.map((s) => s.close()));
  }
}
