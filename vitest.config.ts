import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/** Fault tests (`zz-fault-*`) stop shared Kafka and Elasticsearch: they run after every other file. */
class FaultTestsLast extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const fault = (f: TestSpecification) => /[\\/]zz-fault-[^\\/]*$/.test(f.moduleId);
    return [...sorted.filter((f) => !fault(f)), ...sorted.filter(fault)];
  }
}

export default defineConfig({
  test: {
    sequence: { sequencer: FaultTestsLast },
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          // Many unit files start a klaxon child process that loads the whole catalogue first: seconds on a
          // shared 2-core machine. Speed is measured by the benchmarks, not by these limits.
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/integration/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
