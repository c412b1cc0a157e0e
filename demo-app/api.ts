import { fileURLToPath } from 'node:url';
import express, { type Express, type Request, type RequestHandler, type Response } from 'express';
import {
  createM2MClient,
  OAuthError,
  oauthErrorHandler,
  requireAcr,
  requireAuth,
  requireIssuer,
  requireScopes,
  type AuthResult,
  type IssuerOptions,
  type M2MClient,
} from '../lib/index.js';
import { ACR } from '../fixtures/mock-idp/types.js';
import { authRoutes } from './auth-routes.js';
import { operatorLogger, requestLog } from './request-log.js';
import { idpClientOptions, type ApiSettings } from './settings.js';

const PUBLIC_DIR = fileURLToPath(new URL('./public/', import.meta.url));

/** Made-up orders so /api/orders has something to show. */
const ORDERS: Record<string, { id: string; item: string; qty: number }[]> = {
  alice: [{ id: 'A-1001', item: 'widget', qty: 3 }],
  bob: [
    { id: 'B-2001', item: 'gadget', qty: 1 },
    { id: 'B-2002', item: 'widget', qty: 10 },
  ],
};
/** Made-up saved cards: sensitive enough that /api/payment-methods asks for a recent sign-in with the SMS step. */
const PAYMENT_METHODS: Record<string, { brand: string; last4: string }[]> = {
  alice: [{ brand: 'visa', last4: '4242' }],
  bob: [{ brand: 'mastercard', last4: '5454' }],
};

/**
 * Step-up (RFC 9470): the mock IdP's MFA level, and how recent that sign-in must be. A token from the
 * password alone, or from an MFA sign-in older than this, is answered 401
 * insufficient_user_authentication; the page then walks the user through the SMS step.
 */
export const PAYMENT_METHODS_ACR = [ACR.mfa];
export const PAYMENT_METHODS_MAX_AGE_SECONDS = 600;

/** Customers' orders, kept apart: a `sub` is unique only within its tenant. */
const CUSTOMER_ORDERS: Record<string, { id: string; item: string; qty: number }[]> = {
  dave: [{ id: 'D-3001', item: 'gizmo', qty: 2 }],
};

/** The caller's own orders, looked up by tenant and then by `sub`. */
function ordersOf(settings: ApiSettings, auth: AuthResult): { id: string; item: string; qty: number }[] {
  const book = auth.payload.iss === settings.idp.issuer ? ORDERS : CUSTOMER_ORDERS;
  return book[auth.payload.sub ?? ''] ?? [];
}

/**
 * The tenants whose tokens the API accepts: the staff tenant and, when configured, the customer
 * tenant. Each has its own keys (discovered from its issuer); the token's `iss` picks which.
 */
function tenants(settings: ApiSettings): IssuerOptions[] {
  const staff: IssuerOptions = {
    issuer: settings.idp.issuer,
    audience: settings.web.audience,
    ...(settings.idp.jwksUri ? { jwksUri: settings.idp.jwksUri } : {}),
  };
  const customers = settings.customers;
  return customers ? [staff, { issuer: customers.idp.issuer, audience: settings.web.audience }] : [staff];
}

/**
 * The login page is plain files with no inline script or style, so a strict CSP costs nothing and
 * means injected markup cannot run code that would read the in-memory access token.
 */
const securityHeaders: RequestHandler = (_req, res, next) => {
  res.set({
    'Content-Security-Policy': "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'",
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
  });
  next();
};

export function createM2M(settings: ApiSettings): M2MClient {
  const { log, m2m } = settings;
  return createM2MClient({
    ...idpClientOptions(settings.idp, m2m),
    scope: m2m.scope,
    ...(m2m.audience ? { audience: m2m.audience } : {}),
    // Shows the cache at work: one line per token obtained, none for the calls that reuse it.
    onTokenFetched: (e) =>
      log(
        `[api] m2m token for ${e.clientId} (scope ${e.scope ?? '-'}) from ${e.source} in ${e.latencyMs.toFixed(0)}ms, ` +
          `valid ${Math.round((e.expiresAt - Date.now()) / 1000)}s${e.background ? ', background refresh' : ''}`,
      ),
    onError: (err, e) => log(`[api] m2m ${e.phase} error for ${e.clientId}: ${err.message}`),
    logger: operatorLogger('api', 'm2m', log),
  });
}


/** 502 in the OAuth error shape, for a downstream that failed (not the caller's fault, not ours). */
function badGateway(res: Response, description: string): void {
  res.status(502).set('Cache-Control', 'no-store').json({ error: 'bad_gateway', error_description: description });
}

async function report(settings: ApiSettings, req: Request, res: Response): Promise<void> {
  let answer: globalThis.Response;
  try {
    // req.m2m.fetch adds `Authorization: Bearer <M2M token>`, cached across requests and users.
    answer = await req.m2m!.fetch(new URL('/inventory', settings.inventoryUrl), { signal: AbortSignal.timeout(5000) });
  } catch (err) {
    if (err instanceof OAuthError) {
      // The IdP refused or failed to issue our M2M token. The details (IdP URL, our client id) are
      // for the operator, who has them in the log from onError; the browser learns only what failed.
      const status = err.status >= 500 ? err.status : 502;
      const retryAfter = err.headers['Retry-After'];
      res.status(status).set({ 'Cache-Control': 'no-store', ...(retryAfter ? { 'Retry-After': retryAfter } : {}) });
      res.json({
        error: status === 503 ? 'temporarily_unavailable' : 'bad_gateway',
        error_description: 'The API could not get a token for the inventory service',
      });
      return;
    }
    return badGateway(res, `inventory service unreachable: ${(err as Error).name}`);
  }
  const body = (await answer.json().catch(() => undefined)) as { items?: unknown; error?: string } | undefined;
  if (!answer.ok || !body) {
    return badGateway(res, `inventory service answered ${answer.status}${body?.error ? ` ${body.error}` : ''}`);
  }
  const orders = ordersOf(settings, req.auth!);
  res.set('Cache-Control', 'no-store').json({
    user: req.auth!.payload.sub,
    orders,
    inventory: body.items,
    calledAs: settings.m2m.clientId,
    onBehalfOf: await asUser(settings, req),
  });
}

/**
 * The same inventory call made as the signed-in staff user (RFC 8693 token exchange through
 * `m2m.onBehalfOf()`): inventory sees the user as `sub` and this API in `act`. Only with the
 * built-in mock IdP, whose staff tenant has the grant; undefined otherwise.
 */
async function asUser(settings: ApiSettings, req: Request): Promise<unknown> {
  if (settings.customers === undefined || req.auth!.issuer !== settings.idp.issuer || req.m2m?.fetchAsUser === undefined) return undefined;
  try {
    const answer = await req.m2m.fetchAsUser(new URL('/inventory', settings.inventoryUrl), { signal: AbortSignal.timeout(5000) });
    const body = (await answer.json().catch(() => undefined)) as { servedTo?: unknown; act?: unknown } | undefined;
    return answer.ok && body ? { status: answer.status, servedTo: body.servedTo, act: body.act } : { status: answer.status };
  } catch (err) {
    return { error: (err as { code?: string }).code ?? 'failed' };
  }
}

/** The demo API: proxy routes for the login page, protected routes (one for staff only), the page itself. */
export function createApi(settings: ApiSettings, m2m: M2MClient = createM2M(settings)): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(requestLog('api', settings.log));
  app.use(securityHeaders);
  app.use(authRoutes(settings));

  // Staff and customer tokens both pass `auth`; `staffOnly` then admits only the staff tenant's.
  const guardLogger = operatorLogger('api', 'guard', settings.log);
  const auth = requireAuth({
    issuers: tenants(settings),
    ...(settings.idp.allowInsecureHttp ? { allowInsecureHttp: true } : {}),
    logger: guardLogger,
  });
  const staffOnly = requireIssuer(settings.idp.issuer);
  const noStore: RequestHandler = (_req, res, next) => {
    res.set('Cache-Control', 'no-store');
    next();
  };
  app.use('/api', noStore);

  app.get('/api/me', auth, (req, res) => {
    const { payload, scopes } = req.auth!;
    const { sub, client_id, iss, aud, exp, iat, auth_time, amr, acr } = payload as Record<string, unknown>;
    res.json({ sub, scopes, client_id, iss, aud, iat, exp, auth_time, amr, acr });
  });
  app.get('/api/orders', auth, requireScopes('orders:read'), (req, res) => {
    res.json({ user: req.auth!.payload.sub, orders: ordersOf(settings, req.auth!) });
  });
  // Every order of every customer: staff only. A customer token is valid, yet gets 401 here.
  app.get('/api/staff/orders', auth, staffOnly, requireScopes('orders:read'), (req, res) => {
    res.json({ staff: req.auth!.payload.sub, customers: CUSTOMER_ORDERS });
  });
  // Step-up: a valid token is not enough here; its sign-in must have had the SMS step, in the last 10 minutes.
  app.get('/api/payment-methods', auth, requireAcr(PAYMENT_METHODS_ACR, { maxAgeSeconds: PAYMENT_METHODS_MAX_AGE_SECONDS }), (req, res) => {
    const { sub, acr, auth_time } = req.auth!.payload;
    res.json({ user: sub, acr, auth_time, paymentMethods: req.auth!.issuer === settings.idp.issuer ? (PAYMENT_METHODS[sub ?? ''] ?? []) : [] });
  });

  // With the mock IdP, a partner's service (client partner-app) gets opaque access tokens: this
  // route checks them by RFC 7662 introspection (as this API's own client), cached for 30 s;
  // JWTs on the same route are still verified locally. So the demo shows both kinds of token.
  if (settings.customers) {
    const partnerAuth = requireAuth({
      ...tenants(settings)[0]!,
      ...(settings.idp.allowInsecureHttp ? { allowInsecureHttp: true } : {}),
      introspection: { clientId: settings.m2m.clientId, clientSecret: settings.m2m.clientSecret, cacheTtlSeconds: 30 },
      logger: guardLogger,
    } as Parameters<typeof requireAuth>[0]);
    app.get('/api/partner/orders', partnerAuth, requireScopes('orders:read'), (req, res) => {
      res.json({ client: req.auth!.clientId, verifiedBy: req.auth!.verifiedBy, orderCount: Object.values(ORDERS).flat().length });
    });
  }
  // With the mock IdP, the report also calls inventory as the user (token exchange).
  const asUserMount = settings.customers ? [m2m.onBehalfOf({ scope: settings.m2m.scope, ...(settings.m2m.audience ? { audience: settings.m2m.audience } : {}) })] : [];
  app.get('/api/report', auth, m2m.middleware(), ...asUserMount, (req, res) => report(settings, req, res));
  app.use('/api', (_req, res) => {
    res.status(404).json({ error: 'not_found', error_description: 'no such API route' });
  });

  app.use(express.static(PUBLIC_DIR, { index: 'index.html', maxAge: 0 }));
  app.use((_req, res) => {
    res.status(404).type('text/plain').send('Not found');
  });
  app.use(oauthErrorHandler({ onUnexpectedError: (err) => settings.log(`[api] unexpected error: ${(err as Error)?.message ?? String(err)}`) }));
  return app;
}
