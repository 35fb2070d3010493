import { defineConfig } from 'vitest/config';
import { LoadFailureAsFailedTest } from './test/mutation/load-failure-reporter.js';

/**
 * The in-process unit tests of the modules `npm run mutate` mutates (no database server, no built CLI).
 * `DBGUARD_MUTATION_TESTS` (comma-separated globs) runs a part with only the tests that cover it:
 * `DBGUARD_MUTATION_TESTS=test/guard/sql.test.ts npm run mutate -- --mutate src/guard/sql.ts`.
 */
const only = process.env.DBGUARD_MUTATION_TESTS?.split(',').filter(Boolean);

export default defineConfig({
  test: {
    include: only?.length
      ? only
      : [
          'test/core/retention.test.ts',
          'test/core/table-counts.test.ts',
          'test/config/*.test.ts',
          'test/guard/classify.test.ts',
          'test/guard/accuracy.test.ts',
          'test/guard/classify-reasons.test.ts',
          'test/guard/shell.test.ts',
          'test/guard/sql.test.ts',
          'test/guard/rules.test.ts',
          'test/guard/resolve.test.ts',
          'test/migrate/*.test.ts',
        ],
    pool: 'forks',
    reporters: ['default', new LoadFailureAsFailedTest()],
  },
});
