/**
 * The SDK as a package of its own (`npm run build:sdk`): compiled JavaScript and declarations
 * with a manifest naming exactly its run-time dependencies, used from plain Node (no tsx, no
 * TypeScript) against the real server, subscriptions included.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildSdk } from '../../scripts/build-sdk.js';
import { signUp, type SignedUp } from '../support/identity.js';
import { execNode } from '../support/process.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
let owner: SignedUp;
// Inside the checkout, so the built files resolve graphql & co. from its node_modules.
const outDir = join('dist', `sdk-test-${process.pid}`);

beforeAll(async () => {
  [server] = await Promise.all([startTestServer({ worker: false }), Promise.resolve(buildSdk(outDir))]);
  owner = await signUp(server);
});
afterAll(async () => {
  rmSync(outDir, { recursive: true, force: true });
  await server?.close();
});

it('builds JavaScript, declarations and a manifest of its run-time dependencies', () => {
  for (const file of ['index.js', 'index.d.ts', 'client.js', 'sse.js', 'generated/graphql.js', 'generated/graphql.d.ts', 'codegen.js', 'codegen.d.ts', 'schema.graphql']) expect(existsSync(join(outDir, file)), file).toBe(true);
  const manifest = JSON.parse(readFileSync(join(outDir, 'package.json'), 'utf8'));
  expect(manifest).toMatchObject({
    name: '@sluice/sdk',
    type: 'module',
    exports: { '.': { types: './index.d.ts', default: './index.js' }, './codegen': { types: './codegen.d.ts', default: './codegen.js' }, './schema.graphql': './schema.graphql' },
  });
  expect(readFileSync(join(outDir, 'schema.graphql'), 'utf8')).toBe(readFileSync('schema.graphql', 'utf8'));
  expect(Object.keys(manifest.dependencies).sort()).toEqual(['@graphql-typed-document-node/core', 'eventsource-parser', 'graphql', 'graphql-ws']);
  expect(readFileSync(join(outDir, 'client.d.ts'), 'utf8')).toContain('export declare function createClient(options: ClientOptions): SluiceClient;');
});

it('works from plain Node: a query, and a subscription over SSE (no WebSocket in Node 20)', async () => {
  const script = `
    import { createClient, ViewerDocument, HeartbeatDocument } from './${outDir}/index.js';
    const client = createClient({ url: process.env.URL, credentials: { email: process.env.EMAIL, password: process.env.PASSWORD } });
    const { viewer } = await client.query(ViewerDocument);
    const ticks = [];
    for await (const { heartbeat } of client.subscribe(HeartbeatDocument, { intervalSeconds: 1, count: 2 })) ticks.push(heartbeat.sequence);
    console.log(JSON.stringify({ email: viewer.email, role: viewer.role, ticks }));
  `;
  const { stdout } = await execNode(['--input-type=module', '-e', script], { env: { URL: server.url, EMAIL: owner.email, PASSWORD: owner.password } });
  expect(JSON.parse(stdout)).toEqual({ email: owner.email, role: 'OWNER', ticks: [expect.any(Number), expect.any(Number)] });
});
