/**
 * The passages a question retrieved, in the endpoint's order: each one's document, its final
 * rank and score, where each ranking placed it (keyword, semantic: a hybrid endpoint fuses
 * both), and its best fragments with the matched words marked. The server marks them with
 * `**` (never HTML), so they are written as text, with <mark> elements made here.
 */
import type { ConsoleAskSubscription } from '../../../../sdk/index.js';

export type RetrievedPassage = Extract<ConsoleAskSubscription['endpointQuery'], { __typename: 'EndpointQueryRetrieved' }>['passage'];

export function Passages({ passages, streaming }: { passages: RetrievedPassage[]; streaming: boolean }) {
  return (
    <section aria-labelledby="passages-title">
      <h2 id="passages-title" className="h5">
        Passages
      </h2>
      {passages.length === 0 ? (
        <p className="text-body-secondary" id="passages-empty">
          {streaming ? 'Searching…' : 'No passage matched. Try other words, or check that the endpoint’s datasets have documents.'}
        </p>
      ) : (
        // A list, not a table: it wraps on a narrow screen instead of scrolling sideways.
        <ol className="list-unstyled passages" id="passages-list" aria-label="Retrieved passages, best first">
          {passages.map((passage) => (
            <li key={passage.chunkId} data-rank={passage.rank} className="mb-3 pb-2 border-bottom">
              <div className="d-flex flex-wrap column-gap-3">
                <strong>
                  #<span data-field="rank">{passage.rank}</span> {passage.documentTitle}
                </strong>
                <span className="small">score {passage.score.toPrecision(3)}</span>
                <span className="small">
                  keyword rank <span data-field="keyword">{placed(passage.ranks.keyword)}</span>, semantic rank{' '}
                  <span data-field="semantic">{placed(passage.ranks.semantic)}</span>
                </span>
              </div>
              <div className="small passage-text">
                {passage.highlight ? <Highlighted text={passage.highlight} /> : passage.text}
              </div>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}

/** Where one ranking placed a passage; "none" where it did not place it (or did not run: keyword-only endpoints have no semantic ranking). */
function placed(rank: number | null | undefined): string {
  return rank == null ? 'none' : `#${rank}`;
}

/**
 * `**word**` as <mark>word</mark>; everything as text. The server escapes the passage's own `*`
 * and `\` with a backslash (`\*`, `\\`), so an unescaped `**` is always a marker.
 */
function Highlighted({ text }: { text: string }) {
  return (
    <>
      {highlightPieces(text).map((piece, index) => (piece.marked ? <mark key={index}>{piece.text}</mark> : <span key={index}>{piece.text}</span>))}
    </>
  );
}

/** The highlight's pieces, marked or not, with the escapes undone. */
function highlightPieces(highlight: string): { text: string; marked: boolean }[] {
  const pieces: { text: string; marked: boolean }[] = [];
  let current = '';
  let marked = false;
  for (let at = 0; at < highlight.length; at += 1) {
    const char = highlight[at]!;
    if (char === '\\' && at + 1 < highlight.length) {
      current += highlight[at + 1];
      at += 1;
    } else if (char === '*' && highlight[at + 1] === '*') {
      if (current) pieces.push({ text: current, marked });
      current = '';
      marked = !marked;
      at += 1;
    } else current += char;
  }
  if (current) pieces.push({ text: current, marked });
  return pieces;
}
