import { defineConfig } from 'vitest/config';

/**
 * The deployment tests: a Docker daemon of their own, images built from a debootstrapped Debian, the
 * compose stack up and down. Run after the unit suite (npm test), one file at a time: they share the
 * daemon's data root. A first build on a new machine takes minutes; later ones reuse the build cache.
 */
export default defineConfig({
  test: {
    include: ['test/deploy/containers.test.ts'],
    fileParallelism: false,
    maxWorkers: 1,
    testTimeout: 10 * 60_000,
    hookTimeout: 12 * 60_000,
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
});
