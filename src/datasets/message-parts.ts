import type { AlertContext } from '../schema/signal.ts';

/** A non-empty string or a number as text. */
export function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : undefined;
}

/** `in namespace shop of cluster prod`, or `in cluster prod (cluster-wide)`. */
export function where(ctx: AlertContext): string {
  const cluster = ctx.orchestrator?.cluster?.name ?? 'unknown';
  const ns = ctx.orchestrator?.namespace;
  return ns ? `in namespace ${ns} of cluster ${cluster}` : `in cluster ${cluster} (cluster-wide)`;
}

/** Keeps the listed keys of an object that are set. */
export function pick(obj: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) if (obj[k] !== undefined) out[k] = obj[k];
  return out;
}
