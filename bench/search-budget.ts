/**
 * What keyword search's row budget costs in quality: the same questions over the same generated
 * corpus as bench/search.ts (1 million chunks by default), each ranked by `sluice_bm25_search`
 * with the budget the retriever uses (KEYWORD_ROW_BUDGET), with smaller ones, and unbounded
 * (exact BM25, max-score pruning being exact), as the app role under row-level security. A
 * budget's figures: the questions whose top 5 is identical to the exact one (same chunks, same
 * order), and the share of the exact top 5's passages it returned. Each search's time is
 * measured too (one at a time), so the price of exactness reads beside its value.
 *
 * Settings: BENCH_SEARCH_CHUNKS (default 1 000 000), BENCH_SEARCH_QUERIES (default 300),
 * BENCH_SEARCH_KEEP (a directory: the embedded database is kept there and its corpus reused by
 * later runs of the same size; generating 1 M chunks takes minutes),
 * BENCH_SEARCH_BUDGETS (default "5000,3000,2000").
 */
import pg from 'pg';
import { KEYWORD_ROW_BUDGET, KEYWORD_SINGLE_PASS_LIMIT } from '../src/domains/endpoints/retriever.js';
import { appendReport, fixed, percentile, table } from './support/report.js';
import { questions, searchCorpus, VOCABULARY } from './support/search-corpus.js';
import { openBenchDatabase, startBenchServer } from './support/sluice.js';

/** No search has this many chunks to score: the budget never binds. */
const UNBOUNDED = 2_147_483_647;
const TOP_K = 5;

export async function searchBudgetBenchmark(command: string): Promise<void> {
  const chunkCount = Number(process.env.BENCH_SEARCH_CHUNKS ?? 1_000_000);
  const queryCount = Number(process.env.BENCH_SEARCH_QUERIES ?? 300);
  const budgets = (process.env.BENCH_SEARCH_BUDGETS ?? `${KEYWORD_ROW_BUDGET},3000,2000`).split(',').map(Number);
  if (budgets.some((budget) => !Number.isInteger(budget) || budget < 1)) throw new Error('BENCH_SEARCH_BUDGETS: positive whole numbers, comma-separated');
  const keepDir = process.env.BENCH_SEARCH_KEEP || undefined;
  const database = await openBenchDatabase(keepDir);
  const server = await startBenchServer(database);
  try {
    const { tenantId, datasetId } = await searchCorpus(server.url, database.ownerUrl, chunkCount, keepDir);
    const app = new pg.Client({ connectionString: database.appUrl });
    await app.connect();
    // The function says how many chunks its max-score steps scored (a debug message; 0 for a
    // question under the single-pass limit): work the load does not move.
    let scored = 0;
    app.on('notice', (notice) => {
      const match = /scored (\d+) chunks/.exec(notice.message ?? '');
      if (match) scored = Number(match[1]);
    });
    const search = async (query: string, budget: number) => {
      await app.query('begin');
      try {
        await app.query(`select set_config('app.tenant_id', $1, true)`, [tenantId]);
        await app.query('set local client_min_messages = debug1');
        scored = 0;
        const started = performance.now();
        const { rows } = await app.query<{ chunk_id: string }>(
          `select chunk_id from sluice_bm25_search($1::uuid[], 'english', $2, false, $3, $4, $5)`,
          [[datasetId], query, TOP_K, budget, KEYWORD_SINGLE_PASS_LIMIT],
        );
        return { ids: rows.map((row) => row.chunk_id), ms: performance.now() - started, scored };
      } finally {
        await app.query('commit');
      }
    };
    const asks = questions(queryCount);
    const exactMs: number[] = [];
    const exactScored: number[] = [];
    const measured = new Map(budgets.map((budget) => [budget, { identical: 0, shared: 0, ms: [] as number[], scored: [] as number[] }]));
    let expectedPassages = 0;
    try {
      for (const [index, query] of asks.entries()) {
        const exact = await search(query, UNBOUNDED);
        exactMs.push(exact.ms);
        exactScored.push(exact.scored);
        expectedPassages += exact.ids.length;
        for (const budget of budgets) {
          const bounded = await search(query, budget);
          const figures = measured.get(budget)!;
          figures.ms.push(bounded.ms);
          figures.scored.push(bounded.scored);
          if (bounded.ids.join() === exact.ids.join()) figures.identical += 1;
          figures.shared += bounded.ids.filter((id) => exact.ids.includes(id)).length;
        }
        if ((index + 1) % 50 === 0) console.log(`  ${index + 1} questions`);
      }
    } finally {
      await app.end();
    }
    const times = (samples: number[]) => {
      const sorted = [...samples].sort((a, b) => a - b);
      return [fixed(percentile(sorted, 50)), fixed(percentile(sorted, 95))];
    };
    const counts = (samples: number[]) => {
      const sorted = [...samples].sort((a, b) => a - b);
      return [`${percentile(sorted, 50)} / ${percentile(sorted, 95)} / ${sorted.at(-1)}`, `${samples.reduce((sum, value) => sum + value, 0)}`];
    };
    const body = [
      `Row budget vs exact BM25: ${chunkCount} chunks of 40 generated words (bench/search.ts's corpus, a ${VOCABULARY}-word vocabulary drawn with a skew) in one dataset; its first ${queryCount} two- and three-word questions, top ${TOP_K}, \`sluice_bm25_search\` as the app role under RLS, one search at a time (single-pass limit ${KEYWORD_SINGLE_PASS_LIMIT}); the exact top ${TOP_K} held ${expectedPassages} passages in all.`,
      '',
      table(
        ['row budget', `identical top ${TOP_K}`, 'passages shared', 'p50 ms', 'p95 ms', 'chunks scored p50 / p95 / max', 'chunks scored in all'],
        [
          ...budgets.map((budget) => {
            const figures = measured.get(budget)!;
            const label = budget === KEYWORD_ROW_BUDGET ? `${budget} (KEYWORD_ROW_BUDGET)` : `${budget}`;
            return [label, `${figures.identical} of ${queryCount}`, `${fixed((100 * figures.shared) / Math.max(expectedPassages, 1))} %`, ...times(figures.ms), ...counts(figures.scored)];
          }),
          ['unbounded (exact: the reference)', `${queryCount} of ${queryCount}`, '100.0 %', ...times(exactMs), ...counts(exactScored)],
        ],
      ),
    ].join('\n');
    await appendReport('Keyword search row budget vs exact', database.description, command, body);
  } finally {
    await server.stop();
    await database.close();
  }
}
