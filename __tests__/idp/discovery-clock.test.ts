/** discover(): the back-off after a failed discovery runs on lib/clock.ts, so a test moves past it without sleeping. */
import { createServer } from 'node:http';
import { clearDiscoveryCache, discover } from '../../lib/idp/discovery.js';
import { listen, type Listening } from '../../fixtures/listen.js';
import { useTestClock } from '../support/clock.js';

const clock = useTestClock();
let server: Listening;
let requests = 0;
let up = false;

beforeAll(async () => {
  server = await listen(
    createServer((_req, res) => {
      requests++;
      if (!up) {
        res.writeHead(503).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ issuer: server.url, token_endpoint: `${server.url}/token` }));
    }),
  );
});
afterAll(() => server.close());

test('a failure is answered from memory for retryAfterMs of the clock, then discovery is tried again', async () => {
  clearDiscoveryCache();
  await expect(discover(server.url, { retryAfterMs: 5000 })).rejects.toThrow();
  const failed = requests; // one discovery (it may try more than one well-known path)
  expect(failed).toBeGreaterThan(0);
  up = true;
  // Inside the window: the remembered failure, no request.
  clock.advance(4000);
  await expect(discover(server.url, { retryAfterMs: 5000 })).rejects.toThrow();
  expect(requests).toBe(failed);
  // Past it (by the library's clock only: no real time has to pass).
  clock.advance(1001);
  await expect(discover(server.url, { retryAfterMs: 5000 })).resolves.toMatchObject({ token_endpoint: `${server.url}/token` });
  expect(requests).toBeGreaterThan(failed);
});
