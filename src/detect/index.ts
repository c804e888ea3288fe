export { buildAlert, contextOf, threatOf } from './alert.ts';
export { type Condition, parseCondition } from './condition.ts';
export { compileDetection } from './detection.ts';
export { Detector, type DetectorOptions, type RuleMatch } from './detector.ts';
export { type LoadError, type LoadResult, loadRules, slug } from './load.ts';
export type { CorrelationRule, DetectionRule, FilterRule, LoadedDoc, RuleMeta, RuleSet } from './ruleset.ts';
export { fillTestEvent, runRuleTests, type TestOutcome } from './testcases.ts';
