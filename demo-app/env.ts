/**
 * Small, strict readers for environment variables. Every failure names the variable, so a typo in a
 * deployment shows up as one readable line at start-up instead of a 500 on the first login.
 */

export type Env = Record<string, string | undefined>;

export class DemoConfigError extends Error {
  /** The environment variable at fault. */
  readonly variable: string;
  constructor(variable: string, message: string) {
    super(`${variable}: ${message}`);
    this.variable = variable;
  }
  override get name(): string {
    return 'DemoConfigError';
  }
}

/** Trimmed value; unset and empty are the same thing (an empty line in a .env file). */
export function optional(env: Env, name: string): string | undefined {
  const v = env[name]?.trim();
  return v === undefined || v === '' ? undefined : v;
}

export function required(env: Env, name: string, why: string): string {
  const v = optional(env, name);
  if (v === undefined) throw new DemoConfigError(name, `is required ${why}`);
  return v;
}

export function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T;
export function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback?: undefined): T | undefined;
export function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback?: T): T | undefined {
  const v = optional(env, name);
  if (v === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(v)) {
    throw new DemoConfigError(name, `must be one of ${allowed.join(', ')} (got "${v.slice(0, 60)}")`);
  }
  return v as T;
}

/** 0 means "any free port" (what the tests use). */
export function port(env: Env, name: string, fallback: number): number {
  const v = optional(env, name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isInteger(n) || n > 65535) {
    throw new DemoConfigError(name, `must be a TCP port number 0-65535 (got "${v.slice(0, 60)}")`);
  }
  return n;
}

/** An absolute http(s) URL. The package's own checks refuse plain http to non-loopback hosts later. */
export function url(env: Env, name: string): string | undefined {
  const v = optional(env, name);
  if (v === undefined) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(v);
  } catch {
    throw new DemoConfigError(name, `must be an absolute URL such as https://tenant.example.com (got "${v.slice(0, 100)}")`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new DemoConfigError(name, `must be an http or https URL (got "${parsed.protocol}")`);
  }
  if (parsed.username || parsed.password) {
    throw new DemoConfigError(name, 'must not contain credentials; use the *_CLIENT_ID / *_CLIENT_SECRET variables');
  }
  return v;
}

/** An origin exactly as a browser sends it in `Origin`: scheme://host[:port], nothing else. */
export function origins(env: Env, name: string): string[] | undefined {
  const v = optional(env, name);
  if (v === undefined) return undefined;
  const list = v.split(',').map((s) => s.trim()).filter(Boolean);
  for (const o of list) {
    let origin: string | undefined;
    try {
      origin = new URL(o).origin;
    } catch {
      origin = undefined;
    }
    if (origin !== o) {
      throw new DemoConfigError(name, `"${o.slice(0, 100)}" is not an origin; write scheme://host[:port] with no path or trailing slash`);
    }
  }
  if (list.length === 0) throw new DemoConfigError(name, 'must list at least one origin');
  return list;
}

/** Space-separated OAuth scope list (RFC 6749 §3.3 characters only). */
export function scope(env: Env, name: string, fallback: string): string {
  const v = optional(env, name) ?? fallback;
  if (!/^[\x21\x23-\x5b\x5d-\x7e]+( [\x21\x23-\x5b\x5d-\x7e]+)*$/.test(v)) {
    throw new DemoConfigError(name, 'must be space-separated scope names without quotes or backslashes');
  }
  return v;
}

const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])$/;

/**
 * Client secrets and tokens must not cross a network in clear text, so an IdP URL must be https
 * unless it is on this machine. Checked here too (the package checks again) to name the variable.
 */
export function assertSecureUrl(name: string, value: string | undefined, allowInsecureHttp: boolean): void {
  if (value === undefined || allowInsecureHttp) return;
  const u = new URL(value);
  if (u.protocol === 'http:' && !LOOPBACK.test(u.hostname)) {
    throw new DemoConfigError(name, 'must use https (plain http only for localhost, or set OAUTH_ALLOW_INSECURE_HTTP=true for an IdP inside a private network)');
  }
}
