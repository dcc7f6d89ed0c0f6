/**
 * What an OpenAI chat completions request asks of Sluice: which endpoint (`model`,
 * "tenant-slug/endpoint-slug"), the question (the last user message's text), and whether to
 * stream. The other common fields are checked for their type (so a client's mistake is a 400,
 * not a surprise) and otherwise ignored: the endpoint's model answers with its own settings.
 * docs/endpoints.md lists which field is which.
 */
import { z } from 'zod';
import { ValidationError } from '../platform/errors/index.js';
import { describePath, unstorableTextMessage, unstorableTextPath } from '../platform/input/unstorable-text.js';

export interface ChatRequest {
  /** The endpoint's reference, as the client named it. */
  model: string;
  /** The last user message's text: the query the endpoint answers. */
  question: string;
  stream: boolean;
  /** `stream_options.include_usage`: a last chunk with the usage. */
  includeUsage: boolean;
}

/** The roles OpenAI's protocol knows; any other is the client's mistake. */
const ROLES = ['system', 'developer', 'user', 'assistant', 'tool', 'function'] as const;

/** Messages in one request, and content parts in all of them together. */
const MAX_MESSAGES = 1000;
const MAX_CONTENT_PARTS = 256;

const ContentPart = z.looseObject({ type: z.string(), text: z.string().optional() });
const Message = z.looseObject({
  role: z.enum(ROLES),
  content: z.union([z.string(), z.array(ContentPart).max(MAX_CONTENT_PARTS), z.null()]).optional(),
  name: z.string().optional(),
});
const optional = <T extends z.ZodType>(type: T) => type.nullable().optional();

const Body = z.looseObject({
  model: z.string().max(200),
  messages: z.array(Message).min(1).max(MAX_MESSAGES),
  stream: optional(z.boolean()),
  stream_options: optional(z.looseObject({ include_usage: optional(z.boolean()) })),
  // One answer per request: the endpoint has one answer to a question.
  n: optional(z.literal(1, { error: 'n must be 1: an endpoint gives one answer' })),
  // Accepted for compatibility, checked, ignored: the endpoint's model has its own settings.
  temperature: optional(z.number().min(0).max(2)),
  top_p: optional(z.number().min(0).max(1)),
  max_tokens: optional(z.number().int().positive()),
  max_completion_tokens: optional(z.number().int().positive()),
  presence_penalty: optional(z.number().min(-2).max(2)),
  frequency_penalty: optional(z.number().min(-2).max(2)),
  stop: optional(z.union([z.string(), z.array(z.string()).max(4)])),
  seed: optional(z.number().int()),
  user: optional(z.string().max(256)),
});

/** An endpoint reference: two parts around one slash (endpoint-access.ts checks the slugs themselves). */
const REFERENCE = /^[^/\s]+\/[^/\s]+$/;

/** The request as OpenAI clients send it, or a ValidationError naming the field at fault. */
export function parseChatRequest(json: unknown): ChatRequest {
  const nul = unstorableTextPath(json);
  if (nul) throw new ValidationError(unstorableTextMessage(`Field "${describePath(nul)}"`), { field: describePath(nul) });
  assertListsBounded(json);
  const parsed = Body.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = describePath(issue.path.map((part) => (typeof part === 'symbol' ? String(part) : part)));
    throw new ValidationError(field ? `${field}: ${issue.message}` : `The body must be a chat completions request: ${issue.message}`, { field: field || null });
  }
  const body = parsed.data;
  if (!REFERENCE.test(body.model)) {
    throw new ValidationError('model must be an endpoint\'s reference, "tenant-slug/endpoint-slug" (GET /v1/models lists them)', { field: 'model' });
  }
  return { model: body.model, question: lastUserText(body.messages), stream: body.stream ?? false, includeUsage: body.stream_options?.include_usage ?? false };
}

/**
 * The lists' lengths, before the schema walks them: the schema records an issue for each
 * element that fails a union, and 9 000 content parts of `0` (within the body's value bound)
 * cost it 140-250 ms of the event loop, 1 000 messages of 9 `{}` parts 460 ms.
 */
function assertListsBounded(json: unknown): void {
  if (json === null || typeof json !== 'object') return;
  const { messages } = json as { messages?: unknown };
  if (!Array.isArray(messages)) return;
  if (messages.length > MAX_MESSAGES) throw new ValidationError(`messages: at most ${MAX_MESSAGES} messages`, { field: 'messages' });
  let parts = 0;
  for (const message of messages) {
    const content = message !== null && typeof message === 'object' ? (message as { content?: unknown }).content : undefined;
    if (Array.isArray(content)) parts += content.length;
    if (parts > MAX_CONTENT_PARTS) throw new ValidationError(`messages: at most ${MAX_CONTENT_PARTS} content parts in all`, { field: 'messages' });
  }
}

/** The text of the last user message: a string, or its text parts joined by new lines. */
function lastUserText(messages: z.infer<typeof Message>[]): string {
  const index = messages.findLastIndex((message) => message.role === 'user');
  if (index < 0) throw new ValidationError('messages must hold a user message: the endpoint answers the last one', { field: 'messages' });
  const { content } = messages[index]!;
  if (typeof content === 'string') return content;
  if (!content || content.length === 0) throw new ValidationError(`messages.${index}.content: the last user message has no text`, { field: `messages.${index}.content` });
  const other = content.findIndex((part) => part.type !== 'text' || typeof part.text !== 'string');
  if (other >= 0) {
    throw new ValidationError(`messages.${index}.content.${other}: only text parts are supported (this one is "${content[other]!.type}")`, {
      field: `messages.${index}.content.${other}`,
    });
  }
  return content.map((part) => part.text!).join('\n');
}
