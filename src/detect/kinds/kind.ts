import type { FieldScope } from '../fields.ts';
import type { PlaceholderStore } from '../placeholders.ts';
import type { CorrelationRule, DetectionRule, Rule, RuleKindName } from '../ruleset.ts';
import type { SchemaProblem } from '../validate.ts';

/** A problem with a rule document, at a path inside it (for `file:line`). */
export class DocError extends Error {
  readonly path: (string | number)[];
  constructor(message: string, path: (string | number)[] = []) {
    super(message);
    this.path = path;
  }
}

/** The field scope of a logsource, or undefined for one Klaxon does not read. */
export type ScopeOf = (logsource: Record<string, string>) => Exclude<FieldScope, 'ecs'> | undefined;

export interface BuildContext {
  file: string;
  /** Line of the document's first key. */
  line: number;
  /** How many rules of the kind were accepted before this one (load order). */
  index: number;
  scopeOf: ScopeOf;
  /** Values of `%placeholders%` for the `expand` modifier. */
  placeholders: PlaceholderStore;
}

/** The rules that loaded, by kind. */
export type Built = { [K in RuleKindName]: Extract<Rule, { kind: K }>[] };

export interface LinkContext {
  /** Detection and correlation rules that built, by id and declared name. */
  byRef: ReadonlyMap<string, DetectionRule | CorrelationRule>;
  /** Ids and names of the documents refused before linking (so a reference to one says so). */
  refused: ReadonlySet<string>;
  built: Built;
  /** Refuses a rule that built: counted and reported like every other refusal; it leaves the rule set. */
  reject(rule: Rule, reason: string): void;
}

/**
 * One kind of rule document. The loader (load.ts) reads files, parses YAML, finds line numbers,
 * picks the kind by the document's section, validates against the kind's schema, keeps ids and
 * names unique and calls `link` once every document is built; the kind compiles its documents.
 */
export interface RuleKind<R extends Rule> {
  readonly kind: R['kind'];
  /** The top-level key that marks a document of this kind. */
  readonly section: string;
  /** Correlations may refer to it by id or name, so ids and names are unique across such kinds. */
  readonly referable: boolean;
  /** Not referable, but its alerts carry its name: ids and names unique with the referable kinds'. */
  readonly named?: boolean;
  validate(raw: Record<string, unknown>): SchemaProblem[];
  /** Compiles one valid document; throws DocError or DetectionError at the path of a problem. */
  build(raw: Record<string, unknown>, ctx: BuildContext): R;
  /** Resolves the references of the kind's rules once all are built, refusing those that cannot work. */
  link?(rules: R[], ctx: LinkContext): void;
}
