import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 30_000,
    coverage: {
      provider: 'v8',
      include: ['src/**/*.ts'],
      reporter: ['text-summary'],
      // A floor, not a goal: code in the storage thread and the spawned CLI runs outside this measure.
      thresholds: { lines: 68, functions: 68, branches: 62, statements: 66 },
    },
  },
});
