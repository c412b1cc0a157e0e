import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { GuardRequest } from '../../bearer/guard-request.js';
import type { Guard, GuardOutcome } from '../../guard/guard.js';
import type { AuthResult } from '../../guard/types.js';
import { errorAnswer } from '../answer.js';
import { adapterChecker } from '../guard-argument.js';
import { peerCertificateReader } from '../tls/peer-certificate.js';

/** Options of {@link nodeAuth}. */
export interface NodeAuthOptions {
  /**
   * Read the scheme a DPoP proof's `htu` must name from the first `X-Forwarded-Proto` value, as set
   * by the TLS-terminating proxy in front (Express's `trust proxy`). Only behind such a proxy:
   * otherwise any client chooses it. The host is always the `Host` header, as in Express: the proxy
   * must pass the client's `Host` through.
   * @default false: the socket's scheme
   */
  trustProxy?: boolean;
}

/**
 * A node:http guard (see {@link nodeAuth}): resolves to the verified token; to `undefined` when it
 * has written the error answer itself (stop handling the request); to `null` when the request
 * carried no token and the guard has `authRequired: false`.
 */
export type NodeAuthHandler = (req: IncomingMessage, res: ServerResponse) => Promise<AuthResult | null | undefined>;

/**
 * The guard for a plain `node:http` server (or anything built on `IncomingMessage` and
 * `ServerResponse`). A refused request gets the same answer as in Express with
 * `oauthErrorHandler()`: status, WWW-Authenticate and the JSON body. A body token
 * (`tokenLocations: ['body']`) is read from `req.body` if a body parser set it.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { createGuard, nodeAuth } from 'express-oauth-kit';
 *
 * const auth = nodeAuth(createGuard({ issuer: 'https://idp.example.com', audience: 'https://api.example.com' }));
 * createServer(async (req, res) => {
 *   const user = await auth(req, res);
 *   if (user === undefined) return; // answered 401/400/503 already
 *   if (user === null) return void res.writeHead(401).end(); // no token, authRequired: false
 *   res.setHeader('Content-Type', 'application/json');
 *   res.end(JSON.stringify({ sub: user.payload.sub }));
 * }).listen(3000);
 * ```
 */
export function nodeAuth(guard: Guard<IncomingMessage>, options: NodeAuthOptions = {}): NodeAuthHandler {
  const check = adapterChecker('nodeAuth', guard, 'adapters.md#nodehttp');
  // A misspelt trustProxy would otherwise leave DPoP's htu on the socket's scheme unnoticed.
  check.knownKeys(check.object(options, '{ trustProxy? }'), ['trustProxy']);
  const trustProxy = check.boolean(options.trustProxy, 'trustProxy', false);
  return async function nodeAuthHandler(req, res) {
    let outcome: GuardOutcome;
    try {
      outcome = await guard.check(guardRequest(req, trustProxy));
    } catch (err) {
      send(res, err);
      return undefined;
    }
    if (outcome.error !== undefined) {
      send(res, outcome.error);
      return undefined;
    }
    return outcome.auth ?? null;
  };
}

function send(res: ServerResponse, err: unknown): void {
  const { status, headers, body } = errorAnswer(err);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, headers).end(body);
}

function guardRequest(req: IncomingMessage, trustProxy: boolean): GuardRequest<IncomingMessage> {
  let protocol = (req.socket as Partial<TLSSocket>).encrypted === true ? 'https' : 'http';
  if (trustProxy) protocol = first(req.headers['x-forwarded-proto']) ?? protocol;
  return {
    method: req.method ?? 'GET',
    url: req.url ?? '/',
    headers: req.headers,
    rawHeaders: req.rawHeaders,
    body: (req as { body?: unknown }).body,
    protocol,
    host: req.headers.host,
    clientCertificate: peerCertificateReader(req.socket),
    native: req,
  };
}

/** The first of a comma-separated forwarded list (the proxy nearest the client wrote it). */
function first(value: string | string[] | undefined): string | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  const out = v?.split(',', 1)[0]!.trim();
  return out === '' ? undefined : out;
}
