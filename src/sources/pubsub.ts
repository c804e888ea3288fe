import { Duration, type Message, PubSub, type Subscription } from '@google-cloud/pubsub';
import { pubsubMessages } from '../metrics.ts';
import { gkeAuditFromMessageData } from '../normalize/gke-readers.ts';
import {
  acceptMessages,
  type ConvertedMessage,
  convertMessage,
  DeadLetterLog,
  type MessageOutcome,
} from './pubsub-messages.ts';
import { type PubSubSourceSettings, SUBSCRIPTION_NAME } from './pubsub-settings.ts';
import type { PullSource, SourceContext, SourceModule } from './types.ts';

/** Longest wait before a message whose events cannot be made durable is nacked (Pub/Sub redelivers it at once). */
const MAX_RETRY_DELAY_MS = 30_000;
/** How long `stop` lets the batch in flight finish before the client nacks what is left. */
const CLOSE_TIMEOUT_SECONDS = 30;
const REOPEN_MIN_MS = 1_000;
const REOPEN_MAX_MS = 60_000;

/** A gRPC error as the Pub/Sub client reports it: the status code and its text, never more. */
function describe(err: unknown): string {
  const e = err as { code?: unknown; details?: unknown; message?: unknown };
  const text = typeof e?.details === 'string' && e.details !== '' ? e.details : String(e?.message ?? err);
  return typeof e?.code === 'number' ? `gRPC ${e.code}: ${text}` : text;
}

/**
 * `type: pubsub`: GKE audit entries from a Pub/Sub subscription by streaming pull. Messages are gathered into
 * batches (`batchSize`, `batchMs`), converted, and offered to the accept path one batch at a time, in the order
 * they came; each message is acked only once its events are durable, nacked (redelivered) when they cannot be
 * made durable now, and acked as a dead letter (counted, reason logged) when it can never be processed. Flow
 * control bounds what is held: `maxMessages` and `maxBytes`. Several replicas may share the subscription;
 * a redelivered entry keeps its event id (its `insertId`), so the detector raises no second alert for it.
 */
class PubSubPull implements PullSource {
  private readonly config: PubSubSourceSettings;
  private readonly ctx: SourceContext;
  private readonly deadLetters: DeadLetterLog;
  private readonly pubsub: PubSub;
  private subscription: Subscription | undefined;
  private pending: Message[] = [];
  private pendingBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Batches run one after another, in the order their messages came. */
  private chain: Promise<void> = Promise.resolve();
  private stopping = false;
  /** Cuts the waits before nacks short when the source stops. */
  private readonly stopped = new AbortController();
  /** Why the stream cannot pull (cleared by the next message). */
  private pullProblem: string | undefined;
  /** Why events cannot be made durable (cleared by the next batch that can). */
  private acceptProblem: string | undefined;
  private reopenTimer: NodeJS.Timeout | undefined;
  private reopenMs = REOPEN_MIN_MS;

  constructor(config: PubSubSourceSettings, ctx: SourceContext) {
    this.config = config;
    this.ctx = ctx;
    this.deadLetters = new DeadLetterLog(ctx.logger, ctx.name);
    // The project is the subscription's; credentials are Application Default Credentials (Workload Identity),
    // or none with PUBSUB_EMULATOR_HOST.
    this.pubsub = new PubSub({ projectId: SUBSCRIPTION_NAME.exec(config.subscription)![1]! });
  }

  async start(): Promise<void> {
    const { config } = this;
    const subscription = this.pubsub.subscription(config.subscription, {
      flowControl: { maxMessages: config.maxMessages, maxBytes: config.maxBytes, allowExcessMessages: false },
      maxExtensionTime: Duration.from({ minutes: config.maxExtensionMinutes }),
      // On close, the stream stops at once, the batch in flight is waited for, and the rest is nacked.
      closeOptions: { behavior: 'WAIT', timeout: Duration.from({ seconds: CLOSE_TIMEOUT_SECONDS }) },
    });
    subscription.on('message', (message: Message) => this.receive(message));
    subscription.on('error', (err: unknown) => this.failed(err));
    subscription.on('close', () => this.closed());
    this.subscription = subscription;
    this.ctx.logger.info(
      { source: this.ctx.name, subscription: config.subscription },
      'pulling from Pub/Sub',
    );
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.reopenTimer);
    this.stopped.abort();
    this.flush();
    const closing = this.subscription?.close();
    await this.chain;
    await closing;
    await this.pubsub.close();
  }

  status(): { ok: boolean; reason?: string } {
    const problem = this.pullProblem ?? this.acceptProblem;
    return problem ? { ok: false, reason: problem } : { ok: true };
  }

  private receive(message: Message): void {
    pubsubMessages.inc({ source: this.ctx.name, outcome: 'received' });
    if (this.stopping) {
      message.nack();
      pubsubMessages.inc({ source: this.ctx.name, outcome: 'nacked' });
      return;
    }
    this.pullProblem = undefined;
    this.reopenMs = REOPEN_MIN_MS;
    this.pending.push(message);
    this.pendingBytes += message.length;
    if (this.pending.length >= this.config.batchSize || this.pendingBytes >= this.config.maxBytes / 2)
      this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.config.batchMs);
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    this.chain = this.chain.then(() => this.process(batch));
  }

  private async process(batch: Message[]): Promise<void> {
    const converted: ConvertedMessage[] = batch.map((message) =>
      convertMessage(gkeAuditFromMessageData(message.data, message.id), this.config, this.ctx.name),
    );
    let outcomes: MessageOutcome[];
    try {
      outcomes = await acceptMessages(this.ctx.accept, converted, new Date().toISOString());
    } catch (err) {
      // A defect, not bad input: the messages come back later rather than being lost.
      this.ctx.logger.error({ source: this.ctx.name, err }, 'Pub/Sub batch failed; nacking it');
      outcomes = batch.map(() => ({ kind: 'retry', retryAfterSeconds: 5, reason: 'internal error' }));
    }
    const retryAfter = Math.max(
      0,
      ...outcomes.map((o) => (o.kind === 'retry' ? o.retryAfterSeconds * 1000 : 0)),
    );
    batch.forEach((message, i) => {
      const outcome = outcomes[i]!;
      if (outcome.kind === 'retry') return;
      if (outcome.kind === 'deadletter') this.deadLetters.record(message.id, outcome.reason);
      message.ack();
      pubsubMessages.inc({ source: this.ctx.name, outcome: 'acked' });
    });
    const retries = batch.filter((_, i) => outcomes[i]!.kind === 'retry');
    if (retries.length === 0) {
      this.acceptProblem = undefined;
      return;
    }
    const first = outcomes.find((o) => o.kind === 'retry');
    this.acceptProblem = `events cannot be made durable now: ${first?.kind === 'retry' ? first.reason : ''}`;
    this.ctx.logger.warn({ source: this.ctx.name, messages: retries.length }, this.acceptProblem);
    // Held a while before the nack: Pub/Sub redelivers a nacked message at once, and the next batches wait
    // behind this one, so the subscription is not spun through while Kafka and the spool are unavailable.
    await this.pause(Math.min(retryAfter, MAX_RETRY_DELAY_MS));
    for (const message of retries) message.nack();
    pubsubMessages.inc({ source: this.ctx.name, outcome: 'nacked' }, retries.length);
  }

  private pause(ms: number): Promise<void> {
    if (this.stopped.signal.aborted || ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const signal = this.stopped.signal;
      function done() {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done, { once: true });
    });
  }

  private failed(err: unknown): void {
    if (this.stopping) return;
    this.pullProblem = `cannot pull from ${this.config.subscription}: ${describe(err)}`;
    this.ctx.logger.warn({ source: this.ctx.name }, this.pullProblem);
  }

  /** The client closes the stream after an error it does not retry (NOT_FOUND, PERMISSION_DENIED): open it again later. */
  private closed(): void {
    if (this.stopping) return;
    clearTimeout(this.reopenTimer);
    const wait = this.reopenMs;
    this.reopenMs = Math.min(REOPEN_MAX_MS, this.reopenMs * 2);
    this.reopenTimer = setTimeout(() => {
      if (!this.stopping) this.subscription?.open();
    }, wait);
  }
}

export const pubsubSource: SourceModule<PubSubSourceSettings> = {
  create: (config, ctx) => new PubSubPull(config, ctx),
};
