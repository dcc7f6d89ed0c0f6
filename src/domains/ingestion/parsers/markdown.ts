/**
 * Markdown to plain text with marked's lexer: the words a reader sees, the syntax dropped.
 * Headings, paragraphs, list items and table rows become lines; code keeps its text.
 */
import { Lexer, Tokenizer, type Links, type Token, type Tokens } from 'marked';
import { htmlToPlainText } from './html.js';

/**
 * A table of more rows than this is lexed a slice of rows at a time, when its text is written
 * (largeTableText), not whole with the document: marked's table token costs about 330 bytes a
 * cell (a header, an alignment and inline tokens for each), so a 21 MB table needed more than
 * the parser thread's 512 MB. Smaller tables are lexed as they always were.
 */
export const TABLE_SLICE_ROWS = 1000;

/** `sliceRows`: see TABLE_SLICE_ROWS (tests lower it to compare both ways on a small table). */
export function markdownToText(markdown: string, maxDepth: number, sliceRows = TABLE_SLICE_ROWS): { text: string; firstHeading: string | null } {
  const tokens = new Lexer({ gfm: true, tokenizer: new LargeTableTokenizer(sliceRows) }).lex(markdown);
  const firstHeading = tokens.find((token): token is Tokens.Heading => token.type === 'heading');
  return {
    text: blocks(tokens, { maxDepth, links: tokens.links, sliceRows }).replace(/\n{3,}/g, '\n\n').trim(),
    firstHeading: firstHeading ? inline(firstHeading.tokens).trim() : null,
  };
}

interface Rendering {
  maxDepth: number;
  /** The document's link definitions: a reference in a table slice resolves as it would in the whole document. */
  links: Links;
  sliceRows: number;
}

/** A table too long to lex whole: its header, delimiter and rows lines, lexed later a slice at a time. */
interface LargeTable {
  type: 'largeTable';
  raw: string;
  header: string;
  delimiter: string;
  rows: string;
}

/**
 * marked's tokenizer, with tables of more than `sliceRows` rows kept as their lines. It is
 * called exactly where marked tries a table, so what is a table is marked's decision; the rows
 * a table takes are decided line by line (marked's table rule), so a slice of them with the
 * header and delimiter lexes to the same cells.
 */
class LargeTableTokenizer extends Tokenizer {
  constructor(private readonly sliceRows: number) {
    super();
  }

  override table(src: string): Tokens.Table | undefined {
    const cap = this.rules.block.table.exec(src);
    if (!cap || !cap[3] || !moreLinesThan(cap[3], this.sliceRows)) return super.table(src);
    // Not a table when its header and delimiter are not (no pipe or colon, column counts differ).
    if (!this.rules.other.tableDelimiter.test(cap[2]!) || new Lexer({ gfm: true }).lex(`${cap[1]}\n${cap[2]}`)[0]?.type !== 'table') return undefined;
    const table: LargeTable = { type: 'largeTable', raw: withoutTrailingNewlines(cap[0]), header: cap[1]!, delimiter: cap[2]!, rows: cap[3].replace(this.rules.other.tableRowBlankLine, '') };
    // marked keeps whatever token a tokenizer returns; only block() below reads this one.
    return table as unknown as Tokens.Table;
  }
}

/**
 * `text.replace(/\n+$/, '')` without the expression, which tries every newline as the start of
 * the final run: quadratic over a long run of newlines not at the end. marked's table rule
 * leaves none inside a table, so this is a guard rather than a fix.
 */
function withoutTrailingNewlines(text: string): string {
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === 0x0a) end -= 1;
  return text.slice(0, end);
}

function moreLinesThan(text: string, count: number): boolean {
  let at = -1;
  for (let lines = 0; lines < count; lines++) {
    at = text.indexOf('\n', at + 1);
    if (at === -1) return false;
  }
  return at < text.length - 1;
}

/** The rows of a large table as block() writes a table, lexed `sliceRows` rows at a time with the header and delimiter. */
function largeTableText(table: LargeTable, rendering: Rendering): string {
  const lines: string[] = [];
  for (let start = 0; start < table.rows.length; ) {
    let end = start;
    for (let rows = 0; rows < rendering.sliceRows && end < table.rows.length; rows++) {
      const newline = table.rows.indexOf('\n', end);
      end = newline === -1 ? table.rows.length : newline + 1;
    }
    const lexer = new Lexer({ gfm: true });
    Object.assign(lexer.tokens.links, rendering.links);
    const [slice] = lexer.lex(`${table.header}\n${table.delimiter}\n${table.rows.slice(start, end)}`) as unknown as [Tokens.Table];
    if (start === 0) lines.push(tableRow(slice.header));
    for (const row of slice.rows) lines.push(tableRow(row));
    start = end;
  }
  return `${lines.join('\n')}\n\n`;
}

function tableRow(cells: Tokens.TableCell[]): string {
  return cells.map((cell) => inline(cell.tokens)).join(' | ');
}

function blocks(tokens: Token[], rendering: Rendering): string {
  return tokens.map((token) => block(token, rendering)).join('');
}

function block(token: Token, rendering: Rendering): string {
  const { maxDepth } = rendering;
  switch (token.type) {
    case 'heading':
    case 'paragraph':
      return `${inline((token as Tokens.Heading | Tokens.Paragraph).tokens)}\n\n`;
    case 'text':
      return `${'tokens' in token && token.tokens ? inline(token.tokens) : (token as Tokens.Text).text}\n`;
    case 'code':
      return `${(token as Tokens.Code).text}\n\n`;
    case 'blockquote':
      return blocks((token as Tokens.Blockquote).tokens, rendering);
    case 'list':
      return `${(token as Tokens.List).items.map((item) => `${blocks(item.tokens, rendering).trim()}\n`).join('')}\n`;
    case 'table': {
      const table = token as Tokens.Table;
      return `${[tableRow(table.header), ...table.rows.map(tableRow)].join('\n')}\n\n`;
    }
    case 'largeTable':
      return largeTableText(token as unknown as LargeTable, rendering);
    case 'html':
      return `${htmlToPlainText((token as Tokens.HTML).text, maxDepth)}\n\n`;
    case 'space':
    case 'hr':
      return '\n';
    default:
      return 'tokens' in token && Array.isArray(token.tokens) ? blocks(token.tokens, rendering) : '';
  }
}

function inline(tokens: Token[] | undefined): string {
  if (!tokens) return '';
  return tokens
    .map((token) => {
      switch (token.type) {
        case 'text':
          return 'tokens' in token && token.tokens ? inline(token.tokens) : decodeEntities((token as Tokens.Text).text);
        case 'escape':
        case 'codespan':
          return decodeEntities((token as Tokens.Codespan).text);
        case 'image':
          return (token as Tokens.Image).text;
        case 'br':
          return '\n';
        case 'html':
          return '';
        default:
          return 'tokens' in token && Array.isArray(token.tokens) ? inline(token.tokens) : '';
      }
    })
    .join('');
}

// marked escapes &, <, >, " and ' in text tokens; the plain text wants them back.
const ENTITIES: Record<string, string> = { '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&#39;': "'" };
function decodeEntities(text: string): string {
  return text.replace(/&(amp|lt|gt|quot|#39);/g, (entity) => ENTITIES[entity]!);
}
