/**
 * Ranking quality on the Cranfield test collection (1 400 aeronautics abstracts, graded
 * relevance judgements), through a real `sluice serve` as a user would use it: sign up,
 * upload the abstracts as one JSON Lines file, wait for the job, create an extractive model
 * and an endpoint (topK 50, the most allowed), ask every question through `queryEndpoint`.
 * Beside it, in the same run over the same documents, a textbook BM25 (bench/support/bm25.ts).
 *
 * A document ranks where its first passage does. Gain is 5 − Cleverdon's code (1 a complete
 * answer … 4 minimal interest); nDCG uses 2^gain − 1; every judged pair counts as relevant
 * for recall and MRR; unjudged documents are not relevant. Nothing is tuned.
 * Each endpoint is compared with the reference question by question by a paired randomization
 * test (bench/support/significance.ts): how likely chance alone gives a difference as large.
 *
 * Settings: BENCH_RELEVANCE_DIR (default ../shared/retrieval-eval/cranfield beside the repo);
 * BENCH_CHUNK_SIZE (characters, no overlap; default: the ingestion default) to see what
 * chunking costs against the whole-document reference.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Bm25Index } from './support/bm25.js';
import { firstOccurrences, meanScores, scoreRanking, type QualityScores } from './support/relevance-metrics.js';
import { appendReport, fixed, table } from './support/report.js';
import { pairedRandomizationTest } from './support/significance.js';
import { graphql, openBenchDatabase, RAISED_LIMITS, signUpWithKey, startBenchServer } from './support/sluice.js';

const TOP_K = 50;
const FILE_NAME = 'cranfield.jsonl';

export interface Collection {
  documentsJsonl: string;
  documents: { id: string; title: string; text: string }[];
  questions: { id: string; text: string }[];
  /** question id → (document id → gain) */
  judgements: Map<string, Map<string, number>>;
}

export async function loadCollection(directory: string): Promise<Collection> {
  const documentsJsonl = await readFile(path.join(directory, 'documents.jsonl'), 'utf8');
  const lines = (text: string) => text.split('\n').filter((line) => line.trim() !== '');
  const documents = lines(documentsJsonl).map((line) => JSON.parse(line) as { id: string; title: string; text: string });
  const questions = lines(await readFile(path.join(directory, 'queries.jsonl'), 'utf8')).map((line) => JSON.parse(line) as { id: string; text: string });
  const judgements = new Map<string, Map<string, number>>();
  for (const line of lines(await readFile(path.join(directory, 'qrels.tsv'), 'utf8')).slice(1)) {
    const [question, document, code] = line.split('\t');
    const gain = 5 - Number(code);
    if (!question || !document || !(gain >= 1 && gain <= 4)) throw new Error(`qrels.tsv: unexpected line "${line}"`);
    let forQuestion = judgements.get(question);
    if (!forQuestion) judgements.set(question, (forQuestion = new Map()));
    forQuestion.set(document, gain);
  }
  return { documentsJsonl, documents, questions, judgements };
}

export async function relevanceBenchmark(command: string): Promise<void> {
  const directory = path.resolve(process.env.BENCH_RELEVANCE_DIR ?? '../shared/retrieval-eval/cranfield');
  if (!existsSync(path.join(directory, 'documents.jsonl'))) {
    console.error(`relevance: no Cranfield collection at ${directory} (set BENCH_RELEVANCE_DIR to the folder with documents.jsonl, queries.jsonl and qrels.tsv)`);
    // Non-zero at the end, but the other benchmarks of `npm run bench` still run.
    process.exitCode = 1;
    return;
  }
  const collection = await loadCollection(directory);
  // A question without judgements cannot be scored; the count below says how many were.
  const questions = collection.questions.filter((question) => collection.judgements.has(question.id));
  console.log(`${collection.documents.length} documents, ${questions.length} judged questions of ${collection.questions.length}`);

  const database = await openBenchDatabase();
  const server = await startBenchServer(database, { ...RAISED_LIMITS });
  try {
    const apiKey = await signUpWithKey(server.url);
    const { createDataset } = await graphql(server.url, 'mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }', { i: { name: 'Cranfield', slug: 'cranfield' } }, apiKey);
    const jobId = await upload(server.url, apiKey, createDataset.id, collection.documentsJsonl);
    const job = await finished(server.url, apiKey, jobId);
    if (job.stage !== 'COMPLETED' || job.progress.documentsFailed > 0) throw new Error(`ingestion did not complete cleanly: ${JSON.stringify(job)}`);
    const cranfieldIdOf = await documentIds(server.url, apiKey, createDataset.id);
    // Two Cranfield records (471, 995) are empty: Sluice keeps no document for an empty text.
    const withText = collection.documents.filter((document) => document.text.trim() !== '');
    if (cranfieldIdOf.size !== withText.length) throw new Error(`the dataset holds ${cranfieldIdOf.size} documents, the collection ${withText.length} with text`);

    const { createModel } = await graphql(server.url, 'mutation($i: CreateModelInput!) { createModel(input: $i) { id } }', { i: { name: 'extractive', type: 'extractive' } }, apiKey);
    const endpoint = async (slug: string, retrieval: Record<string, unknown>) =>
      (
        await graphql(
          server.url,
          'mutation($i: CreateEndpointInput!) { createEndpoint(input: $i) { reference } }',
          { i: { name: slug, slug, datasetIds: [createDataset.id], modelId: createModel.id, retrieval } },
          apiKey,
        )
      ).createEndpoint.reference as string;
    // The endpoint as created by default, and one passage per document (field collapsing):
    // the reference ranks documents, so 50 passages of fewer than 50 documents cost it recall@50.
    const endpoints = [
      { name: 'Sluice endpoint (`queryEndpoint`, keyword)', reference: await endpoint('cranfield', { topK: TOP_K }) },
      { name: 'Sluice endpoint, `passagesPerDocument: 1`', reference: await endpoint('cranfield-collapsed', { topK: TOP_K, passagesPerDocument: 1 }) },
    ];

    const bm25 = new Bm25Index(collection.documents);
    // nDCG@10 over each half of the questions (number mod 4): a change should help both halves, not one.
    const halfOf = (question: { id: string }) => (Number(question.id) % 4 === 1 ? 0 : 1);
    const newTally = () => ({ scores: [] as QualityScores[], halves: [[], []] as QualityScores[][], passages: 0, documents: 0 });
    const tallies = endpoints.map(newTally);
    const reference = newTally();
    const count = (tally: ReturnType<typeof newTally>, question: { id: string }, scores: QualityScores) => {
      tally.scores.push(scores);
      tally.halves[halfOf(question)]!.push(scores);
    };
    for (const question of questions) {
      const judgements = collection.judgements.get(question.id)!;
      for (const [index, { reference: address }] of endpoints.entries()) {
        const { queryEndpoint } = await graphql(
          server.url,
          'query($e: String!, $q: String!) { queryEndpoint(endpoint: $e, query: $q) { passages { rank documentId } } }',
          { e: address, q: question.text },
          apiKey,
        );
        const passages = [...(queryEndpoint.passages as { rank: number; documentId: string }[])].sort((a, b) => a.rank - b.rank);
        const ranking = firstOccurrences(
          passages.map((passage) => {
            const id = cranfieldIdOf.get(passage.documentId);
            if (id === undefined) throw new Error(`passage of an unknown document ${passage.documentId}`);
            return id;
          }),
        );
        tallies[index]!.passages += passages.length;
        tallies[index]!.documents += ranking.length;
        count(tallies[index]!, question, scoreRanking(ranking, judgements));
      }
      count(reference, question, scoreRanking(bm25.search(question.text, TOP_K), judgements));
    }

    const row = (name: string, { scores, halves: [first, second] }: ReturnType<typeof newTally>) => [
      name,
      fixed(meanScores(scores).ndcg10, 3),
      fixed(meanScores(scores).recall50, 3),
      fixed(meanScores(scores).mrr10, 3),
      fixed(meanScores(first!).ndcg10, 3),
      fixed(meanScores(second!).ndcg10, 3),
      questions.length,
    ];
    const perQuestion = (tally: ReturnType<typeof newTally>) => `${fixed(tally.passages / questions.length)} passages, ${fixed(tally.documents / questions.length)} distinct documents`;
    const body = [
      `Ranking quality: the Cranfield collection (${collection.documents.length} aeronautics abstracts, ingested as one JSON Lines file with ${process.env.BENCH_CHUNK_SIZE ? `${process.env.BENCH_CHUNK_SIZE}-character chunks (BENCH_CHUNK_SIZE), no overlap` : "default chunking"}, ${collection.documents.length - withText.length} of them empty and so not kept; ${questions.length} questions, the odd-numbered half, with graded judgements: gain 5 − code, nDCG gain 2^g − 1, unjudged = not relevant). Sluice: extractive endpoints with topK ${TOP_K}, every question asked through \`queryEndpoint\`, a document ranked at its first passage (per question on average: ${perQuestion(tallies[0]!)}; with one passage per document ${perQuestion(tallies[1]!)}). Reference: textbook BM25 (k1 1.2, b 0.75, Porter stems, the \`stopword\` English list, Lucene's idf) over the same documents, in the benchmark process. Nothing tuned.`,
      '',
      table(
        ['ranking', 'nDCG@10', 'recall@50', 'MRR@10', 'nDCG@10, questions 1, 5, 9 …', 'nDCG@10, questions 3, 7, 11 …', 'questions'],
        [...endpoints.map((entry, index) => row(entry.name, tallies[index]!)), row('Reference: BM25 in the benchmark process', reference)],
      ),
      '',
      `Each endpoint against the reference, question by question: the mean difference and the two-sided p-value of a paired randomization test (${SIGNIFICANCE_TRIALS.toLocaleString('en').replace(/,/g, ' ')} random sign assignments, seeded; bench/support/significance.ts). A p-value above 0.05 says the two rankings' difference on these questions is within what chance gives: neither is shown better.`,
      '',
      table(
        ['ranking', 'nDCG@10 difference (p)', 'recall@50 difference (p)', 'MRR@10 difference (p)'],
        endpoints.map((entry, index) => [entry.name, ...METRICS.map((metric) => compared(tallies[index]!.scores, reference.scores, metric))]),
      ),
    ].join('\n');
    await appendReport('Ranking quality vs BM25 (Cranfield)', database.description, command, body);
  } finally {
    await server.stop();
    await database.close();
  }
}

const SIGNIFICANCE_TRIALS = 100_000;
const METRICS = ['ndcg10', 'recall50', 'mrr10'] as const;

/** "+0.002 (p 0.710)": the mean per-question difference of one metric, and whether chance explains it. */
function compared(scores: readonly QualityScores[], reference: readonly QualityScores[], metric: (typeof METRICS)[number]): string {
  const { meanDifference, p } = pairedRandomizationTest(
    scores.map((score) => score[metric]),
    reference.map((score) => score[metric]),
    { trials: SIGNIFICANCE_TRIALS },
  );
  return `${meanDifference >= 0 ? '+' : '−'}${fixed(Math.abs(meanDifference), 3)} (p ${p < 0.001 ? '< 0.001' : fixed(p, 3)})`;
}

/** One multipart request with the collection as a JSON Lines file; each record's "id" names its document. */
async function upload(url: string, apiKey: string, datasetId: string, jsonl: string): Promise<string> {
  const form = new FormData();
  form.set(
    'operations',
    JSON.stringify({
      query: 'mutation($d: ID!, $files: [File!], $o: IngestionOptionsInput) { ingestDocuments(datasetId: $d, files: $files, options: $o) { id } }',
      variables: { d: datasetId, files: [null], o: { jsonIdField: 'id', jsonTitleField: 'title', jsonTextField: 'text', ...(process.env.BENCH_CHUNK_SIZE ? { chunkSize: Number(process.env.BENCH_CHUNK_SIZE), chunkOverlap: 0 } : {}) } },
    }),
  );
  form.set('map', JSON.stringify({ 0: ['variables.files.0'] }));
  form.set('0', new Blob([jsonl], { type: 'application/jsonl' }), FILE_NAME);
  const response = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${apiKey}` }, body: form });
  const body = (await response.json()) as any;
  if (!body.data?.ingestDocuments) throw new Error(`upload failed (${response.status}): ${JSON.stringify(body.errors)}`);
  return body.data.ingestDocuments.id;
}

async function finished(url: string, apiKey: string, id: string): Promise<{ stage: string; progress: { documentsFailed: number } }> {
  for (;;) {
    const { ingestionJob } = await graphql(url, 'query($id: ID!) { ingestionJob(id: $id) { stage progress { documentsTotal documentsFailed chunksDone } } }', { id }, apiKey);
    if (['COMPLETED', 'FAILED', 'CANCELLED'].includes(ingestionJob.stage)) return ingestionJob;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Sluice document row id (as passages give it) → Cranfield id, read back from each document's sourceKey ("cranfield.jsonl#<id>"). */
async function documentIds(url: string, apiKey: string, datasetId: string): Promise<Map<string, string>> {
  const ids = new Map<string, string>();
  let after: string | null = null;
  for (;;) {
    const { dataset }: any = await graphql(
      url,
      'query($id: ID!, $after: String) { dataset(id: $id) { documents(first: 100, after: $after) { edges { node { id sourceKey } } pageInfo { hasNextPage endCursor } } } }',
      { id: datasetId, after },
      apiKey,
    );
    for (const { node } of dataset.documents.edges as { node: { id: string; sourceKey: string } }[]) {
      const prefix = `${FILE_NAME}#`;
      if (!node.sourceKey.startsWith(prefix)) throw new Error(`unexpected sourceKey ${node.sourceKey}`);
      // Passages name their document by its row id; a Document's node id is base64("Document:<row id>").
      const [typename, rowId] = Buffer.from(node.id, 'base64').toString('utf8').split(':');
      if (typename !== 'Document' || !rowId) throw new Error(`unexpected document node id ${node.id}`);
      ids.set(rowId, node.sourceKey.slice(prefix.length));
    }
    if (!dataset.documents.pageInfo.hasNextPage) return ids;
    after = dataset.documents.pageInfo.endCursor;
  }
}
