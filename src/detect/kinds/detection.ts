import { datasetNamed, knownLogsources } from '../../datasets/index.ts';
import { durationMs } from '../../schema/rule.ts';
import { compileDetection } from '../detection.ts';
import { compileField } from '../fields.ts';
import type { DetectionRule } from '../ruleset.ts';
import { validateDoc } from '../validate.ts';
import { DocError, type RuleKind } from './kind.ts';
import { commonMeta, klaxonOptions } from './meta.ts';

const DEFAULT_SUPPRESS_WINDOW = '10m';

/** Sigma detection rules: one event matches a `detection` section. */
export const detectionKind: RuleKind<DetectionRule> = {
  kind: 'detection',
  section: 'detection',
  referable: true,
  validate: (raw) => validateDoc('detection', raw),
  build(raw, { file, line, index, scopeOf, placeholders }) {
    const logsource = raw.logsource as Record<string, string>;
    const scope = scopeOf(logsource);
    if (!scope)
      throw new DocError(
        `logsource ${JSON.stringify(logsource)} is not one Klaxon reads (${knownLogsources()})`,
        ['logsource'],
      );
    const opts = klaxonOptions(raw);
    const compiled = compileDetection(raw.detection as Record<string, unknown>, scope, ['detection'], [], {
      every: opts.arrays === 'every',
      placeholders,
    });
    const byNames = opts.suppress?.by ?? [...datasetNamed(scope)!.suppressBy];
    return {
      kind: 'detection',
      index,
      ...commonMeta(raw, file, line),
      scope,
      logsource,
      match: compiled.match,
      requires: compiled.requires,
      filters: [],
      correlations: [],
      firstSeen: [],
      generates: true,
      suppress: {
        by: byNames.map((f) => compileField(f, scope)),
        byNames,
        windowMs: durationMs(opts.suppress?.window ?? DEFAULT_SUPPRESS_WINDOW),
      },
      severityFromFalco: opts.severity === 'falco-priority',
    };
  },
};
