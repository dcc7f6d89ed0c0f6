/** HTML to plain text with html-to-text: scripts, styles and other non-content dropped. */
import { convert, type HtmlToTextOptions } from 'html-to-text';

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

/** The document's <title>, as text. */
export function htmlTitle(html: string): string | null {
  const match = /<title[^>]*>([\s\S]*?)<\/title\s*>/i.exec(html);
  const title = match ? convert(match[1]!, { wordwrap: false }).trim() : '';
  return title || null;
}
