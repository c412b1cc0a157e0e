/**
 * Small real HTTP servers on 127.0.0.1 for the M2M tests: a scriptable token endpoint (for answers
 * the mock IdP never gives) and a downstream API. No fetch mocking anywhere.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import express from 'express';
import { listen, type Listening } from '../../fixtures/listen.js';

export { listen, type Listening };

export interface TokenAnswer {
  status?: number;
  body: unknown;
  headers?: Record<string, string>;
  delayMs?: number;
}

export interface ScriptedIdp extends Listening {
  tokenEndpoint: string;
  /** `at`: Date.now() when the request arrived (how long a client waited between tries). */
  requests: { headers: IncomingMessage['headers']; body: URLSearchParams; at: number }[];
  /** Answers in order; the last one repeats. */
  answers: TokenAnswer[];
}

let seq = 0;
/** A Bearer answer with a new token on every request (the body is a function, called per request); null ttl omits expires_in. */
export const fresh = (ttl: number | null = 60, extra: Record<string, unknown> = {}): TokenAnswer => ({
  body: () => ({ access_token: `tok-${++seq}`, token_type: 'Bearer', ...(ttl === null ? {} : { expires_in: ttl }), ...extra }),
});

/** A token endpoint whose answers the test scripts (`idp.answers = [...]`). */
export async function startScriptedIdp(answers: TokenAnswer[] = [fresh()]): Promise<ScriptedIdp> {
  const state = { answers, requests: [] as ScriptedIdp['requests'] };
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const at = Date.now();
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    state.requests.push({ headers: req.headers, body: new URLSearchParams(Buffer.concat(chunks).toString('utf8')), at });
    const list = state.answers;
    const a = list.length > 1 ? list.shift()! : list[0]!;
    // Fresh token per request when the script says so via a function-like marker.
    const body = typeof a.body === 'function' ? (a.body as () => unknown)() : a.body;
    if (a.delayMs) await new Promise((r) => setTimeout(r, a.delayMs));
    res.writeHead(a.status ?? 200, { 'content-type': 'application/json', ...a.headers });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  });
  const l = await listen(server);
  return {
    ...l,
    tokenEndpoint: `${l.url}/oauth2/token`,
    get requests() {
      return state.requests;
    },
    get answers() {
      return state.answers;
    },
    set answers(v: TokenAnswer[]) {
      state.answers = v;
    },
  };
}

export interface Downstream extends Listening {
  /** Authorization headers received, in order. */
  seen: string[];
  bodies: string[];
  /** Tokens answered with 401 invalid_token. */
  reject: Set<string>;
}

/** A downstream API that echoes who called it; tokens in `reject` get 401 invalid_token. */
export async function startDownstream(): Promise<Downstream> {
  const seen: string[] = [];
  const bodies: string[] = [];
  const reject = new Set<string>();
  const app = express();
  app.use(express.text({ type: '*/*' }));
  app.all('/{*any}', (req, res) => {
    const auth = req.headers.authorization ?? '';
    seen.push(auth);
    bodies.push(typeof req.body === 'string' ? req.body : '');
    if (reject.has(auth.replace(/^Bearer /, ''))) {
      res.status(401).set('WWW-Authenticate', 'Bearer realm="api", error="invalid_token"').json({ error: 'invalid_token' });
      return;
    }
    res.json({ ok: true, auth });
  });
  const l = await listen(createServer(app));
  return { ...l, seen, bodies, reject };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` every 5 ms; fails after `ms` so a broken expectation does not hang the suite. */
export async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(5);
  }
}
