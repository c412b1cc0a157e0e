/**
 * RFC 9728 protected-resource metadata: the document (what it says, where it is served, how it
 * answers odd requests), the resource_metadata attribute in every challenge of the guard, the
 * start-up checks of the option, and the MCP AuthInfo members of req.auth.
 */
import { createHash, randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import express from 'express';
import express4 from 'express4';
import request from 'supertest';
import { SignJWT, type JWTPayload } from 'jose';
import {
  ConfigError,
  createGuard,
  nodeAuth,
  oauthErrorHandler,
  protectedResourceMetadata,
  protectedResourceMetadataDocument,
  requireAuth,
  requireScopes,
  webAuth,
  wellKnownPath,
  type AuthResult,
  type RequireAuthOptions,
} from '../../lib/index.js';
import { listen } from '../../fixtures/listen.js';
import { dpopHolder } from '../support/dpop-holder.js';

const issuer = 'https://idp.example.com';
const secret = 'a-very-long-shared-secret-of-32-bytes-or-more!';
const key = new TextEncoder().encode(secret);
const ALL_ALGS = ['ES256', 'ES384', 'EdDSA', 'Ed25519', 'PS256', 'RS256'];

function sign(claims: JWTPayload, aud: string | string[] = 'https://api.example.com/mcp'): Promise<string> {
  return new SignJWT({ sub: 'user-1', scope: 'tools:call', ...claims })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuer(issuer)
    .setAudience(aud)
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(key);
}

function app(options: Partial<RequireAuthOptions> = {}) {
  const auth = requireAuth({ issuer, audience: 'https://api.example.com/mcp', secret, logger: false, resourceMetadata: {}, ...options } as RequireAuthOptions);
  const a = express();
  a.use(protectedResourceMetadata(auth));
  a.all('/mcp', auth, requireScopes('tools:call'), (req, res) => res.json(req.auth));
  a.use(oauthErrorHandler());
  return a;
}

const METADATA = 'https://api.example.com/.well-known/oauth-protected-resource/mcp';

describe('the document', () => {
  test('defaults: the audience as resource, the issuer as authorization server, what the guard accepts', async () => {
    const res = await request(app()).get('/.well-known/oauth-protected-resource/mcp');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.headers['access-control-allow-origin']).toBe('*');
    expect(res.headers['cache-control']).toBe('public, max-age=3600');
    expect(res.body).toEqual({
      resource: 'https://api.example.com/mcp',
      authorization_servers: [issuer],
      bearer_methods_supported: ['header'],
      dpop_signing_alg_values_supported: ALL_ALGS,
      dpop_bound_access_tokens_required: false,
    });
  });

  test.each([
    ['https://api.example.com', '/.well-known/oauth-protected-resource'],
    ['https://api.example.com/', '/.well-known/oauth-protected-resource'],
    ['https://api.example.com/mcp', '/.well-known/oauth-protected-resource/mcp'],
    ['https://api.example.com/v1/mcp/', '/.well-known/oauth-protected-resource/v1/mcp/'],
    ['http://127.0.0.1:8080/mcp', '/.well-known/oauth-protected-resource/mcp'],
  ])('resource %s: served at %s, `resource` byte for byte as configured (RFC 9728 §3.1, §3.3)', async (resource, path) => {
    expect(wellKnownPath(resource)).toBe(path);
    const a = app({ audience: resource });
    const res = await request(a).get(path);
    expect(res.status).toBe(200);
    expect(res.body.resource).toBe(resource);
    const guard = createGuard({ issuer, audience: resource, secret, resourceMetadata: {} });
    expect(protectedResourceMetadataDocument(guard).url).toBe(new URL(resource).origin + path);
  });

  test('every member given: scopes, name, documentation, authorization servers; cookie and getToken are no RFC 6750 method', async () => {
    const a = app({
      tokenLocations: ['body', 'query'],
      tokenCookie: 'at',
      getToken: () => undefined,
      dpop: { mode: 'disabled' },
      resourceMetadata: {
        resource: 'https://api.example.com/mcp',
        authorizationServers: ['https://login.example.com', 'https://login.example.com/tenant-2'],
        scopesSupported: ['tools:call', 'files:read'],
        resourceName: 'Example MCP',
        resourceDocumentation: 'https://docs.example.com/mcp#auth',
      },
    });
    const res = await request(a).get('/.well-known/oauth-protected-resource/mcp');
    expect(res.body).toEqual({
      resource: 'https://api.example.com/mcp',
      authorization_servers: ['https://login.example.com', 'https://login.example.com/tenant-2'],
      bearer_methods_supported: ['header', 'body', 'query'],
      scopes_supported: ['tools:call', 'files:read'],
      resource_name: 'Example MCP',
      resource_documentation: 'https://docs.example.com/mcp#auth',
      dpop_bound_access_tokens_required: false,
    });
  });

  test('HEAD: the same headers, no body; OPTIONS: a CORS preflight; POST and others: 405 with Allow', async () => {
    const a = app();
    const get = await request(a).get('/.well-known/oauth-protected-resource/mcp');
    const head = await request(a).head('/.well-known/oauth-protected-resource/mcp');
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe(get.headers['content-length']);
    expect(head.text).toBeUndefined();
    const preflight = await request(a).options('/.well-known/oauth-protected-resource/mcp').set('Origin', 'https://app.example').set('Access-Control-Request-Headers', 'mcp-protocol-version');
    expect(preflight.status).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe('*');
    expect(preflight.headers['access-control-allow-headers']).toBe('*');
    for (const method of ['post', 'put', 'delete', 'patch'] as const) {
      const res = await request(a)[method]('/.well-known/oauth-protected-resource/mcp').send('x=1');
      expect(res.status).toBe(405);
      expect(res.headers.allow).toBe('GET, HEAD, OPTIONS');
      expect(res.body.error).toBe('invalid_request');
    }
  });

  test('hostile and odd paths go on to the next handler, never a 500; a query is ignored', async () => {
    const a = app();
    expect((await request(a).get('/.well-known/oauth-protected-resource/mcp?x=%00&y=1')).status).toBe(200);
    const server = await listen(a);
    try {
      const paths = [
        '/.well-known/oauth-protected-resource',
        '/.well-known/oauth-protected-resource/',
        '/.well-known/oauth-protected-resource/MCP',
        '/.well-known/oauth-protected-resource/mcp/',
        '/.well-known/oauth-protected-resource/mcp%2F',
        '/.well-known/oauth-protected-resource/mcp%00',
        '/.well-known/oauth-protected-resource//mcp',
        '/.well-known/oauth-protected-resource/./mcp',
        '/.well-known/oauth-protected-resource/../oauth-protected-resource/mcp',
        '/.well-known/oauth-protected-resource/mcp' + '/x'.repeat(3_000),
        '/.well-known/oauth-protected-resource/%E0%A4%A',
        '*',
      ];
      for (const path of paths) {
        const status = await new Promise<number>((resolve, reject) => {
          httpRequest(`${server.url}${path === '*' ? '' : path}`, { method: 'GET', path }, (res) => {
            res.resume();
            resolve(res.statusCode!);
          })
            .on('error', reject)
            .end();
        });
        expect([path.slice(0, 60), status]).toEqual([path.slice(0, 60), 404]);
      }
    } finally {
      await server.close();
    }
  });

  test('the body is computed once: the same bytes on every request, and the document object is frozen', async () => {
    const guard = createGuard({ issuer, audience: 'https://api.example.com/mcp', secret, resourceMetadata: { scopesSupported: ['a'] } });
    const m = protectedResourceMetadataDocument(guard);
    expect(Object.isFrozen(m.document)).toBe(true);
    expect(Object.isFrozen(m.document.scopes_supported)).toBe(true);
    expect(protectedResourceMetadataDocument(guard)).toBe(m);
    expect(m.headers['Content-Length']).toBe(String(Buffer.byteLength(m.body)));
  });

  test('certificate-bound tokens (RFC 8705) are promised only where the guard can always read the certificate', () => {
    const doc = (mtls?: unknown) =>
      protectedResourceMetadataDocument(createGuard({ issuer, audience: 'https://api.example.com/mcp', secret, resourceMetadata: {}, ...(mtls ? { mtls } : {}) } as never)).document;
    // 'allowed' on its own depends on the server asking for certificates, which the guard cannot see.
    expect(doc()).not.toHaveProperty('tls_client_certificate_bound_access_tokens');
    expect(doc({ mode: 'disabled' })).not.toHaveProperty('tls_client_certificate_bound_access_tokens');
    expect(doc({ mode: 'required' }).tls_client_certificate_bound_access_tokens).toBe(true);
    expect(doc({ certificateHeader: { name: 'client-cert', format: 'rfc9440' } }).tls_client_certificate_bound_access_tokens).toBe(true);
  });
});

test('on Express 4 too', async () => {
  const a = express4();
  a.use(protectedResourceMetadata(requireAuth({ issuer, audience: 'https://api.example.com/mcp', secret, resourceMetadata: {} })));
  const res = await request(a).get('/.well-known/oauth-protected-resource/mcp');
  expect(res.status).toBe(200);
  expect(res.body.resource).toBe('https://api.example.com/mcp');
  expect((await request(a).post('/.well-known/oauth-protected-resource/mcp')).status).toBe(405);
  expect((await request(a).get('/.well-known/oauth-protected-resource/other')).status).toBe(404);
});

describe('challenges name the document (RFC 9728 §5.1)', () => {
  test('no token: every scheme the guard accepts, each with resource_metadata', async () => {
    const res = await request(app()).get('/mcp');
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe(`Bearer realm="api", resource_metadata="${METADATA}", DPoP realm="api", algs="${ALL_ALGS.join(' ')}", resource_metadata="${METADATA}"`);
  });

  test('a malformed request (400) and a bad token (401) too', async () => {
    const a = app();
    const malformed = await request(a).get('/mcp').set('Authorization', 'Bearer a b');
    expect(malformed.status).toBe(400);
    expect(malformed.headers['www-authenticate']).toMatch(new RegExp(`^Bearer realm="api", error="invalid_request", error_description=".+", resource_metadata="${METADATA}"$`));
    const expired = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setIssuer(issuer).setAudience('https://api.example.com/mcp').setExpirationTime(1).sign(key);
    const bad = await request(a).get('/mcp').set('Authorization', `Bearer ${expired}`);
    expect(bad.status).toBe(401);
    expect(bad.headers['www-authenticate']).toBe(`Bearer realm="api", error="invalid_token", error_description="The access token expired", resource_metadata="${METADATA}"`);
  });

  test('403 insufficient_scope after the guard: the scope needed and resource_metadata', async () => {
    const res = await request(app()).get('/mcp').set('Authorization', `Bearer ${await sign({ scope: 'other' })}`);
    expect(res.status).toBe(403);
    expect(res.headers['www-authenticate']).toBe(
      `Bearer realm="api", error="insufficient_scope", error_description="The token lacks the scope tools:call", scope="tools:call", resource_metadata="${METADATA}"`,
    );
  });

  test('without the option, challenges are as before', async () => {
    const a = express();
    a.get('/mcp', requireAuth({ issuer, audience: 'https://api.example.com/mcp', secret, logger: false, dpop: { mode: 'disabled' } }), (_q, r) => r.end());
    a.use(oauthErrorHandler());
    expect((await request(a).get('/mcp')).headers['www-authenticate']).toBe('Bearer realm="api"');
  });

  describe("dpop.mode 'required': advertised and enforced", () => {
    const a = app({ dpop: { mode: 'required' }, tokenLocations: ['query'] });

    test('the document says so, and lists only the header (DPoP tokens come nowhere else)', async () => {
      const res = await request(a).get('/.well-known/oauth-protected-resource/mcp');
      expect(res.body.dpop_bound_access_tokens_required).toBe(true);
      expect(res.body.bearer_methods_supported).toEqual(['header']);
      expect(res.body.dpop_signing_alg_values_supported).toEqual(ALL_ALGS);
    });

    test('no token: a DPoP challenge only; a Bearer token: refused with a DPoP challenge; both with resource_metadata', async () => {
      expect((await request(a).get('/mcp')).headers['www-authenticate']).toBe(`DPoP realm="api", algs="${ALL_ALGS.join(' ')}", resource_metadata="${METADATA}"`);
      const bearer = await request(a).get('/mcp').set('Authorization', `Bearer ${await sign({})}`);
      expect(bearer.status).toBe(401);
      expect(bearer.headers['www-authenticate']).toMatch(new RegExp(`^DPoP realm="api", error="invalid_token", error_description="[^"]+", algs="[^"]+", resource_metadata="${METADATA}"$`));
    });

    test('a bound token with a valid proof passes; a bad proof is challenged with resource_metadata', async () => {
      const holder = await dpopHolder();
      const token = await sign({ cnf: { jkt: holder.jkt } });
      const proof = (htu: string) =>
        new SignJWT({ htm: 'GET', htu, ath: createHash('sha256').update(token).digest('base64url'), jti: randomUUID() })
          .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: holder.jwk } as never)
          .setIssuedAt()
          .sign(holder.privateKey);
      const ok = await request(a).get('/mcp').set('Host', 'api.example.com').set('Authorization', `DPoP ${token}`).set('DPoP', await proof('http://api.example.com/mcp'));
      expect(ok.status).toBe(200);
      expect(ok.body.dpop).toEqual({ jkt: holder.jkt });
      const wrong = await request(a).get('/mcp').set('Host', 'api.example.com').set('Authorization', `DPoP ${token}`).set('DPoP', await proof('http://elsewhere.example/mcp'));
      expect(wrong.status).toBe(401);
      expect(wrong.headers['www-authenticate']).toMatch(new RegExp(`^DPoP realm="api", error="invalid_dpop_proof", .*resource_metadata="${METADATA}"$`));
    });

    test('a server nonce demanded (use_dpop_nonce): the challenge names the document too', async () => {
      const holder = await dpopHolder();
      const token = await sign({ cnf: { jkt: holder.jkt } });
      const withNonce = app({ dpop: { mode: 'required', nonce: { secret: 'n'.repeat(32) } } });
      const proof = await new SignJWT({ htm: 'GET', htu: 'http://api.example.com/mcp', ath: createHash('sha256').update(token).digest('base64url'), jti: randomUUID() })
        .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: holder.jwk } as never)
        .setIssuedAt()
        .sign(holder.privateKey);
      const res = await request(withNonce).get('/mcp').set('Host', 'api.example.com').set('Authorization', `DPoP ${token}`).set('DPoP', proof);
      expect(res.status).toBe(401);
      expect(res.headers['dpop-nonce']).toBeDefined();
      expect(res.headers['www-authenticate']).toMatch(new RegExp(`^DPoP realm="api", error="use_dpop_nonce", .*resource_metadata="${METADATA}"$`));
    });
  });
});

describe('configuration mistakes are ConfigErrors at start-up', () => {
  const guard = (over: Record<string, unknown>, rm: unknown = {}) => () => createGuard({ issuer, audience: 'https://api.example.com/mcp', secret, ...over, resourceMetadata: rm } as never);
  const refused = (make: () => unknown, message: RegExp, code = 'config_resource_metadata') => {
    let caught: unknown;
    try {
      make();
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).code).toBe(code);
    expect((caught as ConfigError).message).toMatch(message);
  };

  test('resource cannot default', () => {
    refused(guard({ audience: ['https://a.example.com', 'https://b.example.com'] }), /resource is required when the guard accepts several audiences \(2\)/);
    refused(guard({ audience: 'api://default' }), /resource defaults to the audience, which is not an https URL/);
    refused(guard({ audience: 'http://api.example.com/mcp' }), /resource defaults to the audience, which is not an https URL/);
    const resolver = () => createGuard({ issuers: () => undefined, resourceMetadata: {} });
    refused(resolver, /resource is required with an issuers resolver/);
    refused(() => createGuard({ issuers: () => undefined, resourceMetadata: { resource: 'https://api.example.com/mcp' } }), /authorizationServers is required with an issuers resolver/);
    expect(() => createGuard({ issuers: () => undefined, resourceMetadata: { resource: 'https://api.example.com/mcp', authorizationServers: [issuer] } })).not.toThrow();
  });

  test('bad values', () => {
    refused(guard({}, { resource: 'https://api.example.com/mcp#x' }), /resource must not have a fragment/);
    refused(guard({}, { resource: 'https://api.example.com/mcp#' }), /resource must not have a fragment/);
    refused(guard({}, { resource: 'https://api.example.com/mcp?tenant=1' }), /resource must not have a query/);
    refused(guard({}, { resource: 'http://api.example.com/mcp' }), /resource must use https/);
    refused(guard({}, { resource: 'mcp' }), /resource is not a valid URL/);
    refused(guard({}, { authorizationServers: [] }), /authorizationServers must be a non-empty array/);
    refused(guard({}, { authorizationServers: ['ftp://idp.example.com'] }), /authorizationServers\[0\] must use https/);
    refused(guard({}, { authorizationServers: ['https://idp.example.com?x=1'] }), /authorizationServers\[0\] must not have a query/);
    refused(guard({ issuer: 'my-idp' }), /authorizationServers defaults to the issuers, and "my-idp" is not an https URL/);
    refused(guard({}, { scopesSupported: ['tools call'] }), /scopesSupported must be an array of scope names/);
    refused(guard({}, { scopesSupported: 'tools:call' }), /scopesSupported must be an array/);
    refused(guard({}, { resourceName: '' }), /resourceName must be a non-empty string/);
    refused(guard({}, { resourceDocumentation: 'javascript:alert(1)' }), /resourceDocumentation must use https/);
    refused(guard({}, 'https://api.example.com/mcp'), /resourceMetadata must be an object/);
    refused(guard({}, { scopes: ['a'] }), /unknown option "resourceMetadata\.scopes"; did you mean resourceMetadata\.scopesSupported\?/, 'config_options');
    // http on a loopback host is the package's usual exception (tests, a local MCP server).
    expect(guard({ audience: 'http://localhost:3000/mcp' }, {})).not.toThrow();
  });

  test('a resource that is none of the audiences: allowed (an IdP may map it), warned about once at start-up', () => {
    const warnings: string[] = [];
    const logger = { warn: (line: string) => warnings.push(line), error: () => {} };
    createGuard({ issuer, audience: 'https://api.example.com/mcp', secret, logger, resourceMetadata: { resource: 'https://api.example.com/other' } });
    expect(warnings).toEqual([expect.stringContaining('resourceMetadata.resource "https://api.example.com/other" is none of the configured audiences')]);
    createGuard({ issuer, audience: ['https://a.example.com', 'https://api.example.com/mcp'], secret, logger, resourceMetadata: { resource: 'https://api.example.com/mcp' } });
    expect(warnings).toHaveLength(1);
  });

  test('protectedResourceMetadata() given something else, or a guard without the option', () => {
    refused(() => protectedResourceMetadata({} as never), /takes what requireAuth\(\) or createGuard\(\) returned/);
    refused(() => protectedResourceMetadata(undefined as never), /takes what requireAuth\(\) or createGuard\(\) returned/);
    refused(() => protectedResourceMetadata(requireAuth({ issuer, audience: 'https://api.example.com', secret })), /this guard has no resourceMetadata option/);
    refused(() => protectedResourceMetadataDocument(createGuard({ issuer, audience: 'https://api.example.com', secret })), /this guard has no resourceMetadata option/);
    expect(() => protectedResourceMetadata(createGuard({ issuer, audience: 'https://api.example.com', secret, resourceMetadata: {} }))).not.toThrow();
  });
});

describe('req.auth is an MCP AuthInfo', () => {
  const verify = async (claims: JWTPayload, aud?: string | string[], audience: string | string[] = 'https://api.example.com/mcp'): Promise<AuthResult> => {
    const a = express();
    let seen: AuthResult | undefined;
    a.get('/x', requireAuth({ issuer, audience, secret, logger: false }), (req, res) => {
      seen = req.auth;
      res.end();
    });
    expect((await request(a).get('/x').set('Authorization', `Bearer ${await sign(claims, aud)}`)).status).toBe(200);
    return seen!;
  };

  test('clientId from client_id, else azp, else an empty string; expiresAt is exp; extra has issuer, sub, payload', async () => {
    const withClient = await verify({ client_id: 'c1', azp: 'other' });
    expect(withClient.clientId).toBe('c1');
    expect(withClient.expiresAt).toBe(withClient.payload.exp);
    expect(withClient.extra).toEqual({ issuer, sub: 'user-1', payload: withClient.payload });
    // Exactly those: the guard's challenge context sits on the prototype (neither own nor
    // enumerable), so nothing else shows to code that copies, serializes or lists it.
    expect(Reflect.ownKeys(withClient.extra)).toEqual(['issuer', 'sub', 'payload']);
    expect(JSON.parse(JSON.stringify(withClient.extra))).toEqual({ issuer, sub: 'user-1', payload: withClient.payload });
    expect(Object.isFrozen(withClient.extra)).toBe(true);
    expect((await verify({ azp: 'spa' })).clientId).toBe('spa');
    expect((await verify({})).clientId).toBe('');
  });

  test('resource: the configured URL audience the token matched; none for a non-URL audience', async () => {
    const matched = await verify({}, ['https://other.example', 'https://api.example.com/b'], ['https://api.example.com/a', 'https://api.example.com/b']);
    expect(matched.resource).toBeInstanceOf(URL);
    expect(matched.resource!.href).toBe('https://api.example.com/b');
    expect((await verify({}, 'api', 'api')).resource).toBeUndefined();
  });

  test('scopes is a string[] for the type, frozen at run time: one request cannot change what the next sees', async () => {
    const { scopes } = await verify({ scope: 'a b' });
    expect(scopes).toEqual(['a', 'b']);
    expect(() => scopes.push('admin')).toThrow(TypeError);
  });

  test('nodeAuth and webAuth return the same members', async () => {
    const guard = createGuard({ issuer, audience: 'https://api.example.com/mcp', secret, resourceMetadata: {} });
    const token = await sign({ client_id: 'c1' });
    const fromWeb = await webAuth(guard as never)(new Request('https://api.example.com/mcp', { headers: { authorization: `Bearer ${token}` } }));
    expect(fromWeb).toMatchObject({ clientId: 'c1', scopes: ['tools:call'], resource: new URL('https://api.example.com/mcp') });
    const refused = await webAuth(guard as never)(new Request('https://api.example.com/mcp'));
    expect((refused as Response).headers.get('www-authenticate')).toContain(`resource_metadata="${METADATA}"`);
    // node:http, serving the document with the framework-free helper.
    const metadata = protectedResourceMetadataDocument(guard);
    const auth = nodeAuth(guard as never);
    const server = await listen(async (req, res) => {
      if (req.url === metadata.path) return void res.writeHead(200, metadata.headers).end(metadata.body);
      const user = await auth(req, res);
      if (user) res.end(user.clientId);
    });
    try {
      expect(await (await fetch(`${server.url}${metadata.path}`)).json()).toEqual(metadata.document);
      expect(await (await fetch(`${server.url}/mcp`, { headers: { authorization: `Bearer ${token}` } })).text()).toBe('c1');
    } finally {
      await server.close();
    }
  });
});
