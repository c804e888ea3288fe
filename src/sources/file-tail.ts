import { open, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { DATASETS } from '../datasets/index.ts';
import { RetryLaterError } from '../ingest/publisher.ts';
import type { SourceItem } from './accept.ts';
import type { FileSourceSettings } from './file-tail-settings.ts';
import type { PullSource, SourceContext, SourceModule } from './types.ts';

/** Where reading stopped: the file (by inode, so a rotated file is not mistaken for the old one) and the offset. */
const Position = z.object({ inode: z.number(), offset: z.number().int().nonnegative() });
type Position = z.infer<typeof Position>;

/** Complete lines of a chunk, and the bytes consumed (a last line without its newline waits for the next read). */
export function completeLines(chunk: Buffer): { lines: string[]; consumed: number } {
  const end = chunk.lastIndexOf(0x0a);
  if (end < 0) return { lines: [], consumed: 0 };
  return { lines: chunk.subarray(0, end).toString('utf8').split('\n'), consumed: end + 1 };
}

/** JSON lines → source items (a line that is not JSON is a rejected item, with its line's index). */
export function lineItems(lines: readonly string[]): SourceItem[] {
  const items: SourceItem[] = [];
  lines.forEach((line, index) => {
    const text = line.trim();
    if (text === '') return;
    try {
      items.push({ index, raw: JSON.parse(text), bytes: Buffer.byteLength(line) });
    } catch (err) {
      items.push({ index, reason: 'json', error: `invalid JSON: ${(err as Error).message}` });
    }
  });
  return items;
}

/**
 * Tails a JSON-lines file another program appends to (`type: file`). Each read takes the complete lines after
 * the saved position (at most `batchBytes`), accepts them as one batch, and only then saves the new position,
 * so a restart resumes exactly after what was accepted. A file replaced (rotated: another inode) or cut short
 * (truncated) is read again from its start. Lines appended to the old file after the last read and before
 * rotation are lost: rotate with `create`, not `copytruncate`, and keep `pollMs` short.
 */
class FileTail implements PullSource {
  private readonly config: FileSourceSettings;
  private readonly ctx: SourceContext;
  private readonly key: string;
  private readonly dataset;
  private running = false;
  private loop: Promise<void> | undefined;
  private problem: string | undefined;

  constructor(config: FileSourceSettings, ctx: SourceContext) {
    this.config = config;
    this.ctx = ctx;
    this.key = `file/${ctx.name}/${config.path}`;
    this.dataset = DATASETS.find((d) => d.label === config.dataset)!;
  }

  async start(): Promise<void> {
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  status(): { ok: boolean; reason?: string } {
    return this.problem ? { ok: false, reason: this.problem } : { ok: true };
  }

  private async initial(): Promise<Position | undefined> {
    const saved = await this.ctx.checkpoints.load(this.key);
    if (saved !== undefined) {
      const parsed = Position.safeParse(JSON.parse(saved));
      if (parsed.success) return parsed.data;
    }
    if (this.config.startAt === 'beginning') return undefined;
    try {
      const st = await stat(this.config.path);
      return { inode: st.ino, offset: st.size };
    } catch {
      return undefined;
    }
  }

  private async run(): Promise<void> {
    /** Null until the saved position could be loaded (the checkpoint store may be down at start). */
    let position: Position | undefined | null = null;
    while (this.running) {
      try {
        if (position === null) position = await this.initial();
        const next = await this.readOnce(position);
        this.problem = undefined;
        if (next && (next.inode !== position?.inode || next.offset !== position.offset)) {
          position = next;
          continue;
        }
      } catch (err) {
        this.problem =
          err instanceof RetryLaterError
            ? `events cannot be made durable now: ${err.message}`
            : `cannot read ${this.config.path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
        this.ctx.logger.warn({ source: this.ctx.name }, this.problem);
      }
      await sleep(this.config.pollMs);
    }
  }

  /** One read: the new position once its lines are accepted, or the same one when there was nothing new. */
  private async readOnce(position: Position | undefined): Promise<Position | undefined> {
    const file = await open(this.config.path, 'r');
    try {
      const st = await file.stat();
      const from = position && position.inode === st.ino && position.offset <= st.size ? position.offset : 0;
      if (from >= st.size) return { inode: st.ino, offset: from };
      const length = Math.min(this.config.batchBytes, st.size - from);
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await file.read(buffer, 0, length, from);
      const { lines, consumed: complete } = completeLines(buffer.subarray(0, bytesRead));
      let consumed = complete;
      let items = lineItems(lines);
      if (consumed === 0 && bytesRead === this.config.batchBytes) {
        // A line longer than a whole batch can never be read complete: it is rejected (and skipped).
        items = [
          { index: 0, reason: 'too_large', error: `a line longer than ${this.config.batchBytes} bytes` },
        ];
        consumed = bytesRead;
      }
      if (consumed === 0) return { inode: st.ino, offset: from };
      if (items.length > 0) {
        await this.ctx.accept.accept({
          dataset: this.dataset,
          cluster: this.config.cluster,
          items,
          receivedAt: new Date().toISOString(),
        });
      }
      const next = { inode: st.ino, offset: from + consumed };
      await this.ctx.checkpoints.save(this.key, JSON.stringify(next));
      return next;
    } finally {
      await file.close();
    }
  }
}

export const fileSource: SourceModule<FileSourceSettings> = {
  create: (config, ctx) => new FileTail(config, ctx),
};
