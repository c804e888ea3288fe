import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import correlationSchema from './schemas/sigma-correlation-rules-schema.json' with { type: 'json' };
import detectionSchema from './schemas/sigma-detection-rule-schema.json' with { type: 'json' };
import filterSchema from './schemas/sigma-filters-schema.json' with { type: 'json' };

/**
 * The official Sigma JSON schemas (copied from the specification, public
 * domain). Ajv's strict mode is off because the schemas use keywords in places
 * strict mode refuses (`items` on objects); `$schema` is dropped because one of
 * them spells the meta-schema URI with a trailing `#`.
 */
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats.default(ajv);

function compile(schema: object): ValidateFunction {
  const { $schema: _ignored, ...rest } = schema as Record<string, unknown>;
  return ajv.compile(rest);
}

const validators = {
  detection: compile(detectionSchema),
  correlation: compile(correlationSchema),
  filter: compile(filterSchema),
};

export interface SchemaProblem {
  /** JSON path segments of the offending value. */
  path: (string | number)[];
  reason: string;
}

function describe(e: ErrorObject): string {
  const where = e.instancePath === '' ? 'document' : e.instancePath.slice(1).replaceAll('/', '.');
  if (e.keyword === 'const' || e.keyword === 'enum') return `${where}: must be one of the allowed values`;
  return `${where} ${e.message ?? 'is invalid'}`;
}

/** Validates one document against the schema of its type; returns the problems (empty when valid). */
export function validateDoc(type: keyof typeof validators, doc: unknown): SchemaProblem[] {
  const validate = validators[type];
  if (validate(doc)) return [];
  const seen = new Set<string>();
  const out: SchemaProblem[] = [];
  for (const e of validate.errors ?? []) {
    // oneOf/anyOf branches repeat one problem several times; keep the first wording per path.
    if (e.keyword === 'oneOf' || e.keyword === 'anyOf' || e.keyword === 'if') continue;
    const reason = describe(e);
    const key = e.instancePath;
    if (seen.has(key)) continue;
    seen.add(key);
    const path = e.instancePath
      .split('/')
      .slice(1)
      .map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'))
      .map((s) => (/^[0-9]+$/.test(s) ? Number(s) : s));
    out.push({ path, reason });
  }
  if (out.length === 0) out.push({ path: [], reason: 'does not match the Sigma schema' });
  return out;
}
