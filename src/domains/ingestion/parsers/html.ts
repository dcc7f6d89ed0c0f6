/** HTML to plain text with html-to-text: scripts, styles and other non-content dropped. */
import { convert, type HtmlToTextOptions } from 'html-to-text';
import { Parser } from 'htmlparser2';
import { TITLE_MAX } from '../../display-text.js';

const SKIPPED = ['head', 'title', 'script', 'style', 'noscript', 'template', 'svg', 'iframe', 'object'];

const OPTIONS: HtmlToTextOptions = {
  wordwrap: false,
  selectors: [
    ...SKIPPED.map((selector) => ({ selector, format: 'skip' })),
    { selector: 'a', options: { ignoreHref: true } },
    { selector: 'img', format: 'skip' },
    { selector: 'h1', options: { uppercase: false } },
    { selector: 'h2', options: { uppercase: false } },
    { selector: 'h3', options: { uppercase: false } },
    { selector: 'h4', options: { uppercase: false } },
    { selector: 'h5', options: { uppercase: false } },
    { selector: 'h6', options: { uppercase: false } },
    { selector: 'table', format: 'dataTable', options: { uppercaseHeaderCells: false } },
  ],
};

/** `maxDepth`: deeper elements are left out rather than walked (limits.ts refuses such HTML files first; this guards HTML inside Markdown). */
export function htmlToPlainText(html: string, maxDepth: number): string {
  return convert(html, { ...OPTIONS, limits: { maxDepth } }).replace(/\n{3,}/g, '\n\n').trim();
}

/**
 * A title's text read at most this far (UTF-16 units): stored titles are cut to TITLE_MAX
 * characters anyway (display-text.ts), and room is left for the white space cleaning removes.
 */
const TITLE_READ_MAX = 16 * TITLE_MAX;

/**
 * The document's first <title>, as text (entities decoded), or null when it has none or it is
 * never closed. Read with htmlparser2's tokenizer, one linear pass that stops at the title's
 * end: a regular expression (`<title[^>]*>([\s\S]*?)<\/title\s*>`) scanned to the end of the
 * file from every `<title` when no `</title>` followed, so 1 MB of `<title>` took longer than
 * the parse budget (quadratic; 560 KB took 29 s). The tokenizer reads a title as browsers do,
 * as text up to `</title`, and skips comments and scripts.
 */
export function htmlTitle(html: string): string | null {
  let inTitle = false;
  let text = '';
  let title: string | null = null;
  const parser = new Parser(
    {
      onopentagname(name) {
        if (name === 'title') inTitle = true;
      },
      ontext(data) {
        if (inTitle && text.length < TITLE_READ_MAX) text += data.slice(0, TITLE_READ_MAX - text.length);
      },
      onclosetag(name, isImplied) {
        if (name !== 'title' || !inTitle) return;
        // Implied: the file ended inside the title (nothing after `<title>` closes it), as the expression had it: no title.
        if (!isImplied) title = text.trim();
        inTitle = false;
        parser.pause();
      },
    },
    { decodeEntities: true },
  );
  parser.end(html);
  return title || null;
}
