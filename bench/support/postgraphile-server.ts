/**
 * PostGraphile v4 as a peer for bench/api.ts, run as a process of its own (like `sluice
 * serve`): `node --import tsx bench/support/postgraphile-server.ts`, configured by the
 * environment, printing `{"port": n}` once it listens.
 *
 * It reads the same tables as the same restricted application role (no BYPASSRLS), so the
 * same row-level-security policies apply: each request's transaction sets `app.tenant_id`
 * (what the policies key on, via app_current_tenant() in src/db/rls.ts) from a bearer JWT it
 * verifies itself (HS256), as Sluice does for its own tokens. A request without a valid
 * token is refused rather than run with no tenant.
 *
 * Env: PG_APP_URL, PG_JWT_SECRET, PG_POOL_MAX (default 10, Sluice's pool size).
 */
import { createServer } from 'node:http';
import Module, { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { jwtVerify } from 'jose';
import pg from 'pg';

// The install holds three copies of graphql for PostGraphile's packages: postgraphile's own
// (15), graphile-build-pg's (15, with its own graphile-build) and the top-level one (16, which
// the hoisted graphql-parse-resolve-info picks up). Types built by one fail `instanceof`
// checks in another ("Unexpected input type: Int"). Every require of graphql or graphile-build
// from those packages resolves to postgraphile's copy, as a deduplicated install would.
const fromPostgraphile = createRequire(path.resolve('node_modules/postgraphile/package.json'));
const SHARED = new Set(['graphql', 'graphile-build']);
// The hoisted packages PostGraphile uses that would otherwise load another copy.
const USERS = /[\\/]node_modules[\\/](graphile-build-pg|graphql-parse-resolve-info)[\\/]/;
const moduleInternals = Module as unknown as { _resolveFilename: (request: string, parent: unknown, ...rest: unknown[]) => string };
const resolveFilename = moduleInternals._resolveFilename;
moduleInternals._resolveFilename = function (request, parent, ...rest) {
  const from = (parent as { filename?: string } | undefined)?.filename ?? '';
  if (SHARED.has(request.split('/')[0]!) && USERS.test(from)) {
    return fromPostgraphile.resolve(request);
  }
  return resolveFilename.call(this, request, parent, ...rest);
};
const { postgraphile } = fromPostgraphile('postgraphile') as typeof import('postgraphile');

const appUrl = process.env.PG_APP_URL!;
const key = new TextEncoder().encode(process.env.PG_JWT_SECRET!);
const pool = new pg.Pool({ connectionString: appUrl, max: Number(process.env.PG_POOL_MAX ?? 10) });

const middleware = postgraphile(pool, 'public', {
  // Read-only peer: the benchmark only reads, and the app role's grants decide what is exposed.
  disableDefaultMutations: true,
  ignoreRBAC: false,
  dynamicJson: true,
  legacyRelations: 'omit',
  setofFunctionsContainNulls: false,
  graphiql: false,
  disableQueryLog: true,
  enableQueryBatching: false,
  watchPg: false,
  retryOnInitFail: false,
  // Production-like: no stack traces in answers.
  showErrorStack: false,
  async pgSettings(req) {
    const header = req.headers.authorization ?? '';
    const token = header.startsWith('Bearer ') ? header.slice(7) : '';
    const { payload } = await jwtVerify(token, key, { algorithms: ['HS256'] });
    if (typeof payload.tenant_id !== 'string') throw new Error('token without tenant_id');
    return { 'app.tenant_id': payload.tenant_id };
  },
});

const server = createServer(middleware);
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: (server.address() as AddressInfo).port })));
process.once('SIGTERM', () => server.close(() => void pool.end().then(() => process.exit(0))));
