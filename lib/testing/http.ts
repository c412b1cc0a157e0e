import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Largest request body the mock endpoints read; a token request is a few hundred bytes. */
export const MAX_BODY_BYTES = 64 * 1024;

export interface LocalServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** Stops listening and ends every connection, keep-alive ones included; safe to call twice. */
  close(): Promise<void>;
}

/**
 * Listens on 127.0.0.1 only (test secrets and signing keys never reach the network), on a free port.
 * The server and its connections are unref'd: a test that forgets `close()` still lets its runner's
 * process exit instead of hanging on a listening socket.
 */
export async function listenLocal(handler: RequestListener): Promise<LocalServer> {
  const server: Server = createServer(handler);
  server.on('connection', (socket) => socket.unref());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.unref();
  const { port } = server.address() as AddressInfo;
  let closed: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      (closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Without this, close() waits for idle keep-alive sockets (undici's pool holds them):
        // the "worker failed to exit gracefully" of jest.
        server.closeAllConnections();
      })),
  };
}

/** The body as text, or undefined (after answering 413) when it is larger than MAX_BODY_BYTES. */
export function readBody(req: IncomingMessage, res: ServerResponse): Promise<string | undefined> {
  if (Number(req.headers['content-length']) > MAX_BODY_BYTES) return Promise.resolve(tooLarge(req, res));
  // Events rather than for-await: leaving an async iterator early destroys the socket, and the
  // 413 answer with it.
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
      else {
        req.off('data', onData);
        resolve(tooLarge(req, res));
      }
    };
    req.on('data', onData);
    req.on('end', () => resolve(size <= MAX_BODY_BYTES ? Buffer.concat(chunks).toString('utf8') : undefined));
    req.on('error', () => resolve(undefined));
  });
}

function tooLarge(req: IncomingMessage, res: ServerResponse): undefined {
  // The rest of the body is drained, not kept; the connection goes with the answer.
  sendJson(res, 413, { error: 'invalid_request', error_description: `The request body is larger than ${MAX_BODY_BYTES} bytes` }, { connection: 'close' });
  req.resume();
  return undefined;
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers }).end(JSON.stringify(body));
}
