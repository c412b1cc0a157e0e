import type { Request } from 'express';
import { InvalidRequestError } from '../errors/oauth-error.js';
import { RequestTooLargeError } from '../errors/request-errors.js';
import { KNOWN_PARAMS, type GrantSpec } from './grants.js';
import { bodyFormat } from './media-type.js';

/** Every value each parameter was given, so a repeated parameter can be refused by name. */
export type Params = ReadonlyMap<string, readonly string[]>;

export interface ReadParamsOptions {
  allowQuery: boolean;
  bodyLimit: number;
}

/**
 * Parameters read by `proxyRequestParser()`, by request. A proxy uses them as they are, so a rate
 * limiter between the two (which reads them through `proxyGuess()`) sees exactly what the proxy
 * forwards. A WeakMap rather than a request property: nothing the caller sends can forge it.
 */
const PARSED = new WeakMap<Request, Params>();

export function rememberParams(req: Request, params: Params): void {
  PARSED.set(req, params);
}

export function parsedParams(req: Request): Params | undefined {
  return PARSED.get(req);
}

/** Whether the request carries a body at all (body-parser's rule: a length or a transfer coding). */
function hasBody(req: Request): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && Number(length) !== 0);
}

function add(out: Map<string, string[]>, key: string, value: string): void {
  const list = out.get(key);
  if (list) list.push(value);
  else out.set(key, [value]);
}

/**
 * Values from an already-parsed body (express.json(), express.urlencoded(), or our own JSON.parse).
 * Arrays are what body parsers make of a repeated form field, so they become repeated values;
 * nested objects (qs "extended" syntax, JSON objects) are never valid OAuth parameters.
 */
function addParsed(out: Map<string, string[]>, body: unknown): void {
  if (body === undefined || body === null) return;
  if (typeof body !== 'object' || Array.isArray(body)) throw new InvalidRequestError('The request body must be an object of parameters');
  for (const [key, raw] of Object.entries(body as Record<string, unknown>)) {
    for (const v of Array.isArray(raw) ? raw : [raw]) {
      if (v === undefined || v === null) continue;
      if (typeof v === 'string') add(out, key, v);
      // A front end sending binding_code as a JSON number is common and harmless.
      else if ((typeof v === 'number' && Number.isFinite(v)) || typeof v === 'boolean') add(out, key, String(v));
      else throw new InvalidRequestError(`Parameter ${key.slice(0, 64)} must be a string`);
    }
  }
}

const tooLarge = (limit: number): RequestTooLargeError => new RequestTooLargeError(`The request body is larger than ${limit} bytes`);

function readRaw(req: Request, limit: number): Promise<string> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(tooLarge(limit));
  const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
  if (encoding !== 'identity') return Promise.reject(new InvalidRequestError('Compressed request bodies are not accepted'));
  // Plain stream events: an async iterator per request costs measurably more on this hot path.
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (err?: Error): void => {
      req.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
      if (err) return reject(err);
      try {
        resolve(new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks)));
      } catch {
        reject(new InvalidRequestError('The request body is not valid UTF-8'));
      }
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) done(tooLarge(limit));
      else chunks.push(chunk);
    };
    const onEnd = (): void => done();
    const onError = (): void => done(new InvalidRequestError('The request body could not be read'));
    const onClose = (): void => {
      if (!req.complete) onError();
    };
    req.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose);
  });
}

/** body-parser's own test (on-finished): a stream that has been read to its end cannot be read again. */
function alreadyConsumed(req: Request): boolean {
  return req.readableEnded || (req.complete && !req.readable);
}

async function addBody(out: Map<string, string[]>, req: Request, limit: number): Promise<void> {
  const parsed: unknown = (req as { body?: unknown }).body;
  const parsedHasKeys = parsed !== null && typeof parsed === 'object' && Object.keys(parsed).length > 0;
  // Express 4's body-parser leaves `{}` on requests it did not parse; only a consumed stream or a
  // non-empty body means someone else already did the parsing. What an app-level parser made of
  // a body is used only when the body's type is one this proxy would have read itself: a parser
  // configured for `+json` or text must not open a path that a limiter reading only JSON and
  // forms cannot see.
  if (alreadyConsumed(req) || parsedHasKeys) {
    if (parsedHasKeys) bodyFormat(req.headers['content-type']);
    addParsed(out, parsed);
    return;
  }
  if (!hasBody(req)) return;
  // Before reading: a body of the wrong type is refused unread.
  const format = bodyFormat(req.headers['content-type']);
  const text = await readRaw(req, limit);
  if (text === '') return;
  if (format === 'form') {
    for (const [k, v] of new URLSearchParams(text)) add(out, k, v);
  } else {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new InvalidRequestError('The request body is not valid JSON');
    }
    addParsed(out, value);
  }
}

/**
 * Reads a proxy request's parameters. The body is parsed here (so no app-level parser is needed)
 * unless the app already did it. The query string is read only when `allowQuery` is on.
 */
export async function readParams(req: Request, options: ReadParamsOptions): Promise<Params> {
  const remembered = PARSED.get(req);
  if (remembered) return remembered;
  const out = new Map<string, string[]>();
  const url = req.originalUrl ?? req.url ?? '';
  const q = url.indexOf('?');
  if (q >= 0) {
    const query = new URLSearchParams(url.slice(q + 1));
    if (options.allowQuery) {
      for (const [k, v] of query) add(out, k, v);
    } else {
      const named = [...query.keys()].find((k) => KNOWN_PARAMS.has(k));
      if (named !== undefined) {
        throw new InvalidRequestError(`Send ${named} in the request body: the query string is not read, because URLs end up in logs`);
      }
    }
  }
  await addBody(out, req, options.bodyLimit);
  return out;
}

/**
 * One parameter's value. Repeated → invalid_request naming it (RFC 6749 §3.2); empty counts as
 * absent (RFC 6749 §3.1).
 */
export function single(params: Params, name: string): string | undefined {
  const values = params.get(name);
  if (!values) return undefined;
  if (values.length > 1) throw new InvalidRequestError(`Parameter ${name} was sent more than once`);
  return values[0] === '' ? undefined : values[0];
}


/** Builds a fresh parameter set from an allow-list; everything else the caller sent is dropped. */
export function copyAllowed(params: Params, spec: GrantSpec): URLSearchParams {
  const out = new URLSearchParams();
  for (const name of spec.required) {
    const value = single(params, name);
    if (value === undefined) throw new InvalidRequestError(`Missing required parameter: ${name}`);
    out.set(name, value);
  }
  for (const name of spec.optional) {
    const value = single(params, name);
    if (value !== undefined) out.set(name, value);
  }
  return out;
}
