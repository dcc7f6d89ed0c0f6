/**
 * `npm run bench [-- <name>...]`: runs the named benchmarks (all when none is named), each
 * against a fresh database and a real `sluice serve`, and appends the results to
 * docs/benchmarks.md. Never part of `npm test`. `compare` and `query-compare` run only when named.
 */
import { apiBenchmark } from './api.js';
import { compareBenchmark } from './compare.js';
import { endpointThroughputBenchmark } from './endpoint-throughput.js';
import { fanoutBenchmark } from './fanout.js';
import { ingestionBenchmark } from './ingestion.js';
import { planningBenchmark } from './planning.js';
import { poolBenchmark } from './pool.js';
import { queryCompareBenchmark } from './query-compare.js';
import { relevancePartsBenchmark } from './relevance-parts.js';
import { relevanceBenchmark } from './relevance.js';
import { searchBenchmark } from './search.js';
import { searchBudgetBenchmark } from './search-budget.js';
import { soakBenchmark } from './soak.js';
import { vectorsBenchmark } from './vector-search.js';

const BENCHMARKS: Record<string, (command: string) => Promise<void>> = {
  api: apiBenchmark,
  compare: compareBenchmark,
  endpoints: endpointThroughputBenchmark,
  fanout: fanoutBenchmark,
  ingestion: ingestionBenchmark,
  planning: planningBenchmark,
  pool: poolBenchmark,
  'query-compare': queryCompareBenchmark,
  relevance: relevanceBenchmark,
  'relevance-parts': relevancePartsBenchmark,
  search: searchBenchmark,
  'search-budget': searchBudgetBenchmark,
  soak: soakBenchmark,
  vectors: vectorsBenchmark,
};

const requested = process.argv.slice(2);
const unknown = requested.filter((name) => !(name in BENCHMARKS));
if (unknown.length > 0) {
  console.error(`unknown benchmark ${unknown.join(', ')}; known: ${Object.keys(BENCHMARKS).join(', ')}`);
  process.exit(2);
}
// `compare` and `query-compare` measure a change against a commit: asked for by name only.
for (const name of requested.length > 0 ? requested : Object.keys(BENCHMARKS).filter((name) => name !== 'compare' && name !== 'query-compare')) {
  const settings = Object.entries(process.env)
    .filter(([key]) => key.startsWith('BENCH_') && key !== 'BENCH_DATABASE_URL')
    .map(([key, value]) => `${key}=${value} `)
    .join('');
  console.log(`\n# ${name}`);
  await BENCHMARKS[name]!(`${settings}npm run bench -- ${name}`);
}
