/**
 * Tokens that share another token's key in the guard's maps (lib/guard/token-key.ts reads only
 * some characters): what an attacker holding one valid token makes to try to get its answer.
 */
import { tokenKey } from '../../lib/guard/token-key.js';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export interface SameKeyOptions {
  /** First position that may change (default 0). */
  from?: number;
  /** Position after the last one that may change (default the token's length). */
  to?: number;
  /** Whether a candidate will do (e.g. its claims still parse); all do by default. */
  accept?: (candidate: string) => boolean;
}

/** `token` with one character in [from, to) changed, and the same key: the first such one `accept` takes. */
export function sameKeyVariant(token: string, { from = 0, to = token.length, accept = () => true }: SameKeyOptions = {}): string {
  for (let i = from; i < to; i++) {
    for (const c of ALPHABET) {
      const variant = token.slice(0, i) + c + token.slice(i + 1);
      if (variant !== token && tokenKey(variant) === tokenKey(token) && accept(variant)) return variant;
    }
  }
  throw new Error('no same-key variant: the key reads every character that may change?');
}

/** The bounds of a compact JWS's payload segment, less its last character (any base64url character is canonical before it). */
export function payloadRange(token: string): { from: number; to: number } {
  const from = token.indexOf('.') + 1;
  return { from, to: token.indexOf('.', from) - 1 };
}
