/**
 * Starts the PostGraphile peer (postgraphile-server.ts) as a child process and mints the
 * tenant's token for it.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { SignJWT } from 'jose';
import { childEnv } from '../../test/support/process.js';
import { memoryOf } from './proc.js';

export interface PostGraphilePeer {
  url: string;
  /** A bearer token for the benchmark's tenant, signed with the peer's secret. */
  token: string;
  tokenFor(tenantId: string): Promise<string>;
  pid: number;
  peakRss(): Promise<number>;
  stop(): Promise<void>;
}

export async function startPostGraphile(appUrl: string, tenantId: string): Promise<PostGraphilePeer> {
  const secret = randomBytes(32).toString('base64url');
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/support/postgraphile-server.ts'], {
    env: childEnv({ NODE_ENV: 'production', PG_APP_URL: appUrl, PG_JWT_SECRET: secret }),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.startsWith('{"port"')) resolve(JSON.parse(line).port);
    });
    void exited.then((code) => reject(new Error(`postgraphile exited (${code}) before listening`)));
  });
  const tokenFor = (tenant: string) =>
    new SignJWT({ tenant_id: tenant }).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime('2h').sign(new TextEncoder().encode(secret));
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    token: await tokenFor(tenantId),
    tokenFor,
    pid: child.pid!,
    peakRss: async () => (await memoryOf(child.pid!)).peak,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
