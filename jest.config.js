/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // Type-checking runs once in `npm test` (tsc --noEmit); jest only transpiles.
  transform: { '^.+\\.ts$': ['ts-jest', { diagnostics: false }] },
  testTimeout: 60000,
  // Tests start real servers (nginx, node, chromium) on loopback: keep the
  // parallelism at the core count so they do not starve each other.
  maxWorkers: 2,
};
