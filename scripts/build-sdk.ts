/**
 * Builds the SDK as a package of its own, `@sluice/sdk`: src/sdk compiled to JavaScript with
 * type declarations in dist/sdk (or the folder given), the API's schema.graphql (for your own
 * operations' codegen: src/sdk/codegen.ts), and a package.json whose dependencies
 * are exactly what the SDK imports at run time, at the versions Sluice itself uses.
 * `npm publish dist/sdk` publishes it; test/sdk/package.test.ts uses it from plain Node.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** What the compiled SDK imports (the last for its declarations' TypedDocumentNode). */
const DEPENDENCIES = ['graphql', 'graphql-ws', 'eventsource-parser', '@graphql-typed-document-node/core'];

export function buildSdk(outDir = 'dist/sdk'): string {
  const target = resolve(outDir);
  rmSync(target, { recursive: true, force: true });
  execFileSync(process.execPath, [resolve('node_modules/typescript/bin/tsc'), '-p', 'tsconfig.sdk.json', '--outDir', target], { stdio: 'inherit' });
  const root = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string; dependencies: Record<string, string>; devDependencies: Record<string, string> };
  const installed = (name: string) => `^${(JSON.parse(readFileSync(join('node_modules', name, 'package.json'), 'utf8')) as { version: string }).version}`;
  const versionOf = (name: string) => root.dependencies[name] ?? root.devDependencies[name] ?? installed(name);
  const manifest = {
    name: '@sluice/sdk',
    version: root.version,
    description: 'Typed client for the Sluice GraphQL API: every operation, subscriptions over graphql-ws or SSE, sessions, typed errors',
    type: 'module',
    license: 'UNLICENSED',
    main: './index.js',
    types: './index.d.ts',
    exports: {
      '.': { types: './index.d.ts', default: './index.js' },
      // Your own operations, generated like the bundled ones (docs/sdk.md).
      './codegen': { types: './codegen.d.ts', default: './codegen.js' },
      './schema.graphql': './schema.graphql',
    },
    sideEffects: false,
    engines: { node: '>=20' },
    dependencies: Object.fromEntries(DEPENDENCIES.map((name) => [name, versionOf(name)])),
  };
  writeFileSync(join(target, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  copyFileSync('schema.graphql', join(target, 'schema.graphql'));
  return target;
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(`built @sluice/sdk in ${buildSdk(process.argv[2])}`);
