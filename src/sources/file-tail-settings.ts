import { z } from 'zod';
import { ClusterName } from '../schema/cluster.ts';

/** `type: file`: a JSON-lines file another program appends to (the API server's log backend, Hubble's exporter). */
export const FileSourceSettings = z
  .object({
    type: z.literal('file'),
    path: z.string().min(1),
    /** What the lines are: `audit` events, `falco` alerts, Hubble `flows` (a dataset's label). */
    dataset: z.enum(['audit', 'falco', 'flows']),
    /** The cluster its events are from: the file names none Klaxon would trust. */
    cluster: ClusterName,
    /** How often the file is looked at for new lines. */
    pollMs: z.coerce.number().int().min(50).max(60_000).default(1_000),
    /** Most bytes read (and accepted as one batch) at a time. */
    batchBytes: z.coerce
      .number()
      .int()
      .min(64 * 1024)
      .max(64 * 1024 * 1024)
      .default(4 * 1024 * 1024),
    /** Where a file never read before is started: its end (only new lines), or its beginning. */
    startAt: z.enum(['end', 'beginning']).default('end'),
  })
  .strict();
export type FileSourceSettings = z.infer<typeof FileSourceSettings>;
