/** Real HTTP servers on 127.0.0.1 for tests, closed together (keep-alive sockets included). */
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export class ServerPool {
  readonly #servers: Server[] = [];

  /** Listens on a free loopback port and returns the base URL. */
  async serve(handler?: RequestListener): Promise<string> {
    const server = createServer(handler);
    this.#servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  async closeAll(): Promise<void> {
    await Promise.all(
      this.#servers.splice(0).map(
        (s) =>
          new Promise<void>((resolve) => {
            s.closeAllConnections();
            s.close(() => resolve());
          }),
      ),
    );
  }
}
