import { forLog, operatorLog, type LogLevel, type OperatorLogger } from '../../log/operator-log.js';
import type { M2MErrorEvent } from '../client/types.js';

/** IdP answers that mean this server's own client is misconfigured or refused, not an outage. */
const CLIENT_REFUSED = new Set(['invalid_client', 'unauthorized_client']);

/**
 * The M2M client's default `onError`: an operator line when the shared store fails or a caller
 * gets no token. A refresh-ahead failure while a valid token is still served is left out: callers
 * are not affected yet, and if it lasts, the 'fetch' failure that follows is written. Written
 * through operatorLog() (each distinct line at most once a minute, a throwing logger ignored); the
 * error message is ours, with IdP text already sanitized, and goes through `sanitize` (the IdP
 * client's, which redacts this client's secret) and forLog() once more before it is written.
 */
export function logErrors(logger: OperatorLogger, clientId: string, sanitize: (text: string) => string): (error: Error, event: M2MErrorEvent) => void {
  const log = operatorLog(logger);
  const who = `createM2MClient() client "${forLog(clientId, 80)}"`;
  return (error, event) => {
    if (event.phase === 'refresh') return;
    const code = (error as { code?: unknown }).code;
    const idpError = (error as { idpError?: unknown }).idpError;
    const level: LogLevel = event.phase === 'fetch' && typeof idpError === 'string' && CLIENT_REFUSED.has(idpError) ? 'error' : 'warn';
    const what = event.phase === 'store' ? 'token store failed' : 'no token';
    log(level, `[express-oauth-kit] ${who}: ${what} (${forLog(code, 40)}): ${forLog(sanitize(error.message), 300)}`);
  };
}
