import type { Detector } from '../detect/detector.ts';
import type { Alert } from '../schema/alert.ts';
import type { Signal } from '../schema/signal.ts';
import type { Sink } from '../sinks/sink.ts';
import type { Chunk, ChunkPlan } from './chunk.ts';
import { type DeadLetter, type DeadLetterOutput, undecodableLetter } from './deadletter.ts';
import { decodeSignal } from './decode.ts';
import { deliverAlerts } from './deliver.ts';
import type { FirstSeenLog } from './first-seen-log.ts';
import type { OffsetHistory } from './offset-history.ts';

export interface CorrelateStageOptions {
  /**
   * A fresh engine (one per partition: a partition's windows move with it) for correlation
   * windows and the suppression windows handed over by the detect stage.
   */
  newDetector(): Detector;
  sinks: readonly Sink[];
  /** The stage's group's earlier commits on the signals topic (nothing, on the in-memory bus). */
  history: OffsetHistory;
  deadLetters: DeadLetterOutput;
  /** The longest window of the rule set: correlation timespan, or suppression window handed over. */
  maxTimespanMs: number;
  /** How late a signal may arrive (the engine's lateness) plus clock skew between producers. */
  latenessMs: number;
  /** Signal identities remembered per partition, to drop the copies a stage-1 retry produces. */
  dedupeCapacity?: number;
  /** Where first-seen state is kept (it is stored, not rebuilt: its timespans are weeks). */
  firstSeen?: FirstSeenLog;
}

/** Written with each commit: where a rebuild has to start reading again. */
interface CommitMeta {
  /** Latest signal event time seen (ms). */
  w: number;
  /** Produce time of the last committed message (ms). */
  p: number;
}

export function encodeCommitMeta(meta: CommitMeta): string {
  return JSON.stringify(meta);
}

export function decodeCommitMeta(text: string | null | undefined): CommitMeta | undefined {
  if (!text) return undefined;
  try {
    const v = JSON.parse(text) as Partial<CommitMeta>;
    return typeof v.w === 'number' && typeof v.p === 'number' ? { w: v.w, p: v.p } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The time from which a partition's signals must be re-read to rebuild every window still
 * open at the committed position: a window still open holds signals no older (in event
 * time) than the watermark minus the longest timespan and the lateness, and a signal is
 * produced after its event happened, so its Kafka timestamp is no older either.
 */
export function rebuildFromTime(meta: CommitMeta, maxTimespanMs: number, latenessMs: number): number {
  return Math.max(0, Math.min(meta.w, meta.p) - maxTimespanMs - latenessMs);
}

/** The cluster a signal belongs to, as the engine files it (its event's, set from the credential). */
function clusterOf(signal: Signal): string {
  return signal.context.orchestrator?.cluster?.name ?? '';
}

/** Insertion-ordered set that forgets its oldest members beyond a cap. */
class BoundedSet {
  private readonly items = new Set<string>();
  private readonly cap: number;
  constructor(cap: number) {
    this.cap = cap;
  }
  /** Adds; false when already present. */
  add(item: string): boolean {
    if (this.items.has(item)) return false;
    this.items.add(item);
    if (this.items.size > this.cap) this.items.delete(this.items.values().next().value as string);
    return true;
  }
}

interface PartitionState {
  engine: Detector;
  seen: BoundedSet;
  /** Offsets below it were processed (and their alerts delivered) before: rebuild only. */
  replayUntil: bigint;
  watermark: number;
  /** Clusters whose windows the engine holds. */
  clusters: Set<string>;
}

/**
 * Stage 2, on `klaxon.signals`: each partition holds the correlation windows of the group
 * keys hashed to it, and the suppression windows of the detection rules whose matches the
 * detect stage hands over (keyed by rule and `suppress.by` values), in its own engine. When this replica is (re)assigned a partition, it
 * first rewinds to where the open windows began (from the commit metadata), replays those
 * signals into a fresh engine while discarding the alerts they raise (they were delivered
 * before the commit), then goes on live from the committed offset.
 */
export class CorrelateStage {
  private readonly opts: CorrelateStageOptions;
  private readonly partitions = new Map<number, PartitionState>();

  constructor(opts: CorrelateStageOptions) {
    this.opts = opts;
  }

  /** New group generation: every partition's state is rebuilt from the signals topic. */
  reset(): void {
    for (const state of this.partitions.values()) state.engine.discard();
    this.partitions.clear();
  }

  async plan(chunk: Chunk): Promise<ChunkPlan> {
    let state = this.partitions.get(chunk.partition);
    if (!state) {
      const first = chunk.messages[0]!.offset;
      const rebuild = await this.startRebuild(chunk.topic, chunk.partition, first);
      state = {
        engine: this.opts.newDetector(),
        seen: new BoundedSet(this.opts.dedupeCapacity ?? 200_000),
        replayUntil: rebuild.replayUntil,
        watermark: rebuild.watermark,
        clusters: new Set(),
      };
      // Stored before the commit of every chunk that changed it: what the last owner knew.
      if (this.opts.firstSeen) state.engine.restoreFirstSeen(await this.opts.firstSeen.load(chunk.partition));
      this.partitions.set(chunk.partition, state);
      if (rebuild.from < BigInt(first)) {
        return { outcome: { kind: 'seek', offset: rebuild.from.toString() }, deliver: async () => {} };
      }
    }

    const letters: DeadLetter[] = [];
    const alerts: Alert[] = [];
    let live = false;
    for (const m of chunk.messages) {
      const replay = BigInt(m.offset) < state.replayUntil;
      live ||= !replay;
      const decoded = decodeSignal(m.value);
      if (!decoded.ok) {
        if (!replay) letters.push(undecodableLetter(m, decoded));
        continue;
      }
      const signal = decoded.value;
      // A stage-1 chunk delivered twice produces its signals twice: count each event once.
      if (!state.seen.add(`${signal.key}\0${signal.rule}\0${signal.event_id}`)) continue;
      const raised =
        signal.kind === 'suppression' ? state.engine.suppress(signal) : state.engine.correlate(signal);
      state.clusters.add(clusterOf(signal));
      if (signal.time > state.watermark) state.watermark = signal.time;
      if (!replay) alerts.push(...raised);
    }
    if (!live) return { outcome: { kind: 'skip' }, deliver: async () => {} };

    const last = chunk.messages[chunk.messages.length - 1]!;
    const metadata = encodeCommitMeta({ w: state.watermark, p: last.timestamp });
    const { sinks, deadLetters, firstSeen } = this.opts;
    const learned = firstSeen ? state.engine.firstSeenChanges() : [];
    return {
      outcome: { kind: 'commit', metadata },
      deliver: async () => {
        await deliverAlerts(sinks, alerts, deadLetters);
        // After the alerts: a crash in between raises them again (same ids) instead of losing them.
        await firstSeen?.save(learned);
        await deadLetters.send(letters);
      },
    };
  }

  /**
   * End of input (`serve` stopping: its windows do not outlive the process): judges every
   * open window, returning the alerts to deliver.
   */
  close(): Alert[] {
    const out: Alert[] = [];
    for (const state of this.partitions.values()) {
      for (const cluster of state.clusters) {
        out.push(...state.engine.advance(cluster, Number.POSITIVE_INFINITY));
      }
    }
    return out;
  }

  /**
   * Where to start reading a newly assigned partition. `first` is where the consumer starts
   * (the committed offset, or the log start for a new group).
   */
  private async startRebuild(
    topic: string,
    partition: number,
    first: string,
  ): Promise<{ from: bigint; replayUntil: bigint; watermark: number }> {
    const start = BigInt(first);
    const committed = await this.opts.history.committed(topic, partition);
    if (!committed) return { from: start, replayUntil: start, watermark: Number.NEGATIVE_INFINITY };
    const committedAt = committed.offset;
    const meta = decodeCommitMeta(committed.metadata) ?? { w: Date.now(), p: Date.now() };
    const since = rebuildFromTime(meta, this.opts.maxTimespanMs, this.opts.latenessMs);
    const found = await this.opts.history.offsetAt(topic, partition, since);
    const from = found !== undefined && found < committedAt ? found : committedAt;
    return { from, replayUntil: committedAt, watermark: Number.NEGATIVE_INFINITY };
  }
}
