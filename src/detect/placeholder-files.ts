import { readFileSync, type Stats, unwatchFile, watchFile } from 'node:fs';
import { placeholderReloads, placeholderValues } from '../metrics.ts';
import { defaultPlaceholders, type PlaceholderStore, parsePlaceholderText } from './placeholders.ts';

/**
 * Where placeholder values come from (`detect.placeholders`): a name maps to a file of values (one per line) or
 * to an inline list. Files are read at start and re-read when they change, without a restart.
 */
export type PlaceholderSources = Record<string, string | readonly string[]>;

export interface PlaceholderProblem {
  name: string;
  reason: string;
}

function readValues(file: string): string[] {
  return parsePlaceholderText(readFileSync(file, 'utf8'));
}

/**
 * The built-in placeholders overlaid with the configured ones. A file that cannot be read is a problem and
 * leaves the placeholder at its default (or empty), so the rules that use it still load.
 */
export function loadPlaceholders(sources: PlaceholderSources): {
  store: PlaceholderStore;
  problems: PlaceholderProblem[];
} {
  const store = defaultPlaceholders();
  const problems: PlaceholderProblem[] = [];
  for (const [name, source] of Object.entries(sources)) {
    if (typeof source !== 'string') {
      store.set(name, source);
    } else {
      try {
        store.set(name, readValues(source));
      } catch (err) {
        problems.push({
          name,
          reason: `cannot read ${source}: ${(err as NodeJS.ErrnoException).code ?? err}`,
        });
        if (!store.get(name)) store.set(name, []);
        continue;
      }
    }
    placeholderValues.set({ name }, store.get(name)!.snapshot.values.length);
  }
  return { store, problems };
}

export interface ReloadEvent {
  name: string;
  file: string;
  /** Values now in force, or undefined when the file could not be read (the previous values stay). */
  values?: number;
  error?: string;
}

/**
 * Re-reads every file-backed placeholder when its file changes (polled `stat`, so a ConfigMap's symlink swap
 * is seen too). Returns a function that stops watching.
 */
export function watchPlaceholders(
  store: PlaceholderStore,
  sources: PlaceholderSources,
  intervalMs: number,
  onReload: (e: ReloadEvent) => void,
): () => void {
  const files: string[] = [];
  for (const [name, source] of Object.entries(sources)) {
    if (typeof source !== 'string') continue;
    files.push(source);
    watchFile(source, { interval: intervalMs, persistent: false }, (cur: Stats, prev: Stats) => {
      if (cur.mtimeMs === prev.mtimeMs && cur.size === prev.size && cur.ino === prev.ino) return;
      try {
        const values = readValues(source);
        store.set(name, values);
        placeholderValues.set({ name }, values.length);
        placeholderReloads.inc({ outcome: 'ok' });
        onReload({ name, file: source, values: values.length });
      } catch (err) {
        placeholderReloads.inc({ outcome: 'error' });
        onReload({ name, file: source, error: String((err as NodeJS.ErrnoException).code ?? err) });
      }
    });
  }
  return () => {
    for (const f of files) unwatchFile(f);
  };
}
