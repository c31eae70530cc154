import { defineConfig } from 'vitest/config'

// Forks, not threads: the worker tests start worker_threads of their own and
// terminate them mid-operation, and a crash there must fail one file, not the
// runner. --expose-gc lets the lifetime tests ask for finalizers to run.
export default defineConfig({
  test: {
    include: ['test/js/**/*.test.ts'],
    pool: 'forks',
    execArgv: ['--expose-gc'],
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 30_000,
  },
})
