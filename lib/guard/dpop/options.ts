import type { OptionChecker } from '../../options/validate.js';
import type { AsymmetricAlgorithm } from '../options.js';

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
   * Seconds a proof stays acceptable after its `iat` (and how long its `jti` is remembered).
   * @default 300
   */
  iatWindow?: number;
  /**
   * Seconds of clock skew tolerated on a proof's `iat`, in both directions.
   * @default 5
   */
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
   * in process memory (the store's expiry forgets them).
   * @default an in-memory store (100,000 entries)
   */
  replayStore?: ReplayStore;
  /**
   * When the replay store cannot be reached: `'closed'` answers 503, `'open'` accepts the proof
   * without the replay check (logged).
   * @default 'closed'
   */
  onReplayStoreError?: 'closed' | 'open';
  /**
   * Server nonces (RFC 9449 §8): proofs must carry a nonce this server issued. Nonces are derived
   * from `secret` and the time, so every instance sharing the secret accepts them; they rotate
   * every `rotateEvery` seconds and the previous one stays valid.
   */
  nonce?: {
    /** At least 32 bytes, the same on every instance. */
    secret: string | Uint8Array;
    /**
     * Seconds a nonce is current; the previous one is accepted too.
     * @default 300
     */
    rotateEvery?: number;
  };
}

export interface ResolvedDpop {
  mode: 'allowed' | 'required' | 'disabled';
  iatWindow: number;
  iatLeeway: number;
  algorithms: string[];
  replayStore: ReplayStore | undefined;
  failOpen: boolean;
  nonce: { secret: Uint8Array; rotateEvery: number } | undefined;
}

export const DPOP_ALGORITHMS: readonly AsymmetricAlgorithm[] = ['ES256', 'ES384', 'EdDSA', 'Ed25519', 'PS256', 'RS256'];

/** Checks and fills in `dpop` options (called by requireAuth's option resolver). */
export function resolveDpop(
  value: DpopOptions | undefined,
  check: OptionChecker,
): ResolvedDpop {
  const o = value ?? {};
  if (typeof o !== 'object' || o === null) check.fail('config_options', 'dpop must be an object such as { mode: "allowed" }');
  check.knownKeys(o, ['mode', 'iatWindow', 'iatLeeway', 'algorithms', 'replayStore', 'onReplayStoreError', 'nonce'], {}, 'dpop.');
  const mode = o.mode ?? 'allowed';
  if (mode !== 'allowed' && mode !== 'required' && mode !== 'disabled') check.fail('config_options', "dpop.mode must be 'allowed', 'required' or 'disabled'");
  const algorithms = Array.isArray(o.algorithms) ? [...o.algorithms] : (o.algorithms ?? [...DPOP_ALGORITHMS]);
  const allowed: readonly string[] = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];
  if (!Array.isArray(algorithms) || algorithms.length === 0 || algorithms.some((a) => !allowed.includes(a))) {
    check.fail('config_options', `dpop.algorithms must be a non-empty list of asymmetric algorithms (${allowed.join(', ')})`);
  }
  if (o.replayStore !== undefined && typeof o.replayStore?.claim !== 'function') {
    check.fail('config_options', 'dpop.replayStore needs a claim(key, ttlMs) method that sets a key only if absent (redisTokenStore() has one)');
  }
  if (o.onReplayStoreError !== undefined && o.onReplayStoreError !== 'closed' && o.onReplayStoreError !== 'open') {
    check.fail('config_options', "dpop.onReplayStoreError must be 'closed' or 'open'");
  }
  let nonce: ResolvedDpop['nonce'];
  if (o.nonce !== undefined) {
    const secret = typeof o.nonce?.secret === 'string' ? new TextEncoder().encode(o.nonce.secret) : o.nonce?.secret;
    if (!(secret instanceof Uint8Array) || secret.byteLength < 32) check.fail('config_options', 'dpop.nonce.secret must be at least 32 bytes, the same on every instance');
    nonce = { secret, rotateEvery: check.number(o.nonce.rotateEvery, 'dpop.nonce.rotateEvery', 300, { positive: true }) };
  }
  return {
    mode,
    iatWindow: check.number(o.iatWindow, 'dpop.iatWindow', 300, { positive: true, max: 3_600 }),
    iatLeeway: check.number(o.iatLeeway, 'dpop.iatLeeway', 5, { max: 300 }),
    algorithms,
    replayStore: o.replayStore,
    failOpen: o.onReplayStoreError === 'open',
    nonce,
  };
}
