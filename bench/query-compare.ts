/**
 * Before and after for one keyword `queryEndpoint`: `sluice serve` from another commit
 * (BENCH_COMPARE_REF, default HEAD, in a temporary git worktree sharing node_modules) beside
 * `sluice serve` from this working tree, on one database holding the search benchmark's corpus
 * (BENCH_SEARCH_CHUNKS, default 20 000: at that size the search is a small part of a query, so
 * what differs is the request's own work around it).
 *
 * The figure is the server process's CPU time (user + system, /proc) per query, the one a
 * loaded shared machine disturbs least. One client asks one question at a time (the search
 * benchmark's questions, API key, extractive model); runs alternate between the two servers in
 * ABBA order (BENCH_COMPARE_ROUNDS pairs, default 8, of BENCH_COMPARE_QUERIES each, default
 * 400), so drift in the machine's other load falls on both alike. Reported: each server's
 * median CPU ms per query over its runs, its median wall time per query, and the median of
 * each round's ratio (the two runs of a round are minutes apart at most, so a slow drift of
 * the machine's load or of the JIT's warm-up weighs on a round's ratio less than on either).
 */
import { cpuSecondsOf } from './support/proc.js';
import { appendReport, fixed, median, table } from './support/report.js';
import { questions, searchCorpus } from './support/search-corpus.js';
import { withBeforeAndAfter } from './support/before-and-after.js';
import { graphql, type BenchServer } from './support/sluice.js';

const QUERY = 'query($e: String!, $q: String!) { queryEndpoint(endpoint: $e, query: $q) { passages { chunkId score highlight documentTitle } answer } }';

export async function queryCompareBenchmark(command: string): Promise<void> {
  const ref = process.env.BENCH_COMPARE_REF ?? 'HEAD';
  const rounds = Number(process.env.BENCH_COMPARE_ROUNDS ?? 8);
  const perRun = Number(process.env.BENCH_COMPARE_QUERIES ?? 400);
  const chunkCount = Number(process.env.BENCH_SEARCH_CHUNKS ?? 20_000);
  await withBeforeAndAfter(async ({ sha, database, before, after }) => {
    const { apiKey, endpoint } = await searchCorpus(after.url, database.ownerUrl, chunkCount);
    const asks = questions(perRun);
    const ask = async (server: BenchServer, query: string) => {
      const { queryEndpoint } = await graphql(server.url, QUERY, { e: endpoint, q: query }, apiKey);
      if (!Array.isArray(queryEndpoint?.passages)) throw new Error(`"${query}": no passages list`);
    };
    const contenders = [
      { name: `${sha} (${ref})`, server: before, cpu: [] as number[], wall: [] as number[] },
      { name: 'working tree', server: after, cpu: [] as number[], wall: [] as number[] },
    ];
    // Warm-up: JIT, prepared statements, caches, on both (twice: CPU per query still fell over the first runs after one).
    for (let pass = 0; pass < 2; pass += 1) for (const { server } of contenders) for (const query of asks) await ask(server, query);
    for (let round = 0; round < rounds; round += 1) {
      for (const contender of round % 2 === 0 ? contenders : [...contenders].reverse()) {
        const pid = contender.server.process.child.pid!;
        const cpuBefore = await cpuSecondsOf(pid);
        const started = performance.now();
        for (const query of asks) await ask(contender.server, query);
        contender.wall.push((performance.now() - started) / asks.length);
        contender.cpu.push(((await cpuSecondsOf(pid)) - cpuBefore) * 1000 / asks.length);
        console.log(`${contender.name}: ${fixed(contender.cpu.at(-1)!, 2)} ms CPU, ${fixed(contender.wall.at(-1)!, 2)} ms wall per query`);
      }
    }
    const [base, candidate] = contenders.map((contender) => ({ ...contender, cpuMedian: median(contender.cpu), wallMedian: median(contender.wall) }));
    const signed = (value: number) => `${value >= 0 ? '+' : ''}${fixed(value)} %`;
    const roundRatios = candidate!.cpu.map((value, round) => value / base!.cpu[round]!);
    const body = [
      `One keyword \`queryEndpoint\` at a time (passages, extractive answer; API key; production mode) over ${chunkCount} generated chunks, from two servers on one database: \`sluice serve\` at ${sha} and from the working tree. ${rounds * 2} runs of ${perRun} questions, alternating ABBA; CPU per query is the server process's user + system time over a run divided by its questions.`,
      '',
      table(
        ['server', 'CPU ms per query, each run', 'median CPU ms per query', 'median wall ms per query'],
        [base!, candidate!].map((contender) => [contender.name, contender.cpu.map((value) => fixed(value, 2)).join(', '), fixed(contender.cpuMedian, 2), fixed(contender.wallMedian, 2)]),
      ),
      '',
      `- The working tree costs **${signed((candidate!.cpuMedian / base!.cpuMedian - 1) * 100)}** server CPU per query against ${sha}, ${signed((candidate!.wallMedian / base!.wallMedian - 1) * 100)} wall time (run medians); each round's CPU ratio: ${roundRatios.map((ratio) => fixed(ratio, 2)).join(', ')} (median ${fixed(median(roundRatios), 2)}).`,
    ].join('\n');
    await appendReport(`queryEndpoint: ${sha} vs the working tree`, database.description, command, body);
  });
}
