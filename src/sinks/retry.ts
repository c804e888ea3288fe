import { setTimeout as sleep } from 'node:timers/promises';

/** Bounded exponential backoff: a sink retries a few times, then reports itself unavailable. */
export interface RetryPolicy {
  attempts: number;
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseMs: 200, maxMs: 5_000 };

/** Delay before retry number `attempt` (0-based): doubling, capped, with jitter so replicas do not stampede. */
export function backoffMs(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** attempt);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

export async function pause(ms: number): Promise<void> {
  await sleep(ms);
}
