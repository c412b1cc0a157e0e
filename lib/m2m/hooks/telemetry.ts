import { errorCode, m2mMetrics } from '../../telemetry/otel.js';
import type { M2MHooks } from '../client/types.js';

/**
 * The M2M client's OpenTelemetry metrics, fed by the same events as its hooks: the user's hooks
 * still run, and without `@opentelemetry/api` they are returned untouched (nothing added to the
 * cache-hit path). Each wrapper returns what the user's hook returned, so emit() still sees an
 * async hook's promise and handles its rejection.
 */
export function withTelemetry(hooks: M2MHooks): M2MHooks {
  const m = m2mMetrics();
  if (m.tokenRequests === undefined) return hooks;
  const { onTokenFetched, onCacheHit, onError, onRetry } = hooks;
  return {
    onTokenFetched(event) {
      if (event.source === 'idp') m.tokenRequests?.add(1, { outcome: 'ok' });
      else m.cacheHits?.add(1, { source: 'store' });
      if (event.background) m.refreshes?.add(1);
      if (event.waiters > 0) m.waitTime?.record(event.latencyMs / 1000);
      return onTokenFetched?.(event);
    },
    onCacheHit(event) {
      m.cacheHits?.add(1, { source: 'memory' });
      return onCacheHit?.(event);
    },
    onError(err, event) {
      if (event.phase !== 'store') m.tokenRequests?.add(1, { outcome: errorCode(err) });
      return onError?.(err, event);
    },
    onRetry(event) {
      m.retries?.add(1, { 'error.code': errorCode(event.error) });
      return onRetry?.(event);
    },
  };
}
