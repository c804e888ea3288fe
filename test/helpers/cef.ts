// Reading CEF back, as a SIEM's parser does, to check what Klaxon and the syslog receiver wrote.

/** Splits a CEF record the way a SIEM parser does: 7 unescaped pipes, then `key=value` pairs. */
export function parseCef(record: string): { header: string[]; extension: Record<string, string> } {
  const header: string[] = [];
  let field = '';
  let i = 0;
  for (; i < record.length && header.length < 7; i++) {
    const c = record[i]!;
    if (c === '\\' && (record[i + 1] === '|' || record[i + 1] === '\\')) field += record[++i];
    else if (c === '|') {
      header.push(field);
      field = '';
    } else field += c;
  }
  const rest = record.slice(i);
  const extension: Record<string, string> = {};
  const keyAt = /(?:^| )([A-Za-z0-9]+)=/g;
  const starts: Array<{ key: string; at: number; valueAt: number }> = [];
  // An escaped `\=` never matches: a backslash is not a key character.
  for (let m = keyAt.exec(rest); m; m = keyAt.exec(rest)) {
    starts.push({ key: m[1]!, at: m.index, valueAt: m.index + m[0].length });
  }
  starts.forEach((s, n) => {
    const raw = rest.slice(s.valueAt, starts[n + 1]?.at ?? rest.length);
    extension[s.key] = raw.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c === 'r' ? '\r' : c));
  });
  return { header, extension };
}
