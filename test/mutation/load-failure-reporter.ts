import type { RunnerTestCase } from 'vitest';
import { type Reporter, type TestModule, experimental_getRunnerTask } from 'vitest/node';

/**
 * Turns a test file that fails to load into one failed test, for mutation runs only. StrykerJS's vitest runner
 * builds a mutant's result from the tests it finds in each file; a file whose import throws has none, so a mutant
 * that stops a module from loading (a static mutant in a module-level table or schema) would count as survived
 * although every test of that file fails.
 */
export class LoadFailureAsFailedTest implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    for (const module of testModules) {
      const file = experimental_getRunnerTask(module);
      if (file.result?.state !== 'fail' || file.tasks.length > 0) continue;
      // Vitest gives a test a context only it can build; nothing reads it once the run has ended.
      const failed = {
        type: 'test',
        id: `${file.id}_load`,
        name: 'the test file loads',
        mode: 'run',
        meta: {},
        file,
        suite: file,
        timeout: 0,
        annotations: [],
        artifacts: [],
        result: { state: 'fail', errors: file.result.errors ?? [] },
      } as unknown as RunnerTestCase;
      file.tasks.push(failed);
    }
  }
}
