/**
 * Connection pool sizing: the API benchmark's page through `sluice serve` with
 * SLUICE_DATABASE_POOL_SIZE at each of BENCH_POOL_SIZES (default 2,5,10,20,40), one after the
 * other on one database, closed loop at BENCH_POOL_CONNECTIONS (default 32) for
 * BENCH_POOL_SECONDS (default 10) each, after a 5 s warm-up. The reference is the default
 * size (10) in the same run: a size is worth its connections only if it beats that.
 */
import { load, pageTarget, seedApiData, WARM_UP_SECONDS } from './support/api-data.js';
import { cpuSecondsOf } from './support/proc.js';
import { appendReport, fixed, table } from './support/report.js';
import { openBenchDatabase, RAISED_LIMITS, signUpWithKey, startBenchServer } from './support/sluice.js';

export async function poolBenchmark(command: string): Promise<void> {
  const sizes = (process.env.BENCH_POOL_SIZES ?? '2,5,10,20,40').split(',').map(Number);
  const connections = Number(process.env.BENCH_POOL_CONNECTIONS ?? 32);
  const seconds = Number(process.env.BENCH_POOL_SECONDS ?? 10);
  const database = await openBenchDatabase();
  const rows: (string | number)[][] = [];
  const rates = new Map<number, number>();
  try {
    let apiKey: string | undefined;
    for (const size of sizes) {
      const server = await startBenchServer(database, { ...RAISED_LIMITS, SLUICE_DATABASE_POOL_SIZE: String(size) });
      try {
        if (!apiKey) {
          apiKey = await signUpWithKey(server.url);
          await seedApiData(server.url, apiKey, database.ownerUrl);
        }
        const target = pageTarget(server.url, apiKey);
        await load(target, connections, WARM_UP_SECONDS);
        const pid = server.process.child.pid!;
        const cpuBefore = await cpuSecondsOf(pid);
        const phase = await load(target, connections, seconds);
        const cpuMs = (((await cpuSecondsOf(pid)) - cpuBefore) * 1000) / Math.max(1, phase.total);
        rates.set(size, phase.rps);
        rows.push([size, fixed(phase.rps), `${phase.p50} / ${phase.p99}`, fixed(cpuMs, 2), phase.errors + phase.non2xx + phase.timeouts]);
        console.log(`pool ${size}: ${fixed(phase.rps)} req/s, p50/p99 ${phase.p50}/${phase.p99} ms, ${fixed(cpuMs, 2)} ms CPU per request`);
      } finally {
        await server.stop();
      }
    }
    const reference = rates.get(10);
    const body = [
      `Connection pool size: the API benchmark's page (\`datasets(first: 20) { … documents(first: 10) { … } }\`, ADMIN API key, production mode, every plugin on) through one \`sluice serve\` per SLUICE_DATABASE_POOL_SIZE, on one database, ${connections} connections closed loop for ${seconds} s after 5 s of warm-up. One process on 2 cores shared with PostgreSQL and the load generator.`,
      '',
      table(['pool size', 'req/s', 'p50 / p99 ms', 'server CPU ms per request', 'errors'], rows),
      '',
      reference
        ? `- Against the default of 10 in this run: ${sizes.filter((size) => size !== 10).map((size) => `${size}: ${fixed((rates.get(size)! / reference - 1) * 100)} %`).join(', ')} req/s.`
        : '- The default size (10) was not among the sizes run.',
    ].join('\n');
    await appendReport('Connection pool size', database.description, command, body);
  } finally {
    await database.close();
  }
}
