import { z } from 'zod';
import { int } from '../config-values.ts';
import { filterFields } from './filter.ts';

/** A named Alertmanager instance in `sinks:` (the `alertmanager:` section configures the one named `alertmanager`). */
export const AlertmanagerSinkSettings = z
  .object({
    type: z.literal('alertmanager'),
    url: z.url({ protocol: /^https?$/ }),
    resolveAfterSeconds: int(60, 30 * 86_400).default(3_600),
    runbookBaseUrl: z.url().optional(),
    ...filterFields('medium'),
  })
  .strict();
export type AlertmanagerSinkSettings = z.infer<typeof AlertmanagerSinkSettings>;
