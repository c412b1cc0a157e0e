import type { OptionChecker } from '../../options/validate.js';
import { renamed } from '../../options/deprecated.js';
import { ASYMMETRIC_ALGS, type AsymmetricAlgorithm } from '../../jwt/algorithms.js';

/**
 * Remembers DPoP proof ids: `claim` sets `key` for `ttlMs` only if it is absent and says whether it
 * did (Redis `SET key NX PX`). `redisTokenStore()` from `express-oauth-kit/redis` is one.
 */
export interface ReplayStore {
  /** true when the key was not there (the proof is new), false when it was (a replay). */
  claim(key: string, ttlMs: number): boolean | Promise<boolean>;
}

/** How requireAuth treats DPoP (RFC 9449) sender-constrained tokens. */
export interface DpopOptions {
  /**
   * - `'allowed'`: `Authorization: DPoP` with a proof, or plain Bearer for tokens without `cnf.jkt`.
   * - `'required'`: only DPoP; every Bearer presentation is refused.
   * - `'disabled'`: only Bearer; a DPoP-bound token (`cnf.jkt`) is still refused as Bearer.
   * @default 'allowed'
   */
  mode?: 'allowed' | 'required' | 'disabled';
  /**
   * Seconds a proof stays acceptable after its `iat`. Its `jti` is remembered until the proof can
   * no longer be accepted: `iat` + `iatWindowSeconds` + `iatLeewaySeconds`, to the next whole
   * second, plus 1 s.
   * @default 300
   */
  iatWindowSeconds?: number;
  /** @deprecated Use iatWindowSeconds. */
  iatWindow?: number;
  /**
   * Seconds of clock skew tolerated on a proof's `iat`, in both directions.
   * @default 5
   */
  iatLeewaySeconds?: number;
  /** @deprecated Use iatLeewaySeconds. */
  iatLeeway?: number;
  /**
   * Proof algorithms accepted (asymmetric only, RFC 9449 §4.2).
   * @default ['ES256', 'ES384', 'EdDSA', 'Ed25519', 'PS256', 'RS256']
   */
  algorithms?: AsymmetricAlgorithm[];
  /**
   * Where proof `jti`s are remembered so each proof is accepted once. A shared store (such as
   * `redisTokenStore()` from `express-oauth-kit/redis`, which sets keys with NX and an expiry)
   * makes a proof replayed against another instance of the fleet fail too. Claims are not remembered
   * in process memory (the store's expiry forgets them). Give an ioredis client used here a
   * `commandTimeout` too.
   * @default an in-memory store of `replayMaxEntries` ids
   */
  replayStore?: ReplayStore;
  /**
   * Capacity of the default in-memory replay store. A live id is never dropped to make room: when
   * the store is full of ids whose proofs are still acceptable, new proofs are answered 503
   * (`Retry-After`) until some expire. Size it as peak proofs per second × (`iatWindowSeconds` +
   * `iatLeewaySeconds` + 2). Not allowed together with `replayStore`.
   * @default 100000
   */
  replayMaxEntries?: number;
  /**
   * Milliseconds `replayStore.claim()` may take. Beyond it the store counts as unreachable
   * (see `onReplayStoreError`), so a Redis that accepts connections but never answers does not
   * hold requests.
   * @default 500
   */
  replayStoreTimeoutMs?: number;
  /**
   * When the replay store cannot be reached or does not answer in time: `'closed'` answers 503,
   * `'open'` accepts the proof without the replay check (logged). A full in-memory store always
   * answers 503.
   * @default 'closed'
   */
  onReplayStoreError?: 'closed' | 'open';
  /**
   * Server nonces (RFC 9449 §8): proofs must carry a nonce this server issued. Nonces are derived
   * from `secret` and the time, so every instance sharing the secret accepts them; they rotate
   * every `rotateEverySeconds` and the previous one stays valid.
   */
  nonce?: {
    /** At least 32 bytes, the same on every instance. */
    secret: string | Uint8Array;
    /**
     * Seconds a nonce is current; the previous one is accepted too.
     * @default 300
     */
    rotateEverySeconds?: number;
    /** @deprecated Use rotateEverySeconds. */
    rotateEvery?: number;
  };
}

export interface ResolvedDpop {
  mode: 'allowed' | 'required' | 'disabled';
  iatWindow: number;
  iatLeeway: number;
  algorithms: string[];
  replayStore: ReplayStore | undefined;
  replayMaxEntries: number;
  replayStoreTimeoutMs: number;
  failOpen: boolean;
  nonce: { secret: Uint8Array; rotateEvery: number } | undefined;
}

const DPOP_KEYS = ['mode', 'iatWindowSeconds', 'iatLeewaySeconds', 'algorithms', 'replayStore', 'replayMaxEntries', 'replayStoreTimeoutMs', 'onReplayStoreError', 'nonce'] as const;

export const DPOP_ALGORITHMS: readonly AsymmetricAlgorithm[] = ['ES256', 'ES384', 'EdDSA', 'Ed25519', 'PS256', 'RS256'];

/** Checks and fills in `dpop` options (called by requireAuth's option resolver). */
export function resolveDpop(
  value: DpopOptions | undefined,
  check: OptionChecker,
): ResolvedDpop {
  if (value !== undefined && (typeof value !== 'object' || value === null)) check.fail('config_options', 'dpop must be an object such as { mode: "allowed" }');
  const o = renamed(check, value ?? {}, { iatWindow: 'iatWindowSeconds', iatLeeway: 'iatLeewaySeconds' }, 'dpop.');
  check.knownKeys(o, DPOP_KEYS, { replayStoreTimeout: 'replayStoreTimeoutMs', maxEntries: 'replayMaxEntries' }, 'dpop.');
  const mode = o.mode ?? 'allowed';
  if (mode !== 'allowed' && mode !== 'required' && mode !== 'disabled') check.fail('config_options', "dpop.mode must be 'allowed', 'required' or 'disabled'");
  const algorithms = Array.isArray(o.algorithms) ? [...o.algorithms] : (o.algorithms ?? [...DPOP_ALGORITHMS]);
  const allowed: readonly string[] = ASYMMETRIC_ALGS;
  if (!Array.isArray(algorithms) || algorithms.length === 0 || algorithms.some((a) => !allowed.includes(a))) {
    check.fail('config_options', `dpop.algorithms must be a non-empty list of asymmetric algorithms (${allowed.join(', ')})`);
  }
  if (o.replayStore !== undefined && typeof o.replayStore?.claim !== 'function') {
    check.fail('config_options', 'dpop.replayStore needs a claim(key, ttlMs) method that sets a key only if absent (redisTokenStore() has one)');
  }
  if (o.replayStore !== undefined && o.replayMaxEntries !== undefined) {
    check.fail('config_options', 'dpop.replayMaxEntries sizes the in-memory replay store; it does not apply with dpop.replayStore (size that store itself)');
  }
  if (o.onReplayStoreError !== undefined && o.onReplayStoreError !== 'closed' && o.onReplayStoreError !== 'open') {
    check.fail('config_options', "dpop.onReplayStoreError must be 'closed' or 'open'");
  }
  let nonce: ResolvedDpop['nonce'];
  if (o.nonce !== undefined) {
    const given = typeof o.nonce === 'object' && o.nonce !== null ? renamed(check, o.nonce, { rotateEvery: 'rotateEverySeconds' }, 'dpop.nonce.') : o.nonce;
    const secret = typeof given?.secret === 'string' ? new TextEncoder().encode(given.secret) : given?.secret;
    if (!(secret instanceof Uint8Array) || secret.byteLength < 32) check.fail('config_options', 'dpop.nonce.secret must be at least 32 bytes, the same on every instance');
    nonce = { secret, rotateEvery: check.number(given.rotateEverySeconds, 'dpop.nonce.rotateEverySeconds', 300, { positive: true }) };
  }
  return {
    mode,
    iatWindow: check.number(o.iatWindowSeconds, 'dpop.iatWindowSeconds', 300, { positive: true, max: 3_600 }),
    iatLeeway: check.number(o.iatLeewaySeconds, 'dpop.iatLeewaySeconds', 5, { max: 300 }),
    algorithms,
    replayStore: o.replayStore,
    replayMaxEntries: check.number(o.replayMaxEntries, 'dpop.replayMaxEntries', 100_000, { positive: true, integer: true }),
    // setTimeout turns anything above 2^31 - 1 ms into 1 ms; a minute is already no bound worth having.
    replayStoreTimeoutMs: check.number(o.replayStoreTimeoutMs, 'dpop.replayStoreTimeoutMs', 500, { positive: true, max: 60_000 }),
    failOpen: o.onReplayStoreError === 'open',
    nonce,
  };
}
