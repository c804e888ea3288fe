import { readFileSync } from 'node:fs';
import { z } from 'zod';

/** Klaxon's version, from its package.json: what SIEM payloads name as the sending product's version. */
export const KLAXON_VERSION = z
  .object({ version: z.string().min(1) })
  .parse(JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))).version;
