/**
 * `sluice serve` from another commit beside `sluice serve` from this working tree, on one
 * database: what the compare benchmarks (compare.ts, query-compare.ts) measure side by side.
 * The other commit runs from a temporary git worktree sharing node_modules (bin/sluice.js
 * compiles its dist/ on first start). One set of secrets for both, so an API key minted
 * through one is valid on the other.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openBenchDatabase, RAISED_LIMITS, startBenchServer, type BenchDatabase, type BenchServer } from './sluice.js';

export interface BeforeAndAfter {
  /** The other commit, short. */
  sha: string;
  database: BenchDatabase;
  before: BenchServer;
  after: BenchServer;
}

/** Runs `work` with both servers up (BENCH_COMPARE_REF, default HEAD), then stops and removes everything. */
export async function withBeforeAndAfter<T>(work: (servers: BeforeAndAfter) => Promise<T>): Promise<T> {
  const ref = process.env.BENCH_COMPARE_REF ?? 'HEAD';
  const sha = execFileSync('git', ['rev-parse', '--short', ref], { encoding: 'utf8' }).trim();
  const checkout = await mkdtemp(path.join(os.tmpdir(), 'sluice-compare-'));
  execFileSync('git', ['worktree', 'add', '--detach', checkout, ref], { stdio: 'ignore' });
  await symlink(path.resolve('node_modules'), path.join(checkout, 'node_modules'));
  const database = await openBenchDatabase();
  const env = { ...RAISED_LIMITS, JWT_SECRET: randomBytes(32).toString('base64url'), SLUICE_MASTER_KEY: randomBytes(32).toString('base64') };
  const servers: BenchServer[] = [];
  try {
    // One after the other: each applies the migrations it knows before it listens.
    const before = await startBenchServer(database, env, checkout);
    servers.push(before);
    const after = await startBenchServer(database, env);
    servers.push(after);
    return await work({ sha, database, before, after });
  } finally {
    for (const server of servers) await server.stop();
    await database.close();
    execFileSync('git', ['worktree', 'remove', '--force', checkout], { stdio: 'ignore' });
    await rm(checkout, { recursive: true, force: true });
  }
}
