import type { OAuthError } from '../errors/oauth-error.js';
import { forLog, LOG_REPEAT_MS, operatorLog, type OperatorLogger } from '../log/operator-log.js';
import * as clock from '../clock.js';

/** A guard's operator lines, in the two kinds that must be kept apart. */
export interface GuardLog {
  /**
   * A failure to obtain keys, or settings the IdP or the resolver contradict: `error` for a
   * misconfiguration of this server or its IdP, `warn` otherwise. Never a token. `clientChosen`:
   * the failure followed from a value the client picked (the `iss` handed to the resolver), so
   * however wrong the settings, a client must not be able to write an `error` line: `warn`; and
   * since each made-up value makes a new line, such lines are also limited per minute.
   */
  report: (err: OAuthError, clientChosen?: boolean) => void;
  /**
   * Why a client's token was refused, when the reason may be this server's settings (an `iss` or
   * `aud` that differs from the configured one by a trailing slash, say). Any client can cause
   * these, so they are never above `warn` and are rate-limited; values must come through forLog().
   */
  refusal: (line: string) => void;
}

const PREFIX = '[express-oauth-kit] requireAuth():';
/** Refusal lines per minute at debug (the logger opted into detail); distinct lines only. */
const DEBUG_REFUSALS_PER_WINDOW = 10;
/** Lines per minute caused by values a client chose (each made-up `iss` makes a distinct line). */
const CLIENT_CHOSEN_PER_WINDOW = 10;
/** Longest `err.message` in a line: messages may quote an IdP URL or a resolver's error. */
const MESSAGE_MAX = 600;

export function guardLog(logger: OperatorLogger | undefined): GuardLog {
  const log = operatorLog(logger);
  const hasDebug = typeof logger?.debug === 'function';
  // Refusals are counted per window on top of operatorLog's per-line dedupe: a client sending a
  // different made-up `iss` each time makes a different line each time.
  let windowStart = -Infinity;
  let inWindow = 0;
  let chosenStart = -Infinity;
  let chosenInWindow = 0;
  return {
    report: (err, clientChosen = false) => {
      if (clientChosen) {
        const now = clock.now();
        if (now - chosenStart >= LOG_REPEAT_MS) {
          chosenStart = now;
          chosenInWindow = 0;
        }
        if (chosenInWindow >= CLIENT_CHOSEN_PER_WINDOW) return;
        chosenInWindow += 1;
      }
      const misconfigured = err.code === 'misconfigured';
      log(misconfigured && !clientChosen ? 'error' : 'warn', `${PREFIX} ${forLog(err.message, MESSAGE_MAX)}${misconfigured ? ' (fix the configuration; retrying will not help)' : ''}`);
    },
    refusal: (line) => {
      if (logger === undefined) return;
      const now = clock.now();
      if (now - windowStart >= LOG_REPEAT_MS) {
        windowStart = now;
        inWindow = 0;
      }
      if (inWindow >= (hasDebug ? DEBUG_REFUSALS_PER_WINDOW : 1)) return;
      inWindow += 1;
      log(hasDebug ? 'debug' : 'warn', `${PREFIX} ${line}`);
    },
  };
}

/** An `aud` as presented (string, list, anything), for a refusal line. */
export function audForLog(aud: unknown): string {
  if (Array.isArray(aud)) return `[${aud.slice(0, 5).map((a) => `"${forLog(a, 80)}"`).join(', ')}${aud.length > 5 ? ', …' : ''}]`;
  return typeof aud === 'string' ? `"${forLog(aud)}"` : forLog(aud);
}
