import { OptionChecker } from '../../options/validate.js';
import type { M2MTokenKeyInfo, TokenRequestOptions } from '../client/types.js';

/** One distinct token: its cache key, the parameters that ask the IdP for it, and its hook identity. */
export interface TokenSpec {
  readonly key: string;
  readonly info: M2MTokenKeyInfo;
  /** grant_type, scope, audience, resource and extra params; client authentication is added by IdpClient. */
  readonly params: readonly (readonly [string, string])[];
  /** For error messages: `client "x", scope "a b"`. */
  readonly label: string;
}

// RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ), separated by single spaces.
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;
// C0, DEL and C1 controls: no scope, audience or resource needs one, and they are how values get
// smuggled across separators (in logs, in keys, in a form body read by a lax parser).
const CONTROL = /[\u0000-\u001F\u007F-\u009F]/;

export function normalizeScope(value: unknown, check: OptionChecker): string | undefined {
  if (value === undefined || value === null) return undefined;
  let parts: string[];
  if (typeof value === 'string') parts = value.split(' ');
  else if (Array.isArray(value) && value.every((s) => typeof s === 'string')) parts = value.flatMap((s: string) => s.split(' '));
  else check.fail('config_options', 'scope must be a space-separated string or an array of strings');
  const tokens = [...new Set(parts.filter((s) => s !== ''))].sort();
  for (const t of tokens) {
    if (CONTROL.test(t)) check.fail('config_options', 'scope must not contain control characters (tab, newline, NUL …)');
    if (!SCOPE_TOKEN.test(t)) {
      check.fail('config_options', `scope "${t}" has characters RFC 6749 §3.3 does not allow`);
    }
  }
  // Sorted and de-duplicated: "b a" and ["a", "b"] are the same token, and share one cache entry.
  return tokens.length ? tokens.join(' ') : undefined;
}

export function normalizeList(value: unknown, name: 'audience' | 'resource', check: OptionChecker): readonly string[] {
  if (value === undefined || value === null) return [];
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || !list.every((s) => typeof s === 'string' && s !== '')) {
    check.fail('config_options', `${name} must be a non-empty string or an array of them`);
  }
  if ((list as string[]).some((s) => CONTROL.test(s))) {
    // The value itself is not echoed: it could be anything, including what a log should not show.
    check.fail('config_options', `${name} must not contain control characters (tab, newline, NUL …)`);
  }
  if (name === 'resource') {
    for (const r of list as string[]) {
      let u: URL | undefined;
      try {
        u = new URL(r);
      } catch {
        u = undefined;
      }
      // RFC 8707 §2: an absolute URI without a fragment.
      if (!u || r.includes('#')) {
        check.fail('config_options', `resource "${r}" must be an absolute URI without a fragment (RFC 8707)`);
      }
    }
  }
  return Object.freeze([...new Set(list as string[])].sort());
}

export interface SpecBase {
  endpointKey: string;
  clientId: string;
  extraParams: readonly (readonly [string, string])[];
  /** Thumbprint of the DPoP key: a bound token is only any use with that key, so it is part of the key. */
  dpopJkt?: string;
  /** Thumbprint of the client certificate (`tls`): a certificate-bound token is only any use with that certificate. */
  x5tS256?: string;
}

export function buildSpec(base: SpecBase, scope: string | undefined, audience: readonly string[], resource: readonly string[]): TokenSpec {
  const parts: unknown[] = [base.endpointKey, base.clientId, scope ?? '', audience, resource, base.extraParams];
  if (base.dpopJkt !== undefined) parts.push(`dpop:${base.dpopJkt}`);
  if (base.x5tS256 !== undefined) parts.push(`x5t:${base.x5tS256}`);
  const key = 'm2m1:' + JSON.stringify(parts);
  const params: (readonly [string, string])[] = [['grant_type', 'client_credentials']];
  if (scope !== undefined) params.push(['scope', scope]);
  for (const a of audience) params.push(['audience', a]);
  for (const r of resource) params.push(['resource', r]);
  params.push(...base.extraParams);
  let label = `client "${base.clientId}"`;
  if (scope !== undefined) label += `, scope "${scope}"`;
  if (audience.length) label += `, audience "${audience.join(' ')}"`;
  if (resource.length) label += `, resource "${resource.join(' ')}"`;
  const info: M2MTokenKeyInfo = Object.freeze({ key, clientId: base.clientId, scope, audience, resource });
  return Object.freeze({ key, info, params: Object.freeze(params), label });
}

/** Per-call options fall back to the client's defaults one by one (a call's scope does not drop the default audience). */
export function specFor(
  base: SpecBase,
  defaults: { scope: string | undefined; audience: readonly string[]; resource: readonly string[] },
  options: TokenRequestOptions,
  where: string,
): TokenSpec {
  const check: OptionChecker = new OptionChecker(where, 'm2m.md#api');
  const scope = options.scope === undefined ? defaults.scope : normalizeScope(options.scope, check);
  const audience = options.audience === undefined ? defaults.audience : normalizeList(options.audience, 'audience', check);
  const resource = options.resource === undefined ? defaults.resource : normalizeList(options.resource, 'resource', check);
  return buildSpec(base, scope, audience, resource);
}

/**
 * Memo key for a call's raw options, before they are checked: so it must be unambiguous for any
 * input, whatever characters it holds. JSON is: strings are quoted and escaped, arrays delimited.
 */
export function rawOptionsKey(o: TokenRequestOptions): string {
  // [] for an absent option, [value] for a given one: `null` given is not the same as not given.
  const w = (v: unknown): unknown[] => (v === undefined ? [] : [v]);
  return JSON.stringify([w(o.scope), w(o.audience), w(o.resource)]);
}
