/** One record read from a file, or why a part of the file could not be read. */
export type FileRecord = { raw: unknown; where: string } | { error: string; where: string };

/**
 * Reads audit log files (JSON lines, EventList documents, JSON arrays) and
 * Falco alert JSON lines; `where` is `file:line` (or `file:line#index`).
 */
export async function* readRecords(_path: string): AsyncGenerator<FileRecord> {
  yield { error: 'file reader not built yet', where: _path };
}
