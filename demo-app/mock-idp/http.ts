import type { Request, Response } from 'express';

export const BODY_LIMIT = 64 * 1024;

/** An RFC 6749 §5.2 style error answer. */
export class OAuthError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly description?: string,
    readonly headers: Record<string, string> = {},
    /** Extra members of the error body, e.g. `mfa_token` next to `mfa_required`. */
    readonly extra: Record<string, string> = {},
  ) {
    super(description ?? error);
  }
}

export const missing = (name: string): OAuthError =>
  new OAuthError(400, 'invalid_request', `missing required parameter: ${name}`);

export function sendJson(res: Response, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.status(status);
  res.set({ 'Cache-Control': 'no-store', Pragma: 'no-cache', ...headers });
  res.json(body);
}

export function sendError(res: Response, err: OAuthError): void {
  const body: Record<string, string> = { error: err.error };
  if (err.description) body.error_description = err.description;
  Object.assign(body, err.extra);
  sendJson(res, err.status, body, err.headers);
}

export type BodyKind = 'form' | 'json';

export interface ParsedRequest {
  query: Record<string, string>;
  body: Record<string, string>;
  /** Query and body merged; a parameter given twice anywhere is rejected (RFC 6749 §3.2). */
  params: Record<string, string>;
  /** Every value of a multi-valued parameter (RFC 8707 allows repeated `resource`). */
  multi: Record<string, string[]>;
}

const MULTI_VALUED = new Set(['resource']);

/**
 * Reads the body ourselves instead of using express.urlencoded(): we need the exact bytes the client
 * sent (duplicate detection, '+' semantics of application/x-www-form-urlencoded) and a hard size limit
 * that answers in OAuth error format rather than an HTML page.
 */
export async function readBody(req: Request, limit = BODY_LIMIT): Promise<string> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw new OAuthError(413, 'invalid_request', 'request body too large');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new OAuthError(413, 'invalid_request', 'request body too large');
    chunks.push(chunk);
  }
  const buf = Buffer.concat(chunks);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(buf);
  } catch {
    throw new OAuthError(400, 'invalid_request', 'request body is not valid UTF-8');
  }
}

function mediaType(req: Request): string {
  return (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}

function parseJsonObject(text: string): [string, string][] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new OAuthError(400, 'invalid_request', 'malformed JSON body');
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw new OAuthError(400, 'invalid_request', 'JSON body must be an object');
  }
  const out: [string, string][] = [];
  for (const [k, v] of Object.entries(value)) {
    if (typeof v === 'string') out.push([k, v]);
    else if (typeof v === 'number' || typeof v === 'boolean') out.push([k, String(v)]);
    else throw new OAuthError(400, 'invalid_request', `parameter ${k} must be a string`);
  }
  return out;
}

export async function parseRequest(
  req: Request,
  opts: { query: boolean; body: BodyKind[] },
): Promise<ParsedRequest> {
  const text = await readBody(req);
  const rawQuery = req.originalUrl.includes('?') ? req.originalUrl.slice(req.originalUrl.indexOf('?') + 1) : '';
  const queryPairs = [...new URLSearchParams(rawQuery)];
  let bodyPairs: [string, string][] = [];
  if (text.length > 0) {
    const type = mediaType(req);
    if (type === 'application/x-www-form-urlencoded' && opts.body.includes('form')) {
      bodyPairs = [...new URLSearchParams(text)];
    } else if (type === 'application/json' && opts.body.includes('json')) {
      bodyPairs = parseJsonObject(text);
    } else {
      const wanted = opts.body.map((k) => (k === 'form' ? 'application/x-www-form-urlencoded' : 'application/json'));
      throw new OAuthError(400, 'invalid_request', `unsupported Content-Type; use ${wanted.join(' or ')}`);
    }
  }
  const query = Object.fromEntries(queryPairs);
  const body = Object.fromEntries(bodyPairs);
  const params: Record<string, string> = {};
  const multi: Record<string, string[]> = {};
  for (const [k, v] of [...(opts.query ? queryPairs : []), ...bodyPairs]) {
    (multi[k] ??= []).push(v);
    if (k in params && !MULTI_VALUED.has(k)) {
      throw new OAuthError(400, 'invalid_request', `parameter ${k} included more than once`);
    }
    params[k] = v;
  }
  return { query, body, params, multi };
}

export function flattenHeaders(req: Request): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(req.headers)) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}
