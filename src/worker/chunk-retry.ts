import type { Logger } from '../log.ts';
import { backoffMs, type RetryPolicy } from '../sinks/retry.ts';

/** Between attempts of a chunk, on every bus: unbounded (the partition waits), doubling to 15 s. */
export const CHUNK_RETRY: RetryPolicy = { attempts: Number.POSITIVE_INFINITY, baseMs: 250, maxMs: 15_000 };

export interface ChunkRetry {
  policy: RetryPolicy;
  logger: Logger;
  /** False once the consumer stops or loses the partition: stop trying. */
  alive(): boolean;
  /** Keeps a group membership alive while waiting (Kafka). */
  heartbeat?(): Promise<void>;
  onFailure?(error: unknown): void;
  onSuccess?(): void;
}

/**
 * Runs `attempt` until it succeeds, heartbeating meanwhile; gives up (undefined) only when
 * the consumer stops or loses the partition, or the policy's attempts run out.
 */
export async function retryChunk<T>(attempt: () => Promise<T>, r: ChunkRetry): Promise<T | undefined> {
  const beat = () => r.heartbeat?.().catch(() => {});
  for (let n = 0; n < r.policy.attempts; n++) {
    if (!r.alive()) return undefined;
    const keepAlive = r.heartbeat ? setInterval(() => void beat(), 2_000) : undefined;
    try {
      const value = await attempt();
      r.onSuccess?.();
      return value;
    } catch (error) {
      r.onFailure?.(error);
      r.logger.warn({ err: error, attempt: n + 1 }, 'chunk delivery failed; retrying');
    } finally {
      clearInterval(keepAlive);
    }
    const until = Date.now() + backoffMs(r.policy, n);
    while (Date.now() < until && r.alive()) {
      await beat();
      await new Promise((resolve) => setTimeout(resolve, Math.min(500, until - Date.now())));
    }
  }
  return undefined;
}
