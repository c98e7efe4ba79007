import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The container tests run after this suite, alone (vitest.deploy.config.ts: npm test runs both).
    exclude: ['test/deploy/containers.test.ts', '**/node_modules/**'],
    // Real servers (redis-server, Chromium) start per file; two cores, so keep parallelism modest.
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 30_000,
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
});
