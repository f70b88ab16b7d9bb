import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Lives under test/ so the top level stays as the design card fixes it.
export default defineConfig({
  root: fileURLToPath(new URL('..', import.meta.url)),
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    pool: 'forks',
    reporters: ['default', 'json'],
    outputFile: { json: '.test-results/vitest.json' },
  },
});
