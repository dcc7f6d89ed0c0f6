/**
 * A redis-server of the test's own, which it may stop, start again on the same port, and pause:
 * never the machine's shared Redis (REDIS_URL), which other tests and sessions use.
 */
import type { ChildProcess } from 'node:child_process';
import { findFreePort } from '../../src/db/free-port.js';
import { startRedisServer } from '../support/redis.js';

export { redisServerAvailable } from '../support/redis.js';

export interface OwnRedis {
  url: string;
  /** Starts it again (on the same port) unless it runs. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** SIGSTOP: connections stay open but nothing answers. */
  pause(): void;
  resume(): void;
}

export async function ownRedis(options: { password: string }): Promise<OwnRedis> {
  const port = await findFreePort();
  let child: ChildProcess | undefined;
  const redis: OwnRedis = {
    url: `redis://:${options.password}@127.0.0.1:${port}`,
    async start() {
      if (child && child.exitCode === null) return;
      child = await startRedisServer(port, ['--requirepass', options.password]);
    },
    async stop() {
      const running = child;
      child = undefined;
      if (!running || running.exitCode !== null) return;
      running.kill('SIGCONT');
      await new Promise<void>((resolve) => {
        running.once('exit', () => resolve());
        running.kill('SIGTERM');
      });
    },
    pause: () => child?.kill('SIGSTOP'),
    resume: () => child?.kill('SIGCONT'),
  };
  await redis.start();
  return redis;
}
