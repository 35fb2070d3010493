import { defineConfig } from 'vitest/config';

/** The in-process unit tests of the modules `npm run mutate` mutates (no database server, no built CLI). */
export default defineConfig({
  test: {
    include: [
      'test/core/retention.test.ts',
      'test/core/table-counts.test.ts',
      'test/config/*.test.ts',
      'test/guard/classify.test.ts',
      'test/guard/accuracy.test.ts',
      'test/guard/classify-reasons.test.ts',
      'test/migrate/*.test.ts',
    ],
    pool: 'forks',
  },
});
