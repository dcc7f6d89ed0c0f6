/**
 * The audit outcome of each request message of one MCP HTTP request (routes/mcp.ts). A batch
 * may hold a call that ran beside one refused by a limit: kept as one outcome, overwritten by
 * whichever message set it last, such a batch was audited as refused RATE_LIMITED and went to
 * the refusal flood limit, where past it only a count is left of a query that ran. The door
 * (consumer-door.ts) takes the list: the flood limit only when every message was refused by a
 * limit, as a GraphQL operation every root field of which was (plugins/audit.ts).
 */
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';

/** A message no handler answered: the response ended first (the client went away, the call was cut). */
const UNANSWERED = 'CANCELLED';
/** A request message no handler took: the SDK answered `-32601` Method not found. */
const NO_SUCH_METHOD = 'NOT_FOUND';

export class MessageOutcomes {
  private readonly slots: (string | undefined)[] = [];

  /** A slot for a request message a handler took up, in the order taken; the returned function fills it once. */
  begin(): (outcome: string) => void {
    const index = this.slots.push(undefined) - 1;
    return (outcome) => {
      this.slots[index] ??= outcome;
    };
  }

  /** Every one of `requestMessages` request messages' outcome, `ok` or its code. */
  list(requestMessages: number): string[] {
    const taken = this.slots.map((outcome) => outcome ?? UNANSWERED);
    return [...taken, ...Array<string>(Math.max(0, requestMessages - taken.length)).fill(NO_SUCH_METHOD)];
  }
}

/** A handler's answer: `ok`, or the code of a tool result with `isError` (a refused or failed call). */
export function outcomeOfAnswer(answer: unknown): string {
  const { isError, structuredContent } = (answer ?? {}) as { isError?: unknown; structuredContent?: { error?: { code?: unknown } } };
  if (!isError) return 'ok';
  const code = structuredContent?.error?.code;
  return typeof code === 'string' ? code : 'INTERNAL';
}

/** A handler's JSON-RPC error: the Sluice code its `data` carries, else what its JSON-RPC code means. */
export function outcomeOfThrown(error: unknown): string {
  if (!(error instanceof McpError)) return 'INTERNAL';
  const code = (error.data as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string') return code;
  if (error.code === ErrorCode.InvalidParams) return 'BAD_USER_INPUT';
  if (error.code === ErrorCode.InvalidRequest) return 'BAD_REQUEST';
  return 'INTERNAL';
}
