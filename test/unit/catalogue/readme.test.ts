import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadRules } from '../../../src/detect/index.ts';
import { DETECTIONS } from './replay.ts';

/** detections/README.md has a row for every rule of the catalogue, with its level. */
describe('the catalogue table in detections/README.md', () => {
  const readme = readFileSync(join(DETECTIONS, 'README.md'), 'utf8');
  const rows = new Map(
    readme
      .split('\n')
      .filter((l) => (l.startsWith('| `') || l.startsWith('| ↳ `')) && l.split(' | ').length >= 9)
      .map((l) => {
        const cells = l.split(' | ');
        return [cells[0]!.replace(/^\| (↳ )?`|`$/g, ''), cells[1]!] as const;
      }),
  );
  const { ruleset } = loadRules([DETECTIONS]);

  it('lists every detection, correlation and first-seen rule, at its level (building blocks marked)', () => {
    for (const r of [...ruleset.rules, ...ruleset.correlations, ...ruleset.firstSeen]) {
      expect(rows.has(r.name), r.name).toBe(true);
      expect(rows.get(r.name), r.name).toBe(r.generates ? r.level : '(building block)');
    }
    expect(rows.size).toBe(ruleset.rules.length + ruleset.correlations.length + ruleset.firstSeen.length);
  });
});
