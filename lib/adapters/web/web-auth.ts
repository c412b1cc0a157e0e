import type { GuardRequest } from '../../bearer/guard-request.js';
import type { Guard, GuardOutcome } from '../../guard/guard.js';
import type { AuthResult } from '../../guard/types.js';
import { errorAnswer } from '../answer.js';
import { adapterChecker } from '../guard-argument.js';

/**
 * A web-standard guard (see {@link webAuth}): resolves to the verified token, to the `Response`
 * to send when the request is refused, or to `null` when it carried no token and the guard has
 * `authRequired: false`.
 */
export type WebAuthHandler = (request: Request) => Promise<AuthResult | Response | null>;

/** Largest form body read for a body token (`tokenLocations: ['body']`); a bigger one is not searched. */
const MAX_FORM_BYTES = 65_536;

/**
 * The guard for web-standard handlers (`Request` in, `Response` out): Next.js route handlers,
 * Hono, Deno and Bun servers (Fastify: call `guard.check()`, see docs/adapters.md). Scheme and host for
 * DPoP come from `request.url`, as the platform built it. A refused request gets a `Response`
 * with the same status, headers and JSON body as in Express with `oauthErrorHandler()`.
 *
 * @example
 * ```ts
 * import { createGuard, webAuth } from 'express-oauth-kit';
 *
 * const auth = webAuth(createGuard({ issuer: 'https://idp.example.com', audience: 'https://api.example.com' }));
 * export async function GET(request: Request): Promise<Response> {
 *   const user = await auth(request);
 *   if (user instanceof Response) return user; // 401, 400, 503 …
 *   return Response.json({ sub: user?.payload.sub });
 * }
 * ```
 */
export function webAuth(guard: Guard<Request>): WebAuthHandler {
  adapterChecker('webAuth', guard, 'adapters.md#web-standard-request--response');
  return async function webAuthHandler(request) {
    let outcome: GuardOutcome;
    try {
      outcome = await guard.check(await guardRequest(request, guard.readsBody));
    } catch (err) {
      return response(err);
    }
    if (outcome.error !== undefined) return response(outcome.error);
    return outcome.auth ?? null;
  };
}

function response(err: unknown): Response {
  const { status, headers, body } = errorAnswer(err);
  return new Response(body, { status, headers });
}

async function guardRequest(request: Request, readsBody: boolean): Promise<GuardRequest<Request>> {
  const url = new URL(request.url);
  const headers: Record<string, string> = {};
  // Headers come lower-cased, repeated ones joined with ", ".
  request.headers.forEach((value, name) => {
    headers[name] = value;
  });
  return {
    method: request.method,
    url: url.pathname + url.search,
    headers,
    rawHeaders: authorizationPairs(headers.authorization),
    body: readsBody ? await formBody(request) : undefined,
    protocol: url.protocol.slice(0, -1),
    host: url.host,
    native: request,
  };
}

/**
 * `Headers` joins two Authorization headers into one value, `Bearer a, Bearer b`. A Bearer or
 * DPoP token never holds a comma, and a second credentials starts with a scheme name followed by a
 * space or nothing (an auth-param would be `name=`): such a value was two headers, and is refused
 * as two, as Node's raw header list shows them.
 */
function authorizationPairs(value: string | undefined): string[] | undefined {
  if (value === undefined || !SECOND_CREDENTIALS.test(value)) return undefined;
  return value.split(/,\s*(?=[!#$%&'*+.^_`|~0-9A-Za-z-]+(?: |$))/).flatMap((v) => ['authorization', v]);
}

const SECOND_CREDENTIALS = /,\s*[!#$%&'*+.^_`|~0-9A-Za-z-]+(?: |$)/;

/** A small `application/x-www-form-urlencoded` body, read from a clone so the handler can still read it. */
async function formBody(request: Request): Promise<Record<string, string | string[]> | undefined> {
  if (!/^application\/x-www-form-urlencoded\b/i.test(request.headers.get('content-type') ?? '')) return undefined;
  const length = Number(request.headers.get('content-length') ?? NaN);
  if (!(length <= MAX_FORM_BYTES)) return undefined;
  // clone() throws for a body the application has read already: its bug, answered as one (500).
  const copy = request.clone();
  let text: string;
  try {
    text = await copy.text();
  } catch {
    // The client broke the body off: no body token, as with one too big to search. Not a 500,
    // nor an error line each time a client hangs up.
    return undefined;
  }
  const out: Record<string, string | string[]> = Object.create(null) as Record<string, string | string[]>;
  for (const [name, value] of new URLSearchParams(text)) {
    const seen = out[name];
    out[name] = seen === undefined ? value : Array.isArray(seen) ? [...seen, value] : [seen, value];
  }
  return out;
}
