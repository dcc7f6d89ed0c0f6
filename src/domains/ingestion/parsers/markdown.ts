/**
 * Markdown to plain text with marked's lexer: the words a reader sees, the syntax dropped.
 * Headings, paragraphs, list items and table rows become lines; code keeps its text.
 */
import { Lexer, type Token, type Tokens } from 'marked';
import { htmlToPlainText } from './html.js';

export function markdownToText(markdown: string, maxDepth: number): { text: string; firstHeading: string | null } {
  const tokens = new Lexer({ gfm: true }).lex(markdown);
  const firstHeading = tokens.find((token): token is Tokens.Heading => token.type === 'heading');
  return {
    text: blocks(tokens, maxDepth).replace(/\n{3,}/g, '\n\n').trim(),
    firstHeading: firstHeading ? inline(firstHeading.tokens).trim() : null,
  };
}

function blocks(tokens: Token[], maxDepth: number): string {
  return tokens.map((token) => block(token, maxDepth)).join('');
}

function block(token: Token, maxDepth: number): string {
  switch (token.type) {
    case 'heading':
    case 'paragraph':
      return `${inline((token as Tokens.Heading | Tokens.Paragraph).tokens)}\n\n`;
    case 'text':
      return `${'tokens' in token && token.tokens ? inline(token.tokens) : (token as Tokens.Text).text}\n`;
    case 'code':
      return `${(token as Tokens.Code).text}\n\n`;
    case 'blockquote':
      return blocks((token as Tokens.Blockquote).tokens, maxDepth);
    case 'list':
      return `${(token as Tokens.List).items.map((item) => `${blocks(item.tokens, maxDepth).trim()}\n`).join('')}\n`;
    case 'table': {
      const table = token as Tokens.Table;
      const row = (cells: Tokens.TableCell[]) => cells.map((cell) => inline(cell.tokens)).join(' | ');
      return `${[row(table.header), ...table.rows.map(row)].join('\n')}\n\n`;
    }
    case 'html':
      return `${htmlToPlainText((token as Tokens.HTML).text, maxDepth)}\n\n`;
    case 'space':
    case 'hr':
      return '\n';
    default:
      return 'tokens' in token && Array.isArray(token.tokens) ? blocks(token.tokens, maxDepth) : '';
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
