import { z } from 'zod';

/**
 * Value parsers shared by every section of the settings (`config.ts`) and by the per-type
 * schemas of named instances (sinks, sources): the environment gives strings, the YAML file
 * gives typed values, and both must end up the same.
 */

/** A comma-separated list in the environment, a YAML list in the file (empty entries dropped), checked by `items`. */
export function commaList<T extends z.ZodType>(items: T) {
  return z.preprocess(
    (v) =>
      typeof v === 'string'
        ? v
            .split(',')
            .map((s) => s.trim())
            .filter((s) => s !== '')
        : v,
    items,
  );
}

/** A comma-separated list in the environment, a YAML list in the file. */
export const list = commaList(z.array(z.string().min(1)));

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gib: 1024 ** 3,
};

/** A byte size: a number, or a string like `32MiB`, `256k`, `1048576`. */
export const bytes = z.preprocess((v) => {
  if (typeof v !== 'string') return v;
  const m = /^\s*(\d+)\s*([a-zA-Z]*)\s*$/.exec(v);
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  return m && unit !== undefined ? Number(m[1]) * unit : v;
}, z.number().int().positive());

export const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

export const bool = z.preprocess(
  (v) => (typeof v === 'string' ? ['1', 'true', 'yes', 'on'].includes(v.toLowerCase()) : v),
  z.boolean(),
);

export const MiB = 1024 * 1024;
