import { multiplyCatalogue } from '/work/wt-perf/scripts/bench/catalogue.ts';
import { loadRules } from '/work/wt-perf/src/detect/index.ts';

for (const k of [1, 2, 5]) {
  const dir = multiplyCatalogue(['detections'], k);
  const { ruleset, errors } = loadRules([dir]);
  console.log(
    k,
    dir,
    ruleset.rules.length,
    ruleset.correlations.length,
    ruleset.filters.length,
    errors.slice(0, 3),
  );
}
