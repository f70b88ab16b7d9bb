import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/**
 * Two phases (test/run.sh runs both): everything else side by side, then the suites that measure
 * time (visibility lag bounds, the burst smoke) alone, so a concurrent image build cannot push a
 * 2 s bound over.
 */
const TIMED = ['test/consistency/**/*.test.ts', 'test/bench/**/*.test.ts'];
const timed = process.env.WHEELHOUSE_TEST_PHASE === 'timed';

// Lives under test/ so the top level stays as the design card fixes it.
export default defineConfig({
  root: fileURLToPath(new URL('..', import.meta.url)),
  test: {
    include: timed ? TIMED : ['test/**/*.test.ts'],
    exclude: timed ? [] : TIMED,
    fileParallelism: !timed,
    // Two files at a time in the first phase: most of its time is spent waiting on other
    // processes (pip, terraform, podman, servers), which vitest's default of one worker per
    // spare CPU (one, on a 2-CPU CI host) leaves waiting in line.
    maxWorkers: timed ? 1 : 2,
    testTimeout: 60_000,
    hookTimeout: 900_000,
    pool: 'forks',
    reporters: ['default', 'json'],
    outputFile: { json: timed ? '.test-results/vitest-timed.json' : '.test-results/vitest.json' },
  },
});
