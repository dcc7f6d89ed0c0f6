/**
 * Before and after, on the API benchmark's page: `sluice serve` from another commit
 * (BENCH_COMPARE_REF, default HEAD, checked out in a temporary git worktree that shares this
 * checkout's node_modules) beside `sluice serve` from this working tree, on one database, both
 * in production mode with the API benchmark's settings.
 *
 * The figure is the server's CPU time per request (user + system, from /proc), the one load
 * on a shared machine disturbs least. Runs alternate between the two servers in ABBA order
 * (BENCH_COMPARE_ROUNDS pairs of BENCH_COMPARE_SECONDS each, at BENCH_COMPARE_CONNECTIONS),
 * so a drift in the machine's other load falls on both alike; the result is each one's
 * median and their ratio, and the same over all the CPU from the first run to the last
 * (rests included). Defaults: 8 rounds of 6 s at 8 connections. This is how a performance
 * change proves itself here: a single run's CPU per request varied by ±15 % over an hour on
 * this machine (docs/benchmarks.md).
 */
import { load, pageTarget, seedApiData, WARM_UP_SECONDS } from './support/api-data.js';
import { cpuSecondsOf } from './support/proc.js';
import { appendReport, fixed, median, table } from './support/report.js';
import { withBeforeAndAfter } from './support/before-and-after.js';
import { signUpWithKey, type BenchServer } from './support/sluice.js';

interface Run {
  cpuMsPerRequest: number;
  rps: number;
  errors: number;
}

export async function compareBenchmark(command: string): Promise<void> {
  const ref = process.env.BENCH_COMPARE_REF ?? 'HEAD';
  const rounds = Number(process.env.BENCH_COMPARE_ROUNDS ?? 8);
  const seconds = Number(process.env.BENCH_COMPARE_SECONDS ?? 6);
  const connections = Number(process.env.BENCH_COMPARE_CONNECTIONS ?? 8);
  await withBeforeAndAfter(async ({ sha, database, before, after }) => {
    // Data through one, the key checked by both; then each warms up twice, in turn.
    const apiKey = await signUpWithKey(before.url);
    await seedApiData(after.url, apiKey, database.ownerUrl);
    const target = (server: BenchServer) => pageTarget(server.url, apiKey);
    const contenders = [
      { name: `${sha} (${ref})`, server: before, runs: [] as Run[] },
      { name: 'working tree', server: after, runs: [] as Run[] },
    ];
    console.log(`warming up (${WARM_UP_SECONDS} s each)`);
    for (const { server } of contenders) await load(target(server), connections, WARM_UP_SECONDS);
    // Also the CPU over the whole measurement, rests included: work a run leaves behind (a
    // major collection, sweeping) may finish while the other server is loaded, outside any run.
    const cpuAtStart = await Promise.all(contenders.map(({ server }) => cpuSecondsOf(server.process.child.pid!)));
    const answered = [0, 0];
    for (let round = 0; round < rounds; round += 1) {
      for (const contender of round % 2 === 0 ? contenders : [...contenders].reverse()) {
        const pid = contender.server.process.child.pid!;
        const cpuBefore = await cpuSecondsOf(pid);
        const phase = await load(target(contender.server), connections, seconds);
        const cpu = (await cpuSecondsOf(pid)) - cpuBefore;
        const run = { cpuMsPerRequest: (cpu * 1000) / Math.max(1, phase.total), rps: phase.rps, errors: phase.errors + phase.non2xx + phase.timeouts };
        contender.runs.push(run);
        answered[contenders.indexOf(contender)]! += phase.total;
        console.log(`${contender.name}: ${fixed(run.cpuMsPerRequest, 2)} ms CPU per request, ${fixed(run.rps)} req/s, ${run.errors} errors`);
      }
    }
    const cpuAtEnd = await Promise.all(contenders.map(({ server }) => cpuSecondsOf(server.process.child.pid!)));
    const [base, candidate] = contenders.map((contender, index) => ({
      ...contender,
      cpu: median(contender.runs.map((run) => run.cpuMsPerRequest)),
      cpuOverall: ((cpuAtEnd[index]! - cpuAtStart[index]!) * 1000) / Math.max(1, answered[index]!),
      rps: median(contender.runs.map((run) => run.rps)),
    }));
    const rows = [base!, candidate!].map((contender) => [
      contender.name,
      contender.runs.map((run) => fixed(run.cpuMsPerRequest, 1)).join(', '),
      fixed(contender.cpu, 2),
      fixed(contender.cpuOverall, 2),
      fixed(contender.rps),
      contender.runs.reduce((sum, run) => sum + run.errors, 0),
    ]);
    const change = (candidate!.cpu / base!.cpu - 1) * 100;
    const changeOverall = (candidate!.cpuOverall / base!.cpuOverall - 1) * 100;
    const signed = (value: number) => `${value >= 0 ? '+' : ''}${fixed(value)} %`;
    const body = [
      `The API benchmark's page (\`datasets(first: 20) { … documents(first: 10) { … } }\`, ADMIN API key, production mode, every plugin on) from two servers on one database: \`sluice serve\` at ${sha} and from the working tree. ${rounds * 2} runs of ${seconds} s at ${connections} connections, alternating ABBA; CPU per request is the server process's user + system time over a run divided by the requests it answered.`,
      '',
      table(['server', 'CPU ms per request, each run', 'median CPU ms per request', 'CPU ms per request, rests included', 'median req/s', 'errors'], rows),
      '',
      `- The working tree costs **${signed(change)}** CPU per request against ${sha} (run medians); ${signed(changeOverall)} counting all CPU from the first run to the last, rests between runs included (idle work: timers, and what a run left for the collector).`,
    ].join('\n');
    await appendReport(`API page: ${sha} vs the working tree`, database.description, command, body);
  });
}
