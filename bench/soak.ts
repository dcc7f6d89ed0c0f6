/**
 * Load soak: the API benchmark's page (bench/api.ts: 20 datasets × 10 documents, an ADMIN API
 * key, every plugin on) at 80 % of the maximum measured a moment before, for a minute, at a
 * fixed rate. Passes when nothing fails (no error, no non-2xx, no timeout) and memory stays
 * flat: the server's resident set (and V8 heap use, from /metrics) is sampled every few
 * seconds and reported at the start, the end and its peak, with the trend over the soak's
 * second half (after the heap has settled), and once more after 20 s without load, which
 * tells memory the server gives back (garbage) from memory it keeps (a leak).
 *
 * Settings: BENCH_SOAK_SECONDS (default 60), BENCH_SOAK_CONNECTIONS (default 32),
 * BENCH_SOAK_MAX_SECONDS (default 10: the closed-loop run that finds the maximum).
 */
import { load, pageTarget, seedApiData, WARM_UP_SECONDS } from './support/api-data.js';
import { memoryOf, mib } from './support/proc.js';
import { appendReport, fixed, table } from './support/report.js';
import { openBenchDatabase, RAISED_LIMITS, signUpWithKey, startBenchServer } from './support/sluice.js';

const SHARE = 0.8;
const SAMPLE_MS = 5_000;
/** After the load: how long memory is still sampled, to see whether what grew is given back. */
const IDLE_MS = 20_000;

export async function soakBenchmark(command: string): Promise<void> {
  const seconds = Number(process.env.BENCH_SOAK_SECONDS ?? 60);
  const connections = Number(process.env.BENCH_SOAK_CONNECTIONS ?? 32);
  const maxSeconds = Number(process.env.BENCH_SOAK_MAX_SECONDS ?? 10);
  const database = await openBenchDatabase();
  const server = await startBenchServer(database, { ...RAISED_LIMITS });
  const pid = server.process.child.pid!;
  try {
    const apiKey = await signUpWithKey(server.url);
    await seedApiData(server.url, apiKey, database.ownerUrl);
    const target = pageTarget(server.url, apiKey);
    console.log(`warming up (${WARM_UP_SECONDS} s), then the maximum`);
    await load(target, connections, WARM_UP_SECONDS);
    const max = await load(target, connections, maxSeconds);
    const rate = Math.max(1, Math.round(max.rps * SHARE));
    console.log(`maximum ${fixed(max.rps)} req/s; soaking at ${rate} req/s for ${seconds} s`);

    const samples: { at: number; rss: number; heap: number }[] = [];
    const started = Date.now();
    const sample = async () => samples.push({ at: (Date.now() - started) / 1000, rss: (await memoryOf(pid)).rss, heap: (await server.metrics())('nodejs_heap_size_used_bytes') });
    await sample();
    const sampler = setInterval(() => void sample(), SAMPLE_MS);
    const soak = await load(target, connections, seconds, rate);
    await sample();
    const endOfLoad = samples.length - 1;
    await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
    clearInterval(sampler);
    await sample();

    const during = samples.slice(0, endOfLoad + 1);
    const start = during[0]!.rss;
    const end = during.at(-1)!.rss;
    const idle = samples.at(-1)!;
    const peak = Math.max(...during.map((entry) => entry.rss));
    const slope = trendMiBPerMinute(during.filter((entry) => entry.at >= seconds / 2));
    const failures = soak.errors + soak.non2xx + soak.timeouts;
    const body = [
      `Load soak: the API benchmark's page (\`datasets(first: 20) { … documents(first: 10) { … } }\`, ADMIN API key, \`sluice serve\` in production mode, rate limits on (raised), audit on) at ${SHARE * 100} % of the closed-loop maximum measured just before (${connections} connections, ${maxSeconds} s), at a fixed rate for ${seconds} s. Resident memory (VmRSS) of the server process sampled every ${SAMPLE_MS / 1000} s. On 2 cores shared by the load generator, the server, PostgreSQL and other sessions' work: rates and latencies are noisy.`,
      '',
      table(
        ['max req/s', 'target req/s', 'achieved req/s', 'p50 / p99 ms', 'errors', 'non-2xx', 'timeouts', 'RSS start MiB', 'RSS end MiB', 'RSS peak MiB', 'RSS trend, 2nd half', `RSS / heap used MiB ${IDLE_MS / 1000} s after`],
        [[fixed(max.rps), rate, fixed(soak.rps), `${soak.p50} / ${soak.p99}`, soak.errors, soak.non2xx, soak.timeouts, mib(start), mib(end), mib(peak), `${fixed(slope)} MiB/min`, `${mib(idle.rss)} / ${mib(idle.heap)}`]],
      ),
      '',
      `- Samples (s: RSS / V8 heap used, MiB; heap used includes garbage not yet collected): ${samples.map((entry) => `${fixed(entry.at, 0)}: ${mib(entry.rss)} / ${mib(entry.heap)}`).join(', ')}.`,
      `- ${failures === 0 ? 'No request failed' : `**${failures} requests failed**`}; memory ${Math.abs(end - start) < 64 * 2 ** 20 ? 'ended within 64 MiB of where it started' : `moved by ${mib(end - start)} MiB`}.`,
    ].join('\n');
    await appendReport('Load soak at 80 % of the maximum', database.description, command, body);
  } finally {
    await server.stop();
    await database.close();
  }
}

/** Least-squares slope of RSS over time, in MiB per minute. */
function trendMiBPerMinute(samples: { at: number; rss: number }[]): number {
  if (samples.length < 2) return 0;
  const n = samples.length;
  const meanX = samples.reduce((sum, entry) => sum + entry.at, 0) / n;
  const meanY = samples.reduce((sum, entry) => sum + entry.rss, 0) / n;
  const covariance = samples.reduce((sum, entry) => sum + (entry.at - meanX) * (entry.rss - meanY), 0);
  const variance = samples.reduce((sum, entry) => sum + (entry.at - meanX) ** 2, 0);
  return variance === 0 ? 0 : ((covariance / variance) * 60) / 2 ** 20;
}
