import { ConfigError, type ConfigErrorCode, type DocsTopic } from '../errors/config-error.js';
import { forLog } from '../log/operator-log.js';
import { checkIdpUrl } from './url-policy.js';

/**
 * setTimeout's (and AbortSignal.timeout's) largest delay in ms. A longer one fires after 1 ms
 * (Node only warns), so a timeout option above it would fail every wait at once: refused instead.
 */
export const MAX_TIMER_MS = 2_147_483_647;

/** Bounds of {@link OptionChecker.number}. */
export interface NumberBounds {
  /** Refuse 0 as well as negatives. */
  positive?: boolean;
  /** Largest value accepted (inclusive). */
  max?: number;
  integer?: boolean;
}

/**
 * Option checks shared by every factory, so a misspelt or mistyped option is reported the same
 * way whichever job it belongs to: once, at construction, with a stable code and a docs anchor.
 */
export class OptionChecker {
  constructor(
    /** Names the factory in every message, e.g. "requireAuth()". */
    readonly factory: string,
    /** The section documenting this factory's options; every error it raises points there. */
    readonly topic: DocsTopic,
  ) {}

  fail(code: ConfigErrorCode, message: string, topic: DocsTopic = this.topic): never {
    throw new ConfigError(`${this.factory}: ${message}`, { code, topic });
  }

  /** Options must be a plain object. */
  object<T>(value: T, hint: string): T & object {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) this.fail('config_options', `needs an options object (${hint})`);
    return value as T & object;
  }

  /**
   * Refuses keys the factory does not know. A misspelt option must not silently fall back to a
   * default (a misspelt `jwksUri` would otherwise mean "discover the keys"). `renames` (old name →
   * new) turns a guess that is a deprecated name into its new name: a typo of `timeout` is told
   * `timeoutMs`, not pointed at a name that would only earn a DeprecationWarning.
   */
  knownKeys(
    options: object,
    known: readonly string[],
    aliases: Readonly<Record<string, string>> = {},
    prefix = '',
    renames: Readonly<Record<string, string>> = {},
  ): void {
    for (const key of Object.keys(options)) {
      if (known.includes(key)) continue;
      const near = aliases[key] ?? closest(key, [...known, ...Object.keys(renames)]);
      const guess = near !== undefined && Object.prototype.hasOwnProperty.call(renames, near) ? renames[near] : near;
      this.fail('config_options', `unknown option "${prefix}${key}"${guess ? `; did you mean ${prefix}${guess}?` : ''}`);
    }
  }

  /** A finite number ≥ 0 (or > 0), at most `max`; undefined gives the fallback. */
  number(value: unknown, name: string, fallback: number, opts?: NumberBounds): number;
  number(value: unknown, name: string, fallback: undefined, opts?: NumberBounds): number | undefined;
  number(value: unknown, name: string, fallback: number | undefined, { positive = false, max = Number.MAX_SAFE_INTEGER, integer = false }: NumberBounds = {}): number | undefined {
    if (value === undefined) return fallback;
    if (
      typeof value !== 'number' ||
      !Number.isFinite(value) ||
      value < 0 ||
      (positive && value === 0) ||
      value > max ||
      (integer && !Number.isInteger(value))
    ) {
      const kind = `${positive ? 'positive' : 'non-negative'} ${integer ? 'integer' : 'number'}`;
      this.fail('config_number', `${name} must be a ${kind}${max < Number.MAX_SAFE_INTEGER ? ` of at most ${max}` : ''} (got ${gotValue(value)})`);
    }
    return value;
  }

  boolean(value: unknown, name: string, fallback: boolean): boolean {
    if (value === undefined) return fallback;
    if (typeof value !== 'boolean') this.fail('config_options', `${name} must be true or false (got ${typeof value})`);
    return value;
  }

  /** A function (hooks, callbacks), or undefined. */
  func<F extends (...args: never[]) => unknown>(value: unknown, name: string, shape = 'a function'): F | undefined {
    if (value !== undefined && typeof value !== 'function') this.fail('config_options', `${name} must be ${shape}`);
    return value as F | undefined;
  }

  /**
   * An IdP URL (issuer, endpoint, JWKS): the same https-only policy as URLs found at run time
   * ({@link checkIdpUrl}), but found here, at construction, so it is a ConfigError.
   */
  url(value: unknown, name: string, { allowHttp = false } = {}): URL {
    const problem = checkIdpUrl(value, { allowHttp });
    if (problem !== undefined) this.fail('config_url', `${name} ${problem}`);
    return new URL(value as string);
  }

  /** A logger with warn() and error() (console, pino, winston), or false for none. Default console. */
  logger<L extends { warn(message: string): void; error(message: string): void }>(value: unknown, fallback: L): L | undefined {
    if (value === false) return undefined;
    if (value === undefined) return fallback;
    const l = value as Partial<L> | null;
    if (typeof l?.warn !== 'function' || typeof l?.error !== 'function') {
      this.fail('config_options', 'logger must have warn(message) and error(message) methods (console works), or be false');
    }
    return value as L;
  }
}

/**
 * What a number option was given, for its message. A string is quoted and named as one: "(got
 * 2000)" for the string '2000' (an environment variable passed as is) would hide the mistake.
 */
function gotValue(value: unknown): string {
  return typeof value === 'string' ? `the string ${JSON.stringify(forLog(value, 40))}` : forLog(value);
}

/** The known key a typo most likely meant: case-insensitive match, else edit distance ≤ 2. */
function closest(key: string, known: readonly string[]): string | undefined {
  const lower = key.toLowerCase().replace(/[_-]/g, '');
  let best: string | undefined;
  let bestDistance = 3;
  for (const k of known) {
    const candidate = k.toLowerCase();
    if (candidate === lower) return k;
    const d = distance(lower, candidate);
    if (d < bestDistance) {
      bestDistance = d;
      best = k;
    }
  }
  return best;
}

function distance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 3;
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length]!;
}
