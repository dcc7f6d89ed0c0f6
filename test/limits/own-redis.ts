/**
 * A redis-server of the test's own, which it may stop, start again on the same port, and pause:
 * never the machine's shared Redis (REDIS_URL), which other tests and sessions use.
 */
import { findFreePort } from '../../src/db/free-port.js';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';

export const redisServerAvailable = spawnSync('redis-server', ['--version']).status === 0;

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
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--requirepass', options.password];
  const redis: OwnRedis = {
    url: `redis://:${options.password}@127.0.0.1:${port}`,
    async start() {
      if (child && child.exitCode === null) return;
      const started = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'inherit'] });
      child = started;
      await new Promise<void>((resolve, reject) => {
        started.stdout!.on('data', (chunk) => String(chunk).includes('Ready to accept connections') && resolve());
        started.once('exit', (code) => reject(new Error(`redis-server exited with ${code}`)));
      });
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
