import type { NormalizeContext, NormalizeResult } from '../normalize/types.ts';
import type { EventDataset, NormalizedEvent } from '../schema/event.ts';
import type { AlertContext } from '../schema/signal.ts';
import type { SecuritySignal } from './signal-types.ts';

/**
 * A dataset: one kind of event Klaxon reads (audit events, Falco alerts, Hubble flows, …), and everything the
 * pipeline needs to know about it, in one place. Stages never test `event.dataset === '…'`: they ask the
 * event's dataset (`datasetOf`). Adding a dataset is an entry like `audit.ts` registered in `index.ts`, and
 * its section (the original payload) in the normalized-event contract (`schema/event.ts`).
 */
export interface Dataset {
  /** `event.dataset` of its events. */
  readonly name: EventDataset;
  /** Short name in metric labels (`source="audit"`) and on the command line. */
  readonly label: string;

  // ---- recognising and normalizing
  /** Whether a raw item (a line of a file, an item of a body) is of this dataset. */
  recognizes(raw: unknown): boolean;
  /** Raw item → normalized event; pure, never throws, redacts. */
  normalize(raw: unknown, ctx: NormalizeContext): NormalizeResult;
  /** Completes a rule test's event as its sender would have written it, at `ms`. */
  testEvent(raw: Record<string, unknown>, ms: number, id: string): Record<string, unknown>;

  // ---- rules
  /** The Sigma logsource of its rules, as written in them (`product: falco`). */
  readonly logsource: string;
  /** Whether a Sigma logsource selects this dataset's events. */
  selectedBy(logsource: Readonly<Record<string, string>>): boolean;
  /** Field resolution for rules of this dataset (see detect/fields.ts). */
  readonly fields: DatasetFields;
  /**
   * Fields the rule index keys on, most selective first: a rule that requires literal values of some of them
   * meets only events carrying one of those values (detect/rule-index.ts).
   */
  readonly index: readonly IndexKey[];
  /** Whether an event is evaluated at all (an audit event is logged at several stages; one counts). */
  evaluable?(event: NormalizedEvent): boolean;
  /** A key under which one request is alerted on once per rule, across stages and retries (audit: auditID). */
  onceKey?(event: NormalizedEvent): string | undefined;
  /** Default fields of a rule's suppression key (one alert per key and window). */
  readonly suppressBy: readonly string[];

  // ---- alerts
  /** The part of the original event an alert carries (who did what, never bodies). */
  alertSection(event: NormalizedEvent): Partial<AlertContext>;
  /** One human line: who did what to what, where — and which rule says so. */
  message(ctx: AlertContext, title: string): string;
  /** ATT&CK tags the original event carries itself (Falco's `tags`), besides the rule's. */
  attackTags?(ctx: AlertContext): readonly unknown[];
  /**
   * Whether its events name the Kubernetes identity that acted: a correlation that ends with another
   * dataset's event (a Falco shell after an exec) still reports who, from this dataset's last event.
   */
  readonly actor: boolean;

  // ---- metrics
  /** Which security-signal counters an event bumps (pure; every label from a fixed set). */
  securitySignals?(event: NormalizedEvent): SecuritySignal[];
}

/** How rule field names resolve for a dataset (detect/fields.ts). */
export interface DatasetFields {
  /** The original payload inside the normalized event: rule field names are its paths first. */
  root(event: NormalizedEvent): unknown;
  /** Top-level field names of the payload; an ECS name outside them is Klaxon's (never read from the payload). */
  readonly topLevel: ReadonlySet<string>;
  /** Short names (pySigma's) → payload paths. */
  readonly shortNames?: Readonly<Record<string, string>>;
  /** Where an unqualified name that is no payload field is looked for at any depth (audit: the request object). */
  deepRoot?(event: NormalizedEvent): unknown;
}

/** One field of the rule index. */
export interface IndexKey {
  /** Name of the key (`verb`, `resource`, `code`). */
  readonly key: string;
  /** Rule field names that constrain it. */
  readonly fields: readonly string[];
  /** The event's value, lower-cased text (undefined: the event has none). */
  value(event: NormalizedEvent): string | undefined;
}
