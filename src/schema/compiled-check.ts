import { Ajv2020 } from 'ajv/dist/2020.js';
import { z } from 'zod';

const ajv = new Ajv2020({ strict: true, strictNumbers: true, allErrors: false });

/**
 * A yes/no check of a zod schema, compiled by ajv from the schema's JSON Schema: the same contract, for hot
 * paths where zod's parse (which builds a copy of every object it checks) costs more than the work around it.
 * It only ever says "valid" faster: callers fall back to the zod schema itself when it says no (for zod's
 * reason, and so zod has the last word). Only for schemas without transforms or defaults, whose parsed value
 * is the input itself (toJSONSchema refuses transforms; a default would be a value the check never fills in).
 * The schema's output form is compiled: a key a plain `z.object` would strip fails the check, so "valid" means
 * the value is exactly what zod's parse would have returned (a loose object's extra keys pass, as zod keeps them).
 */
export function compiledCheck<S extends z.ZodType>(schema: S): (value: unknown) => value is z.output<S> {
  const jsonSchema = z.toJSONSchema(schema, { io: 'output', target: 'draft-2020-12' });
  if (JSON.stringify(jsonSchema).includes('"default":'))
    throw new Error('compiledCheck: a schema with defaults parses to more than its input');
  const validate = ajv.compile(jsonSchema);
  return (value: unknown): value is z.output<S> => validate(value) === true;
}
