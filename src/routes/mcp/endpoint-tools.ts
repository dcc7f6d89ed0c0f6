/**
 * Each endpoint a caller may ask is two MCP tools, described from the endpoint's own name and
 * description:
 *  - `search_<slug>`: the passages that best match (the query without the model's answer);
 *  - `ask_<slug>`: the endpoint's answer, with `[n]` citations of its passages.
 * Both take `{ query, topK? }` and run the one query path, `QueryService.prepare` and its
 * events: the same policies, usage records and decision log as GraphQL. While a call runs, each
 * passage (and each piece of the answer) is a progress notification when the client asked for
 * them. A refusal is a tool result with `isError` and the Sluice code (text and `error`).
 */
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import type { AskableEndpoint } from '../../domains/endpoint-queries/askable-endpoints.js';
import { MAX_QUERY_CHARS, type QueryService, type QueryUsage } from '../../domains/endpoint-queries/query.service.js';
import { MAX_TOP_K } from '../../domains/endpoints/endpoint.service.js';
import { ValidationError } from '../../platform/errors/index.js';
import { describePath, unstorableTextMessage, unstorableTextPath } from '../../platform/input/unstorable-text.js';

export type ToolKind = 'search' | 'ask';

export interface EndpointTool {
  /** `search_<slug>` or `ask_<slug>`: slugs are `[a-z0-9-]`, inside MCP's tool-name alphabet. */
  name: string;
  kind: ToolKind;
  endpoint: AskableEndpoint;
}

/** The endpoint's description is its owner's free text: long enough to say what it holds, no longer. */
const MAX_DESCRIPTION_CHARS = 1000;

export function endpointTools(endpoints: readonly AskableEndpoint[]): EndpointTool[] {
  return endpoints.flatMap((endpoint) => [
    { name: `search_${endpoint.slug}`, kind: 'search' as const, endpoint },
    { name: `ask_${endpoint.slug}`, kind: 'ask' as const, endpoint },
  ]);
}

const INPUT_SCHEMA = {
  type: 'object',
  properties: {
    query: { type: 'string', minLength: 1, maxLength: MAX_QUERY_CHARS, description: 'What to look for or ask: words, "quoted phrases" and OR (keyword ranking), -excluded words (left out of every ranking).' },
    topK: { type: 'integer', minimum: 1, maximum: MAX_TOP_K, description: 'How many passages to retrieve (default: the endpoint’s setting).' },
  },
  required: ['query'],
  additionalProperties: false,
} as const;

const PASSAGE = {
  type: 'object',
  properties: {
    rank: { type: 'integer' },
    chunkId: { type: 'string' },
    documentId: { type: 'string' },
    documentTitle: { type: 'string' },
    text: { type: 'string' },
    score: { type: 'number' },
  },
  required: ['rank', 'chunkId', 'documentId', 'documentTitle', 'text', 'score'],
} as const;

const USAGE = {
  type: 'object',
  properties: { promptTokens: { type: 'integer' }, completionTokens: { type: 'integer' }, totalTokens: { type: 'integer' }, costMicros: { type: 'integer' } },
} as const;

const CITATION = {
  type: 'object',
  properties: { marker: { type: 'integer' }, chunkId: { type: 'string' }, documentTitle: { type: 'string' } },
  required: ['marker', 'chunkId', 'documentTitle'],
} as const;

/** A refused call's structured content: the code every Sluice surface answers with. */
const ERROR = { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } }, required: ['code', 'message'] } as const;

/** One schema for a result and a refusal: clients validate structured content against it either way. */
const OUTPUT_SCHEMAS = {
  search: {
    type: 'object',
    properties: { passages: { type: 'array', items: PASSAGE }, usage: USAGE, error: ERROR },
    anyOf: [{ required: ['passages', 'usage'] }, { required: ['error'] }],
  },
  ask: {
    type: 'object',
    properties: { answer: { type: 'string' }, citations: { type: 'array', items: CITATION }, usage: USAGE, error: ERROR },
    anyOf: [{ required: ['answer', 'citations', 'usage'] }, { required: ['error'] }],
  },
} as const;

export function toolDefinition({ name, kind, endpoint }: EndpointTool): Tool {
  const about = endpoint.description ? ` It holds: ${endpoint.description.slice(0, MAX_DESCRIPTION_CHARS)}` : '';
  const what =
    kind === 'search'
      ? `Searches "${endpoint.name}" (${endpoint.reference}): the passages that best match, with document title, score and chunk id.`
      : `Asks "${endpoint.name}" (${endpoint.reference}) a question: an answer grounded in its passages, with [n] citations.`;
  return {
    name,
    title: `${kind === 'search' ? 'Search' : 'Ask'} ${endpoint.name}`,
    description: `${what}${about}`,
    inputSchema: INPUT_SCHEMA as unknown as Tool['inputSchema'],
    outputSchema: OUTPUT_SCHEMAS[kind] as unknown as Tool['outputSchema'],
    annotations: { readOnlyHint: true, openWorldHint: false },
  };
}

export interface ToolCallContext {
  queries: QueryService;
  /** Aborts when the client cancels the call or goes away. */
  signal: AbortSignal;
  /** Sends one progress notification (only when the client sent a progress token). */
  progress?: (step: number, message: string) => Promise<void>;
}

/** Ends a call the client cancelled: its result is not awaited by anyone. */
export const CANCELLED = 'CANCELLED';

export async function callTool(tool: EndpointTool, args: unknown, { queries, signal, progress }: ToolCallContext): Promise<CallToolResult> {
  const input = toolInput(args);
  const prepared = await queries.prepare(tool.endpoint.reference, input.query, { topK: input.topK, retrievalOnly: tool.kind === 'search' });
  const passages: { rank: number; chunkId: string; documentId: string; documentTitle: string; text: string; score: number }[] = [];
  let usage: QueryUsage | undefined;
  let answer: { answer: string; citations: { marker: number; chunkId: string; documentTitle: string }[] } | undefined;
  let step = 0;
  for await (const event of prepared.events(signal)) {
    if (event.kind === 'retrieved') {
      const { chunkId, documentId, documentTitle, text, score } = event.passage;
      passages.push({ rank: event.rank, chunkId, documentId, documentTitle, text, score });
      await progress?.(++step, `Passage ${event.rank}: ${documentTitle}`);
    } else if (event.kind === 'answerDelta') {
      await progress?.(++step, event.text);
    } else if (event.kind === 'usage') {
      usage = event.usage;
    } else {
      answer = { answer: event.answer, citations: event.citations };
    }
  }
  // The events end early, without completing, only when the signal aborted.
  if (!usage || !answer) return errorResult(CANCELLED, 'The call was cancelled');
  const content = tool.kind === 'search' ? { passages, usage } : { ...answer, usage };
  return { content: [{ type: 'text', text: JSON.stringify(content) }], structuredContent: content };
}

/** A refusal as MCP wants a tool's own failure: a result with `isError`, the code first in the text. */
export function errorResult(code: string, message: string, details: Record<string, unknown> = {}): CallToolResult & { isError: true } {
  return {
    content: [{ type: 'text', text: `${code}: ${message}` }],
    structuredContent: { error: { ...details, code, message } },
    isError: true,
  };
}

/** The arguments' types and names; their ranges are the query service's to check, as for every surface. */
function toolInput(args: unknown): { query: string; topK: number | undefined } {
  if (args === undefined || args === null || typeof args !== 'object' || Array.isArray(args)) {
    throw new ValidationError('arguments must be an object: { "query": "…", "topK": 5 }', { field: 'arguments' });
  }
  const nul = unstorableTextPath(args);
  if (nul) throw new ValidationError(unstorableTextMessage(`Argument "${describePath(nul)}"`), { field: describePath(nul) });
  const { query, topK, ...unknown } = args as Record<string, unknown>;
  const extra = Object.keys(unknown);
  if (extra.length > 0) throw new ValidationError(`Unknown argument "${extra[0]}": the tools take query and topK`, { field: extra[0] });
  if (typeof query !== 'string') throw new ValidationError(`query must be a string of 1 to ${MAX_QUERY_CHARS} characters`, { field: 'query' });
  if (topK !== undefined && topK !== null && !Number.isInteger(topK)) {
    throw new ValidationError(`topK must be an integer from 1 to ${MAX_TOP_K}`, { field: 'topK' });
  }
  return { query, topK: (topK as number | null | undefined) ?? undefined };
}
