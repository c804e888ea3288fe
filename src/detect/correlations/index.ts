import type { CorrelationType } from '../ruleset.ts';
import { eventCount } from './event-count.ts';
import type { CorrelationStrategy } from './strategy.ts';
import { temporal } from './temporal.ts';
import { temporalOrdered } from './temporal-ordered.ts';
import { valueCount } from './value-count.ts';

/**
 * The correlation types Klaxon runs, one strategy each. Adding one (`value_sum`, say) is a module
 * beside these, its name in `CorrelationType` (ruleset.ts) and an entry here; the Sigma types
 * without an entry are refused at load.
 */
const STRATEGIES: Record<CorrelationType, CorrelationStrategy> = {
  event_count: eventCount,
  value_count: valueCount,
  temporal,
  temporal_ordered: temporalOrdered,
};

export const CORRELATION_TYPES = Object.keys(STRATEGIES) as CorrelationType[];

export function isCorrelationType(type: string): type is CorrelationType {
  return Object.hasOwn(STRATEGIES, type);
}

export function strategyOf(type: CorrelationType): CorrelationStrategy {
  return STRATEGIES[type];
}
