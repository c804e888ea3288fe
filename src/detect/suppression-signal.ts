import type { Alert } from '../schema/alert.ts';
import type { NormalizedEvent } from '../schema/event.ts';
import type { AlertContext, Signal } from '../schema/signal.ts';
import { buildAlert, detectionMessage, levelFromFalcoPriority } from './alert.ts';
import { firstValue } from './fields.ts';
import type { DetectionRule } from './ruleset.ts';

/** A rule whose matches fold into a window that outlives one event (the state a replica can lose). */
export function suppressesInWindow(rule: DetectionRule): boolean {
  return rule.generates && rule.suppress.windowMs > 0;
}

/** The key of a rule's suppression window for an event: the rule and its `suppress.by` values. */
export function suppressionKey(rule: DetectionRule, event: NormalizedEvent): string {
  let key = rule.id;
  for (const acc of rule.suppress.by) key += `\u0000${firstValue(acc, event) ?? ''}`;
  return key;
}

/**
 * A detection-rule match as a signal keyed by its suppression window, so every match of
 * one window lands on one partition of the signals topic and the window is rebuilt from it.
 */
export function suppressionSignal(
  rule: DetectionRule,
  event: NormalizedEvent,
  context: AlertContext,
): Signal {
  const group: Record<string, string> = {};
  rule.suppress.byNames.forEach((name, i) => {
    group[name] = firstValue(rule.suppress.by[i]!, event) ?? '';
  });
  return {
    kind: 'suppression',
    correlation: rule.id,
    rule: rule.id,
    key: suppressionKey(rule, event),
    group,
    time: Date.parse(event['@timestamp']),
    event_id: event.event.id,
    context,
  };
}

/**
 * A detection rule's alert from the context of the event it is about: the same alert
 * whether the window was kept in one process or rebuilt from suppression signals.
 */
export function detectionAlert(
  rule: DetectionRule,
  context: AlertContext,
  p: { alertId: string; firstEventId: string; revision: number; created: string },
): Alert {
  return buildAlert({
    rule,
    level: rule.severityFromFalco ? levelFromFalcoPriority(context.falco?.priority, rule.level) : rule.level,
    context,
    alertId: p.alertId,
    eventIds: [p.firstEventId],
    count: 1,
    revision: p.revision,
    message: detectionMessage(context, rule.title),
    created: p.created,
  });
}
