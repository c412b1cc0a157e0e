import type { KeyStore } from './keys.js';
import type { TokenStore } from './tokens.js';
import type { MockClient, MockFaults, MockStats, MockUser } from './types.js';

/** Shared by all route modules; `faults`/`stats` are read per request so tests may replace them at runtime. */
export interface IdpContext {
  issuer: string;
  audience: string;
  accessTokenTtl: number;
  passwordGrantRefreshToken: boolean;
  clients: Map<string, MockClient>;
  users: Map<string, MockUser>;
  keys: KeyStore;
  tokens: TokenStore;
  faults: MockFaults;
  stats: MockStats;
  /** Pending 'slow' fault timers, cleared on close so a test run never waits on them. */
  timers: Set<NodeJS.Timeout>;
  log: (line: string) => void;
}
