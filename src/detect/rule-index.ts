import type { IndexKey } from '../datasets/index.ts';
import type { NormalizedEvent } from '../schema/event.ts';
import type { DetectionRule } from './ruleset.ts';

/** One level of the index: rules by the event's value of this level's key, and rules that do not constrain it. */
interface Node {
  byValue: Map<string, Node>;
  any: Node | undefined;
  /** At the last level: the rules. */
  rules: DetectionRule[];
}

const node = (): Node => ({ byValue: new Map(), any: undefined, rules: [] });

/**
 * A dataset's detection rules by the literal values they require of its index keys (`Dataset.index`, most
 * selective first), so an event meets only the rules that can match it: a rule on `create` of
 * `clusterrolebindings` is never tried on the `list` of `pods` that makes up most of an audit stream. A trie
 * with one level per key; a rule that does not constrain a key sits under that level's `any` branch.
 */
export class RuleIndex {
  private readonly keys: readonly IndexKey[];
  private readonly root = node();
  /** The event's value of each key, computed once per event (a level can be reached through several branches). */
  private readonly values: (string | undefined)[];
  private readonly known: boolean[];

  constructor(keys: readonly IndexKey[], rules: readonly DetectionRule[]) {
    this.keys = keys;
    this.values = keys.map(() => undefined);
    this.known = keys.map(() => false);
    for (const rule of rules) {
      // A requirement that is an empty set (contradictory literals) can never match: indexed nowhere.
      if (keys.some((k) => rule.requires[k.key]?.size === 0)) continue;
      this.insert(this.root, 0, rule);
    }
  }

  private insert(at: Node, level: number, rule: DetectionRule): void {
    if (level === this.keys.length) {
      at.rules.push(rule);
      return;
    }
    const values = rule.requires[this.keys[level]!.key];
    if (!values) {
      at.any ??= node();
      this.insert(at.any, level + 1, rule);
      return;
    }
    for (const value of values) {
      let child = at.byValue.get(value);
      if (!child) {
        child = node();
        at.byValue.set(value, child);
      }
      this.insert(child, level + 1, rule);
    }
  }

  /** Calls `visit` with each list of rules the event can match (each rule is in one list at most). */
  candidates(event: NormalizedEvent, visit: (rules: DetectionRule[]) => void): void {
    this.known.fill(false);
    this.walk(this.root, 0, event, visit);
  }

  private valueAt(level: number, event: NormalizedEvent): string | undefined {
    if (this.known[level]) return this.values[level];
    const v = this.keys[level]!.value(event);
    this.values[level] = v;
    this.known[level] = true;
    return v;
  }

  private walk(
    at: Node,
    level: number,
    event: NormalizedEvent,
    visit: (rules: DetectionRule[]) => void,
  ): void {
    if (level === this.keys.length) {
      if (at.rules.length > 0) visit(at.rules);
      return;
    }
    if (at.byValue.size > 0) {
      const value = this.valueAt(level, event);
      const child = value === undefined ? undefined : at.byValue.get(value);
      if (child) this.walk(child, level + 1, event, visit);
    }
    if (at.any) this.walk(at.any, level + 1, event, visit);
  }
}
