/**
 * The architecture of lib/, checked by `npm run lint`: layers only point down, and no cycles.
 *
 *   index.ts, redis/, testing/  entry points (nothing inside lib imports them)
 *   adapters/                   the guard in front of a framework (express/, node/, web/)
 *   guard/  proxy/  m2m/        the three jobs: each may use the layers below, never each other
 *                               (guard/ knows no framework: no express import, no adapters/)
 *   bearer/  idp/               RFC 6750 on the wire; the one way to call an IdP
 *   jwt/ options/ log/ telemetry/ errors/ clock.ts   small shared pieces, which know no job
 */
const lower = '^lib/(errors|jwt|options|log|telemetry|clock\\.ts|hook-result\\.ts)';


/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A cycle means two modules are one; merge them or move what both need below them.',
      from: { path: '^lib/' },
      to: { circular: true },
    },
    {
      name: 'errors-stand-alone',
      severity: 'error',
      comment: 'Every layer throws; the error classes depend on nothing else in lib/ but the log-line sanitizer (oauthErrorHandler writes a line).',
      from: { path: '^lib/errors/' },
      to: { path: '^lib/', pathNot: '^lib/(errors/|log/|clock\\.ts$)' },
    },
    {
      name: 'shared-pieces-know-no-job',
      severity: 'error',
      comment: 'The small shared pieces sit below bearer/, idp/ and the jobs.',
      from: { path: lower },
      to: { path: '^lib/(bearer|idp|guard|proxy|m2m|redis|adapters)/|^lib/index\\.ts$' },
    },
    {
      name: 'protocol-layer-knows-no-job',
      severity: 'error',
      comment: 'bearer/ and idp/ serve the jobs, never the other way round.',
      from: { path: '^lib/(bearer|idp)/' },
      to: { path: '^lib/(guard|proxy|m2m|redis|adapters)/|^lib/index\\.ts$' },
    },
    {
      name: 'bearer-and-idp-apart',
      severity: 'error',
      comment: 'Token extraction on the resource side and calls to the IdP share nothing but the layers below.',
      from: { path: '^lib/bearer/' },
      to: { path: '^lib/idp/' },
    },
    {
      name: 'jobs-apart',
      severity: 'error',
      comment: 'guard/, proxy/ and m2m/ are separate jobs; what two need belongs in a lower layer.',
      from: { path: '^lib/(guard)/' },
      to: { path: '^lib/(proxy|m2m)/' },
    },
    {
      name: 'jobs-apart-proxy',
      severity: 'error',
      from: { path: '^lib/proxy/' },
      to: { path: '^lib/(guard|m2m)/' },
    },
    {
      name: 'jobs-apart-m2m',
      severity: 'error',
      from: { path: '^lib/m2m/' },
      to: { path: '^lib/(guard|proxy)/' },
    },
    // Inside m2m/, the flows point down too: client/ assembles them (only its public types.ts is
    // read below it); exchange/ is built on request/ and outbound/, never the reverse; store/ and
    // dpop/ know no flow (a token request produces what the store keeps and signs with the key).
    {
      name: 'm2m-client-on-top',
      severity: 'error',
      comment: 'client/ wires the flows together; the flows use its public option and event types only.',
      from: { path: '^lib/m2m/(request|cache|store|dpop|outbound|exchange|hooks)/' },
      to: { path: '^lib/m2m/client/', pathNot: '^lib/m2m/client/types\\.ts$' },
    },
    {
      name: 'm2m-exchange-on-top-of-request',
      severity: 'error',
      comment: 'Token exchange reuses the one retry loop (request/) and the one 401 policy (outbound/); they do not know it.',
      from: { path: '^lib/m2m/(request|cache|store|dpop|outbound|hooks)/' },
      to: { path: '^lib/m2m/exchange/' },
    },
    {
      name: 'm2m-store-and-dpop-know-no-flow',
      severity: 'error',
      from: { path: '^lib/m2m/(store|dpop)/' },
      to: { path: '^lib/m2m/(request|cache|outbound|exchange|client)/' },
    },
    {
      name: 'm2m-request-below-cache-and-outbound',
      severity: 'error',
      comment: 'A token request knows nothing of who caches or sends its token.',
      from: { path: '^lib/m2m/request/' },
      to: { path: '^lib/m2m/(cache|outbound)/' },
    },
    {
      name: 'guard-knows-no-framework',
      severity: 'error',
      comment: 'The guard core and token extraction serve every adapter: Express belongs in lib/adapters/express.',
      from: { path: '^lib/(guard|bearer)/' },
      to: { path: '(^|/)node_modules/(@types/)?express(/|$)|^express$' },
    },
    {
      name: 'adapters-on-top-of-guard',
      severity: 'error',
      comment: 'Adapters sit on the guard; nothing below them imports one.',
      from: { path: '^lib/', pathNot: '^lib/(index\\.ts$|adapters/)' },
      to: { path: '^lib/adapters/' },
    },
    {
      name: 'adapters-apart',
      severity: 'error',
      comment: 'Each adapter stands alone on the core (shared bits live in lib/adapters/*.ts).',
      from: { path: '^lib/adapters/(express|node|web)/' },
      to: { path: '^lib/adapters/(express|node|web)/', pathNot: '^lib/adapters/$1/' },
    },
    {
      name: 'adapters-guard-only',
      severity: 'error',
      comment: 'Adapters wrap the guard; the proxies and the M2M client are other jobs.',
      from: { path: '^lib/adapters/' },
      to: { path: '^lib/(proxy|m2m|idp|redis)/' },
    },
    {
      name: 'entry-points-on-top',
      severity: 'error',
      comment: 'index.ts and redis/ are what users import; lib/ itself never goes through them.',
      from: { path: '^lib/', pathNot: '^lib/(index\\.ts$|redis/)' },
      to: { path: '^lib/index\\.ts$|^lib/redis/' },
    },
    {
      name: 'testing-kit-apart',
      severity: 'error',
      comment: 'express-oauth-kit/testing (key generation, a local server) is for tests only: nothing else in lib/ imports it, so it never reaches the main bundle (entry-points-on-top keeps it off the entry points too).',
      from: { path: '^lib/', pathNot: '^lib/testing/' },
      to: { path: '^lib/testing/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Type-only imports count: a type cycle is still two modules that cannot be read apart.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '^(dist|node_modules)/' },
  },
};

