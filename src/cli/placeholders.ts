import type { Settings } from '../config.ts';
import { loadPlaceholders, watchPlaceholders } from '../detect/placeholder-files.ts';
import type { PlaceholderStore } from '../detect/placeholders.ts';
import type { Logger } from '../log.ts';

/**
 * The rules' placeholders from `detect.placeholders`, with their files watched (re-read when they change).
 * Watching does not keep the process alive.
 */
export function placeholdersFromSettings(detect: Settings['detect'], logger: Logger): PlaceholderStore {
  const { store, problems } = loadPlaceholders(detect.placeholders);
  for (const p of problems) logger.warn({ placeholder: p.name }, `placeholder not loaded: ${p.reason}`);
  watchPlaceholders(store, detect.placeholders, detect.placeholderReloadSeconds * 1000, (e) => {
    if (e.error)
      logger.warn({ placeholder: e.name, file: e.file }, `placeholder file not re-read: ${e.error}`);
    else logger.info({ placeholder: e.name, file: e.file, values: e.values }, 'placeholder file re-read');
  });
  return store;
}
