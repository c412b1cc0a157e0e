import type { Request, Response } from 'express';
import type { IdpContext } from './context.js';
import { sendJson } from './http.js';
import type { FaultMode, MockFaults } from './types.js';

export const FAULT_MODES: FaultMode[] = ['none', 'slow', 'error500', 'reset', 'html', 'huge', 'status429', 'status503'];

const DEFAULT_DELAY_MS = 2000;
const HUGE_BYTES = 5 * 1024 * 1024;

let hugeBody: string | undefined;
/** Valid JSON shaped like a token answer, so only a size limit (not a parse error) can stop a client. */
function huge(): string {
  hugeBody ??= JSON.stringify({ access_token: 'A'.repeat(HUGE_BYTES), token_type: 'Bearer', expires_in: 3600 });
  return hugeBody;
}

const HTML_PAGE =
  '<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>' +
  '<body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>\n';

function delay(ctx: IdpContext, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      ctx.timers.delete(t);
      resolve();
    }, ms);
    ctx.timers.add(t);
  });
}

/** Consumes one use of a counted fault; mutates in place so a test holding the object sees the countdown. */
function take(f: MockFaults): FaultMode {
  const mode = f.mode;
  if (mode === 'none') return mode;
  if (f.count !== undefined) {
    if (f.count <= 0) {
      f.mode = 'none';
      f.count = undefined;
      return 'none';
    }
    f.count -= 1;
    if (f.count === 0) {
      f.mode = 'none';
      f.count = undefined;
    }
  }
  return mode;
}

/** Returns true when the fault has produced (or suppressed) the answer. 'slow' only delays. */
export async function applyFault(ctx: IdpContext, req: Request, res: Response): Promise<boolean> {
  const f = ctx.faults;
  const { delayMs, retryAfter } = f;
  const mode = take(f);
  switch (mode) {
    case 'none':
      return false;
    case 'slow':
      await delay(ctx, delayMs ?? DEFAULT_DELAY_MS);
      return res.destroyed || req.socket.destroyed;
    case 'reset':
      req.socket.destroy();
      return true;
    case 'error500':
      sendJson(res, 500, { error: 'server_error', error_description: 'injected fault: internal error' });
      return true;
    case 'html':
      res.status(502).type('text/html').send(HTML_PAGE);
      return true;
    case 'huge':
      res.status(200).set('Cache-Control', 'no-store').type('application/json').send(huge());
      return true;
    case 'status429':
    case 'status503': {
      const status = mode === 'status429' ? 429 : 503;
      sendJson(
        res,
        status,
        { error: 'temporarily_unavailable', error_description: status === 429 ? 'rate limited' : 'service unavailable' },
        { 'Retry-After': String(retryAfter ?? 1) },
      );
      return true;
    }
  }
}

/** Validates a `POST /__faults` body; returns an error message or the new fault settings. */
export function parseFaults(body: unknown): MockFaults | string {
  if (!body || typeof body !== 'object') return 'body must be a JSON object';
  const b = body as Record<string, unknown>;
  if (typeof b.mode !== 'string' || !FAULT_MODES.includes(b.mode as FaultMode)) {
    return `mode must be one of ${FAULT_MODES.join(', ')}`;
  }
  const out: MockFaults = { mode: b.mode as FaultMode };
  for (const k of ['delayMs', 'retryAfter', 'count'] as const) {
    if (b[k] === undefined || b[k] === null) continue;
    if (typeof b[k] !== 'number' || !Number.isInteger(b[k]) || (b[k] as number) < 0) return `${k} must be a non-negative integer`;
    out[k] = b[k] as number;
  }
  return out;
}
