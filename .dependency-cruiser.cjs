/**
 * The layer rules of ARCHITECTURE ("Layers and who may import whom"), checked by
 * dependency-cruiser. `npm run lint:layers` prints the violations for a person;
 * test/layers.test.ts runs the same rules through the JS API, plus the checks an import rule
 * cannot express (domain folders grouped with their sub-folders, tenant-session binding,
 * loose files, file names).
 *
 *   server, main.ts, operator/ ─┐
 *   plugins/                   ─┼──> domains/ ──> db/
 *   schema/, routes/           ─┘        └──────> platform/
 *   cli/, console/ ──> sdk/        (the clients know only the schema, through the SDK)
 *
 * Paths are relative to the repository root. Type-only imports count (tsPreCompilationDeps):
 * a layer that names another layer's types still depends on it.
 */

/** The server's composition and entry points: src/server.ts (and its split parts), main.ts, operator/. */
const SERVER = ['^src/server([.-][^/]*|/)', '^src/main[.]ts$', '^src/operator/'];

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'domains-not-to-outer-layers',
      severity: 'error',
      comment:
        'domains/ hold the business rules: GraphQL (schema/), request plumbing (plugins/), the ' +
        'other doors (routes/) and the server call them, never the reverse; the clients ' +
        '(sdk/, cli/, console/) are other programs.',
      from: { path: '^src/domains/' },
      to: { path: [...SERVER, '^src/(schema|plugins|graphql|routes|sdk|cli|console)/'] },
    },
    {
      name: 'platform-not-to-app-layers',
      severity: 'error',
      comment:
        'platform/ is infrastructure the layers above use through small interfaces; it imports ' +
        'none of them (define the interface it needs in platform/ instead).',
      from: { path: '^src/platform/' },
      to: { path: [...SERVER, '^src/(schema|domains|plugins|graphql|routes|db)/'] },
    },
    {
      name: 'db-not-to-upper-layers',
      severity: 'error',
      comment:
        'db/ is the bottom of the application layers (connection, migrations, the tenant ' +
        'scope): domains use it, it uses no domain, resolver, plugin or door.',
      from: { path: '^src/db/' },
      to: { path: [...SERVER, '^src/(schema|domains|plugins|graphql|routes|sdk|cli|console)/'] },
    },
    {
      name: 'schema-not-to-db',
      severity: 'error',
      comment:
        'schema/ maps GraphQL to service calls: no EntityManager, no SQL, no tenant binding ' +
        '(db/ is reached through the domain services and the request scope).',
      from: { path: '^src/schema/' },
      to: { path: '^src/db/' },
    },
    {
      name: 'schema-not-to-plugins',
      severity: 'error',
      comment:
        'schema/ reads what a request carries from the context, not from the plugins that fill ' +
        'it in (an `import type` of a context shape is tolerated).',
      from: { path: '^src/schema/' },
      to: { path: '^src/plugins/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'plugins-not-to-schema',
      severity: 'error',
      comment:
        'plugins/ are wired into Yoga around the schema; what they share with it (the error ' +
        'model) lives below both, in platform/.',
      from: { path: '^src/plugins/' },
      to: { path: '^src/schema/' },
    },
    {
      name: 'routes-not-to-db',
      severity: 'error',
      comment:
        'routes/ are doors as thin as resolvers: they call domain services, not the database. ' +
        'Like every entry point a route opens its one tenant scope (db/tenant-scope.ts, on db/orm.ts), nothing else of db/.',
      from: { path: '^src/routes/' },
      to: { path: '^src/db/', pathNot: '^src/db/(tenant-scope|orm)\\.ts$' },
    },
    {
      name: 'sdk-standalone',
      severity: 'error',
      comment: 'the SDK ships to clients: it imports nothing from the server code.',
      from: { path: '^src/sdk/' },
      to: { path: '^src/', pathNot: '^src/sdk/' },
    },
    {
      name: 'cli-only-sdk',
      severity: 'error',
      comment: 'the CLI is a client: it reaches the server through the SDK only.',
      from: { path: '^src/cli/' },
      to: { path: '^src/', pathNot: '^src/(cli|sdk)/' },
    },
    {
      name: 'console-only-sdk',
      severity: 'error',
      comment: 'the web console is a client: it reaches the server over HTTP, through the SDK at most.',
      from: { path: '^src/console/' },
      to: { path: '^src/', pathNot: '^src/(console|sdk)/' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      comment:
        'a file circle makes load order matter and hides which module is the lower one. ' +
        'Allowed: circles made only of entity files (bidirectional MikroORM relations, ' +
        'Tenant.memberships <-> Membership.tenant; `() => p.oneToMany(X)` defers the reference, ' +
        'so load order does not matter, and each entity keeps its own file).',
      from: { path: '^src/' },
      to: { circular: true, via: { pathNot: '[.]entity[.]ts$' } },
    },
    {
      name: 'no-circular-domain-folders',
      severity: 'error',
      scope: 'folder',
      comment:
        'domain folders form a hierarchy: none imports a sibling that imports it back. ' +
        '(test/layers.test.ts checks this more strictly: a domain with its sub-folders is one node.)',
      from: { path: '^src/domains/[^/]+$' },
      to: { path: '^src/domains/[^/]+$', circular: true },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment:
        'a relative import the cruise cannot resolve is an edge no rule above sees. The ' +
        "console's browser imports (./vendor/...) are URLs served at run time, not files.",
      from: { path: '^src/', pathNot: '^src/console/' },
      to: { path: '^[.]', couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Keep `import type` edges: they are dependencies between layers too.
    tsPreCompilationDeps: true,
    // NodeNext: the `./x.js` in an import names ./x.ts.
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
    },
    skipAnalysisNotInRules: true,
  },
};
