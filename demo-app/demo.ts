import { createServer, type RequestListener, type Server } from 'node:http';
import { ConfigError } from '../lib/index.js';
import { createApi } from './api.js';
import { loadConfig, type DemoConfig } from './config.js';
import { DemoConfigError, type Env } from './env.js';
import { createInventory } from './inventory.js';
import { listen as listenOnLoopback, type Listening } from '../fixtures/listen.js';
import { startMockIdp, type MockIdp } from '../fixtures/mock-idp/index.js';

/** The customer tenant's seeded client (fixtures/mock-idp/clients.ts, CUSTOMER_CLIENTS). */
const CUSTOMER_WEB_CLIENT = { clientId: 'shop-web', clientSecret: 'shop-secret' };
import type { Log } from './request-log.js';
import type { ApiSettings, IdpConnection } from './settings.js';

export interface StartDemoOptions {
  /** Environment to read (default `process.env`). Tests pass `{ DEMO_API_PORT: '0', ... }` for random ports. */
  env?: Env;
  /** Already validated configuration; wins over `env`. */
  config?: DemoConfig;
  /** Default: `console.log`. */
  log?: Log;
}

export interface DemoHandle {
  /** The API and login page, e.g. http://127.0.0.1:3000 */
  apiUrl: string;
  inventoryUrl: string;
  /** The IdP's issuer: the mock's URL, or OAUTH_ISSUER. */
  issuer: string;
  /** Present when the built-in mock IdP runs (tests read bob's SMS code from it). */
  idp?: MockIdp;
  config: DemoConfig;
  settings: ApiSettings;
  close(): Promise<void>;
}

/** Always 127.0.0.1 (fixtures/listen.ts): a demo with demo passwords must not be reachable from the network. */
async function listen(server: Server, port: number, variable: string): Promise<Listening> {
  return listenOnLoopback(server, { port }).catch((err: NodeJS.ErrnoException) => {
    throw err.code === 'EADDRINUSE' ? new DemoConfigError(variable, `port ${port} is already in use; choose another or use 0 for any free port`) : err;
  });
}

/**
 * The package's own ConfigErrors name options (`issuer`, `allowedOrigins` …); the person running the
 * demo sets environment variables, so say which one.
 */
function explain(err: unknown): unknown {
  if (!(err instanceof ConfigError)) return err;
  const hints: [RegExp, string][] = [
    [/allowedOrigins/, 'DEMO_PUBLIC_ORIGINS'],
    [/jwksUri/, 'OAUTH_JWKS_URI'],
    [/tokenEndpoint/, 'OAUTH_TOKEN_ENDPOINT'],
    [/revocationEndpoint/, 'OAUTH_REVOCATION_ENDPOINT'],
    [/mfaChallengeEndpoint/, 'OAUTH_MFA_CHALLENGE_ENDPOINT'],
    [/createM2MClient.*scope/, 'M2M_SCOPE'],
    [/issuer/, 'OAUTH_ISSUER'],
  ];
  const variable = hints.find(([re]) => re.test(err.message))?.[1] ?? 'configuration';
  return new DemoConfigError(variable, err.message);
}

/** Starts the mock IdP (unless OAUTH_ISSUER is set), the inventory service (unless INVENTORY_URL is set) and the API. */
export async function startDemo(options: StartDemoOptions = {}): Promise<DemoHandle> {
  const config = options.config ?? loadConfig(options.env ?? process.env);
  const log = options.log ?? ((line: string) => console.log(line));
  const stack: (() => Promise<void>)[] = [];
  const close = async () => {
    // Reverse start order: the API stops taking requests before the services it calls go away.
    for (const stop of stack.splice(0).reverse()) await stop().catch(() => {});
  };

  try {
    let idp: MockIdp | undefined;
    if (config.idp.mock) {
      idp = await startMockIdp({ port: config.ports.idp, logger: (line) => log(`[idp] ${line}`) }).catch((err: NodeJS.ErrnoException) => {
        throw err.code === 'EADDRINUSE' ? new DemoConfigError('DEMO_IDP_PORT', `port ${config.ports.idp} is already in use`) : err;
      });
      stack.push(() => idp!.close());
    }
    const { mock: _mock, issuer: configured, ...rest } = config.idp;
    const connection: IdpConnection = { ...rest, issuer: idp?.issuer ?? configured! };

    // Listen before building the API: the cookie's allowed origin is the API's own URL, known only now.
    const apiServer = createServer();
    const api = await listen(apiServer, config.ports.api, 'DEMO_API_PORT');
    stack.push(api.close);
    const apiPort = new URL(api.url).port;

    let inventoryUrl = config.inventory.url;
    if (inventoryUrl === undefined) {
      const app = createInventory({ idp: connection, audience: config.inventory.audience!, log });
      const inventory = await listen(createServer(app), config.ports.inventory, 'DEMO_INVENTORY_PORT');
      stack.push(inventory.close);
      inventoryUrl = inventory.url;
    }

    const settings: ApiSettings = {
      idp: connection,
      // The mock's second tenant: customers sign in there (CIAM profile: form body, no MFA).
      ...(idp
        ? { customers: { idp: { issuer: idp.customers.issuer, profile: 'ciam' as const, allowInsecureHttp: false }, web: CUSTOMER_WEB_CLIENT } }
        : {}),
      web: config.web,
      m2m: config.m2m,
      inventoryUrl,
      publicOrigins: config.publicOrigins ?? [api.url, `http://localhost:${apiPort}`],
      log,
    };
    apiServer.on('request', createApi(settings) as RequestListener);
    return { apiUrl: api.url, inventoryUrl, issuer: connection.issuer, idp, config, settings, close };
  } catch (err) {
    await close();
    throw explain(err);
  }
}
