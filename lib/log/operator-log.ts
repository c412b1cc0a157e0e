import { LRUCache } from 'lru-cache';
import * as clock from '../clock.js';

/**
 * The one place where operator log lines are made safe. Two rules, for every line the package
 * writes, whatever part of the package writes it:
 * - anything a caller (a client, an IdP) supplied is passed through {@link forLog} first, so a
 *   hostile `iss`, header or error_description cannot forge lines (CR/LF) or flood the log;
 * - writing never throws and never waits: a logger that throws is ignored, so a broken logger
 *   never changes an answer (a 503 stays a 503).
 */

/** C0 and C1 controls, DEL, the Unicode line and paragraph separators, and bidi overrides/isolates. */
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]+/g;

/** How much of one caller-supplied value a log line shows by default. */
export const LOG_VALUE_MAX = 120;

/**
 * `value` made fit for a log line: controls replaced by one space each run, cut to `max` UTF-16
 * units (with "…" when cut, and never splitting a surrogate pair). Non-strings are described by
 * type, so an object from a hostile JSON document is never serialized into a line.
 */
export function forLog(value: unknown, max: number = LOG_VALUE_MAX): string {
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value !== 'string') return value === null ? 'null' : value === undefined ? 'undefined' : `(${Array.isArray(value) ? 'array' : typeof value})`;
  const clean = value.replace(CONTROL_CHARS, ' ');
  if (clean.length <= max) return clean;
  let end = max;
  const code = clean.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end -= 1;
  return `${clean.slice(0, end)}…`;
}

/** What the package writes operator lines to: `console`, pino and winston fit. */
export interface OperatorLogger {
  /** Degraded but still answering, or a request refused for a reason worth an operator's look. */
  warn(message: string): void;
  /** A failure of this server's own configuration or of its IdP that made requests fail. */
  error(message: string): void;
  /** Detail that explains a refusal (issuer or audience mismatch); written only if the logger has it. */
  debug?(message: string): void;
}

export type LogLevel = 'debug' | 'warn' | 'error';

/** A line writer with per-line deduplication; see {@link operatorLog}. */
export type LogLine = (level: LogLevel, line: string) => void;

/** A repeated line is written at most once in this window. */
export const LOG_REPEAT_MS = 60_000;
/** Distinct lines remembered for deduplication (a hostile client cannot grow this). */
const DISTINCT_LINES = 512;

/**
 * A writer for `logger` (none: every call is a no-op) that writes each distinct line at most once
 * a minute — per line, so two failures at once do not defeat it — and swallows whatever the
 * logger throws. Lines are expected to be built with {@link forLog} around every caller value;
 * the whole line is cleaned of controls once more here as a last line of defence.
 */
export function operatorLog(logger: OperatorLogger | undefined, opts: { dedupe?: boolean } = {}): LogLine {
  if (logger === undefined) return () => {};
  const seen = opts.dedupe === false ? undefined : new LRUCache<string, number>({ max: DISTINCT_LINES });
  return (level, line) => {
    const safe = line.replace(CONTROL_CHARS, ' ');
    if (seen !== undefined) {
      const now = clock.now();
      const key = `${level} ${safe}`;
      const last = seen.get(key);
      if (last !== undefined && now - last < LOG_REPEAT_MS) return;
      seen.set(key, now);
    }
    try {
      if (level === 'debug') logger.debug?.(safe);
      else logger[level](safe);
    } catch {
      // A broken logger must not turn an answer into a 500, nor loop: nothing to do.
    }
  };
}
