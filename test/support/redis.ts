/**
 * A real Redis for the tests that need one: REDIS_URL when set, else a `redis-server` of the
 * test's own on a free port, else none (the caller skips, saying why).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { findFreePort } from '../../src/db/free-port.js';
import { childEnv } from './process.js';

export interface TestRedis {
  url: string;
  stop(): Promise<void>;
}

export const redisServerAvailable = spawnSync('redis-server', ['--version']).status === 0;

/**
 * A throwaway `redis-server` on 127.0.0.1:`port` (nothing saved to disk), resolved once it
 * accepts connections. `extraArgs` adds options such as `--requirepass`.
 */
export async function startRedisServer(port: number, extraArgs: string[] = []): Promise<ChildProcess> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...extraArgs];
  const child = spawn('redis-server', args, { env: childEnv({}), stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk) => String(chunk).includes('Ready to accept connections') && resolve());
    child.once('exit', (code) => reject(new Error(`redis-server exited with ${code}`)));
  });
  return child;
}

export async function startTestRedis(): Promise<TestRedis | undefined> {
  if (process.env.REDIS_URL) return { url: process.env.REDIS_URL, stop: async () => {} };
  if (!redisServerAvailable) return undefined;
  const port = await findFreePort();
  const child = await startRedisServer(port);
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: () => new Promise((resolve) => (child.exitCode !== null ? resolve() : (child.once('exit', () => resolve()), child.kill('SIGTERM')))),
  };
}
