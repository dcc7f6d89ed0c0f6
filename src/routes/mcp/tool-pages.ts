/**
 * `tools/list` in pages, with MCP's `cursor` / `nextCursor`. One answer of every tool of a
 * tenant (100 endpoints: 200 tools of up to ~3 KB each) in each of a batch's messages made a
 * 5 KB request write 57 MB and hold the event loop for seconds; a page is at most
 * TOOLS_PAGE_ENDPOINTS endpoints, and the definitions are built once per HTTP request however
 * many pages it asks for (routes/mcp.ts bounds how many).
 *
 * A cursor is the next page's offset, signed and bound to the route and the caller
 * (signed-tokens.ts): opaque to the client, and one it altered, made up, or took from another
 * route or another caller (another tenant's, say) is refused (-32602).
 * An offset rather than a key: the list is the caller's endpoints oldest first, so one created
 * between pages comes last, and one deleted between pages shifts the rest by two tools.
 */
import { ErrorCode, McpError, type ListToolsResult, type Tool } from '@modelcontextprotocol/sdk/types.js';
import { toolDefinition, type EndpointTool } from './endpoint-tools.js';
import { signedToken, verifiedToken, type KeyedDigests } from './signed-tokens.js';

/** Endpoints (two tools each) in one `tools/list` answer. */
export const TOOLS_PAGE_ENDPOINTS = 25;
const PAGE_TOOLS = TOOLS_PAGE_ENDPOINTS * 2;
const CURSOR_PURPOSE = 'mcp tools cursor';

export class ToolPages {
  private definitions: Tool[] | undefined;

  /** `route` names the list the cursors page through: the route (`tenant`, or the endpoint's reference) and the caller. */
  constructor(
    private readonly tools: readonly EndpointTool[],
    private readonly keys: KeyedDigests,
    private readonly route: string,
  ) {}

  /** The page at `cursor` (the first without one); a cursor this server did not give for this route is -32602. */
  page(cursor: string | undefined): ListToolsResult {
    const offset = cursor === undefined ? 0 : this.offsetOf(cursor);
    this.definitions ??= this.tools.map(toolDefinition);
    const next = offset + PAGE_TOOLS;
    return {
      tools: this.definitions.slice(offset, next),
      ...(next < this.definitions.length ? { nextCursor: signedToken(this.keys, CURSOR_PURPOSE, Buffer.from(String(next)).toString('base64url'), this.route) } : {}),
    };
  }

  private offsetOf(cursor: string): number {
    const value = verifiedToken(this.keys, CURSOR_PURPOSE, cursor, this.route);
    const offset = value === null ? NaN : Number(Buffer.from(value, 'base64url').toString());
    if (!Number.isSafeInteger(offset) || offset < 0) {
      throw new McpError(ErrorCode.InvalidParams, 'Invalid params for tools/list: the cursor is not one this server gave for this route; list again without one', {
        code: 'BAD_USER_INPUT',
        issues: [{ path: 'params.cursor', message: 'not a cursor of this list' }],
      });
    }
    return offset;
  }
}
