/**
 * Top-level JSON objects and arrays written one after another, whitespace
 * between them (jq's output), each with the line (0-based) it starts on.
 * Returns undefined unless the whole text is such values.
 */
export function concatenatedValues(text: string): { value: unknown; line: number }[] | undefined {
  const values: { value: unknown; line: number }[] = [];
  let line = 0;
  let counted = 0;
  let i = 0;
  const n = text.length;
  while (i < n) {
    while (i < n && /\s/.test(text[i]!)) i++;
    if (i === n) break;
    const open = text[i];
    if (open !== '{' && open !== '[') return undefined;
    const start = i;
    let depth = 0;
    let inString = false;
    for (; i < n; i++) {
      const c = text[i];
      if (inString) {
        if (c === '\\') i++;
        else if (c === '"') inString = false;
      } else if (c === '"') inString = true;
      else if (c === '{' || c === '[') depth++;
      else if (c === '}' || c === ']') {
        depth--;
        if (depth === 0) break;
      }
    }
    if (depth !== 0) return undefined;
    i++;
    for (; counted < start; counted++) if (text[counted] === '\n') line++;
    try {
      values.push({ value: JSON.parse(text.slice(start, i)), line });
    } catch {
      return undefined;
    }
  }
  return values.length > 0 ? values : undefined;
}
