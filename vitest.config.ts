import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    reporters: ['default', './test/helpers/closing-line-reporter.ts'],
    pool: 'forks',
    // Each test file has its own database or data directory, so files run side by side.
    fileParallelism: true,
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
})
