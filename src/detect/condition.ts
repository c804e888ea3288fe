/**
 * Sigma condition grammar, by recursive descent. Precedence, least binding
 * first: `or`, `and`, `not`, `x of`, parentheses.
 *
 *   expr    := and ('or' and)*
 *   and     := not ('and' not)*
 *   not     := 'not' not | primary
 *   primary := '(' expr ')' | quant | IDENT
 *   quant   := ('1'|N|'all'|'any') 'of' (PATTERN | 'them')
 */
export type Condition =
  | { kind: 'id'; name: string }
  | { kind: 'and'; items: Condition[] }
  | { kind: 'or'; items: Condition[] }
  | { kind: 'not'; item: Condition }
  | { kind: 'of'; min: number | 'all'; names: string[] };

export class ConditionError extends Error {}

function tokenize(text: string): string[] {
  // Every character is whitespace, a parenthesis or part of a word, so nothing is left over.
  return text.match(/\(|\)|[^\s()]+/g) ?? [];
}

/** `*` in a search-identifier pattern matches any run of characters. */
export function identifierPattern(pattern: string): (name: string) => boolean {
  const parts = pattern.split('*');
  return (name) => {
    if (parts.length === 1) return name === pattern;
    const first = parts[0]!;
    const last = parts[parts.length - 1]!;
    if (!name.startsWith(first) || !name.endsWith(last) || name.length < first.length + last.length)
      return false;
    let at = first.length;
    for (let k = 1; k < parts.length - 1; k++) {
      const found = name.indexOf(parts[k]!, at);
      if (found < 0 || found + parts[k]!.length > name.length - last.length) return false;
      at = found + parts[k]!.length;
    }
    return true;
  };
}

/** Parses a condition against the detection's search identifiers (for `them` and patterns). */
export function parseCondition(text: string, identifiers: readonly string[]): Condition {
  const tokens = tokenize(text);
  let pos = 0;
  const peek = () => tokens[pos]?.toLowerCase();
  const next = () => tokens[pos++];

  const expr = (): Condition => {
    const items = [and()];
    while (peek() === 'or') {
      next();
      items.push(and());
    }
    return items.length === 1 ? items[0]! : { kind: 'or', items };
  };
  const and = (): Condition => {
    const items = [not()];
    while (peek() === 'and') {
      next();
      items.push(not());
    }
    return items.length === 1 ? items[0]! : { kind: 'and', items };
  };
  const not = (): Condition => {
    if (peek() === 'not') {
      next();
      return { kind: 'not', item: not() };
    }
    return primary();
  };
  const primary = (): Condition => {
    const tok = next();
    if (tok === undefined) throw new ConditionError('condition ends too early');
    if (tok === '(') {
      const inner = expr();
      if (next() !== ')') throw new ConditionError('missing closing parenthesis');
      return inner;
    }
    if (tok === ')') throw new ConditionError('unexpected ")"');
    const low = tok.toLowerCase();
    if (tokens[pos]?.toLowerCase() === 'of') {
      let min: number | 'all';
      if (low === 'all') min = 'all';
      else if (low === 'any') min = 1;
      else if (/^[1-9][0-9]*$/.test(low)) min = Number(low);
      else throw new ConditionError(`"${tok} of": expected 1, a number or all before "of"`);
      next();
      const target = next();
      if (target === undefined || target === '(' || target === ')')
        throw new ConditionError(`"${tok} of" needs a search identifier pattern or "them"`);
      const names =
        target.toLowerCase() === 'them'
          ? identifiers.filter((n) => !n.startsWith('_'))
          : identifiers.filter(identifierPattern(target));
      if (names.length === 0) throw new ConditionError(`"${tok} of ${target}" matches no search identifier`);
      return { kind: 'of', min, names };
    }
    if (low === 'and' || low === 'or' || low === 'of') throw new ConditionError(`unexpected "${tok}"`);
    if (!identifiers.includes(tok)) throw new ConditionError(`unknown search identifier "${tok}"`);
    return { kind: 'id', name: tok };
  };

  const result = expr();
  if (pos < tokens.length) throw new ConditionError(`unexpected "${tokens[pos]}"`);
  return result;
}
