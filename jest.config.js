/**
 * Three tiers, so a change can be checked at the speed it deserves:
 * - unit: every suite that needs nothing but Node (loopback JWKS servers, the mock IdP), seconds;
 * - integration: suites that start redis-server (single, Cluster, Sentinel, Valkey), oidc-provider, or Chromium;
 * - package: `npm pack` into fresh consumer projects, and the docs' code blocks compiled against it.
 * `npm test` runs all three; `npm test -- --selectProjects unit` runs one.
 *
 * The timeout is generous on purpose: CI machines are shared, and the whole suite must pass with two
 * CPU-bound processes per core competing with it (scripts/test-under-load.sh). A test that needs
 * more than that is either waiting for something that will not come (a real bug,
 * still caught) or doing too much work in one test.
 * @type {import('jest').Config}
 */
const base = {
  preset: 'ts-jest/presets/default-esm',
  testEnvironment: 'node',
  roots: ['<rootDir>/__tests__'],
  moduleNameMapper: {
    // The recipes in docs/ import the package by name, as a user's copy does.
    '^express-oauth-kit$': '<rootDir>/lib/index.ts',
    '^express-oauth-kit/redis$': '<rootDir>/lib/redis/index.ts',
    '^express-oauth-kit/testing$': '<rootDir>/lib/testing/index.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json', diagnostics: { ignoreCodes: [151002] } }],
  },
};

/** Suites that start servers from outside Node's own process tree of fixtures: Redis, oidc-provider, a browser. */
const integration = [
  '**/redis-*.test.ts',
  '**/valkey-*.test.ts',
  '**/demo/browser.test.ts',
  '**/*oidc*.test.ts',
  // These start oidc-provider for one of their interop cases.
  '**/m2m/dpop.test.ts',
  '**/m2m/exchange.test.ts',
  '**/idp/private-key-jwt.test.ts',
  '**/guard/dpop.test.ts',
  '**/guard/issuers.test.ts',
];
const pkg = ['**/package/*.test.ts'];

export default {
  maxWorkers: 2,
  // A global option: jest reads testTimeout from the top level only, not per project.
  testTimeout: 120_000,
  projects: [
    {
      ...base,
      displayName: 'unit',
      testMatch: ['**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/'],
      // Filled below: everything that is not integration or package.
    },
    { ...base, displayName: 'integration', testMatch: integration },
    { ...base, displayName: 'package', testMatch: pkg },
  ].map((p) =>
    p.displayName === 'unit'
      ? { ...p, testPathIgnorePatterns: [...p.testPathIgnorePatterns, ...[...integration, ...pkg].map(globToPathRegex)] }
      : p,
  ),
};

/** testPathIgnorePatterns take regular expressions: `**\/dir/name-*.test.ts` → `/dir/name-[^/]*\.test\.ts$`. */
function globToPathRegex(glob) {
  const name = glob.replace(/^\*\*\//, '');
  return `/${name.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}$`;
}
