import { createRequire } from 'node:module';

/**
 * OpenTelemetry, when the application has `@opentelemetry/api` installed (an optional peer):
 * metrics and IdP client spans through whatever SDK the application registered. Without the
 * package every instrument is undefined, so instrumented code costs one optional-chaining check.
 *
 * Instruments are created when a factory is called: register the SDK before creating the
 * middleware (as OpenTelemetry's own instrumentations require). Attributes never carry a token,
 * secret, username, password or query string.
 */

/** The slices of the OpenTelemetry API used here (structural, so no OTel types leak into ours). */
export interface Counter {
  add(value: number, attributes?: Record<string, string | number>): void;
}
export interface Histogram {
  record(value: number, attributes?: Record<string, string | number>): void;
}
interface Span {
  setAttribute(key: string, value: string | number): void;
  setStatus(status: { code: number; message?: string }): void;
  end(): void;
}
interface Api {
  metrics: { getMeter(name: string, version?: string): Meter };
  trace: { getTracer(name: string, version?: string): { startSpan(name: string, options: { kind: number; attributes: Record<string, string | number> }): Span } };
}
interface Meter {
  createCounter(name: string, options: { description: string; unit?: string }): Counter;
  createHistogram(name: string, options: { description: string; unit?: string }): Histogram;
}

const NAME = 'express-oauth-kit';

/** An error's stable `code` as a metric attribute; errors without one (bugs) are 'unexpected'. */
export function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'unexpected';
}
const SPAN_KIND_CLIENT = 2;
const STATUS_ERROR = 2;

let loaded: Api | undefined | null = null;
function api(): Api | undefined {
  if (loaded === null) {
    try {
      loaded = createRequire(import.meta.url)('@opentelemetry/api') as Api;
    } catch {
      loaded = undefined;
    }
  }
  return loaded;
}

function meter(): Meter | undefined {
  return api()?.metrics.getMeter(NAME);
}

export interface GuardMetrics {
  verifications?: Counter;
  cacheHits?: Counter;
  rejections?: Counter;
  jwksReloads?: Counter;
}

/** requireAuth's instruments. */
export function guardMetrics(): GuardMetrics {
  const m = meter();
  if (m === undefined) return {};
  return {
    verifications: m.createCounter('oauthkit.guard.verifications', { description: 'Token signature verifications (cache misses), by result' }),
    cacheHits: m.createCounter('oauthkit.guard.cache_hits', { description: 'Requests answered from the verified-token cache' }),
    rejections: m.createCounter('oauthkit.guard.rejections', { description: 'Requests refused by requireAuth, by error code' }),
    jwksReloads: m.createCounter('oauthkit.guard.jwks_reloads', { description: 'JWKS fetches, by outcome' }),
  };
}

export interface IntrospectionMetrics {
  calls?: Counter;
  cacheHits?: Counter;
}

/** requireAuth's introspection instruments; attribute values come from small fixed sets. */
export function introspectionMetrics(): IntrospectionMetrics {
  const m = meter();
  if (m === undefined) return {};
  return {
    calls: m.createCounter('oauthkit.guard.introspection.calls', { description: 'Calls to the introspection endpoint, by result (active, inactive, refused, or an error code)' }),
    cacheHits: m.createCounter('oauthkit.guard.introspection.cache_hits', { description: 'Introspection answers reused, by tier (memory, store, stale)' }),
  };
}

export interface ProxyMetrics {
  grants?: Counter;
}

/** The token proxies' instruments. */
export function proxyMetrics(): ProxyMetrics {
  const m = meter();
  if (m === undefined) return {};
  return { grants: m.createCounter('oauthkit.proxy.grants', { description: 'Requests handled by the token proxies, by grant type and outcome' }) };
}

export interface M2MMetrics {
  tokenRequests?: Counter;
  cacheHits?: Counter;
  refreshes?: Counter;
  retries?: Counter;
  waitTime?: Histogram;
}

/** The M2M client's instruments. */
export function m2mMetrics(): M2MMetrics {
  const m = meter();
  if (m === undefined) return {};
  return {
    tokenRequests: m.createCounter('oauthkit.m2m.token_requests', { description: 'Token requests sent to the IdP, by outcome' }),
    cacheHits: m.createCounter('oauthkit.m2m.cache_hits', { description: 'getToken() calls answered from the cache or the shared store' }),
    refreshes: m.createCounter('oauthkit.m2m.refreshes', { description: 'Tokens refreshed ahead of expiry in the background' }),
    retries: m.createCounter('oauthkit.m2m.retries', { description: 'Token requests retried after a 5xx, 429 or network error' }),
    waitTime: m.createHistogram('oauthkit.m2m.wait_time', { description: 'Time a getToken() caller waited for a token from the IdP', unit: 's' }),
  };
}

let idpDuration: Histogram | undefined | null = null;

/**
 * Runs one HTTP call to the IdP inside a CLIENT span with the semantic-convention HTTP attributes
 * (`url.full` is origin and path only: EIAM sends the client secret in the query string), and
 * records `oauthkit.idp.request.duration`.
 */
export async function idpCall<T extends { status: number }>(operation: string, method: string, url: string, call: () => Promise<T>): Promise<T> {
  const otel = api();
  if (otel === undefined) return call();
  if (idpDuration === null) {
    idpDuration = meter()?.createHistogram('oauthkit.idp.request.duration', { description: 'Duration of HTTP calls to the IdP', unit: 's' });
  }
  let u: URL | undefined;
  try {
    u = new URL(url);
  } catch {
    u = undefined;
  }
  const attributes: Record<string, string | number> = { 'http.request.method': method, 'oauthkit.idp.operation': operation };
  if (u !== undefined) {
    attributes['url.full'] = `${u.origin}${u.pathname}`;
    attributes['server.address'] = u.hostname;
    attributes['server.port'] = Number(u.port || (u.protocol === 'https:' ? 443 : 80));
  }
  const span = otel.trace.getTracer(NAME).startSpan(method, { kind: SPAN_KIND_CLIENT, attributes });
  const started = performance.now();
  try {
    const res = await call();
    span.setAttribute('http.response.status_code', res.status);
    if (res.status >= 400) {
      span.setAttribute('error.type', String(res.status));
      span.setStatus({ code: STATUS_ERROR });
    }
    idpDuration?.record((performance.now() - started) / 1000, { 'oauthkit.idp.operation': operation, 'http.response.status_code': res.status });
    return res;
  } catch (err) {
    const type = errorCode(err);
    span.setAttribute('error.type', type);
    span.setStatus({ code: STATUS_ERROR });
    idpDuration?.record((performance.now() - started) / 1000, { 'oauthkit.idp.operation': operation, 'error.type': type });
    throw err;
  } finally {
    span.end();
  }
}
