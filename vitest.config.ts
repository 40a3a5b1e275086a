// One vitest run for the whole workspace. Integration tests share the one local stack, each under
// its own topic / key prefix / bucket prefix, so files may run in parallel; the 2-core machine
// bounds how many at once.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
    // kafkajs 2.2.4 asks for negative timeouts (tulios/kafkajs#1751), which Node 24 clamps and
    // warns about on every consumer; the cli's bin/tandem disables the same warning.
    execArgv: ['--disable-warning=TimeoutNegativeWarning'],
    reporters: process.env.CI === 'true' ? ['default'] : ['default'],
  },
});
