/**
 * Regions in network namespaces for the benchmarks: the test suite's helper (test/support/netns.ts), used
 * as it is rather than copied, since it has no test-framework code. bench/ imports nothing else from test/.
 */
export * from '../../test/support/netns.ts';
