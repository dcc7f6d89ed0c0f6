/**
 * An endpoint's retrieval settings as form fields, for creating an endpoint and for changing
 * them later: the mode (each explained), passages per query, the minimum score, passages per
 * document. The inputs are named `topK`, `minScore` and `passagesPerDocument`; `retrievalFrom`
 * reads them back.
 */
import Form from 'react-bootstrap/Form';
import type { RetrievalMode } from '../../../../sdk/index.js';

const MODES: { mode: RetrievalMode; says: string }[] = [
  { mode: 'KEYWORD', says: 'Keyword (BM25): passages sharing the question’s words. Works on every dataset.' },
  { mode: 'SEMANTIC', says: 'Semantic: passages close in meaning (vectors). Every dataset needs an embeddings model.' },
  { mode: 'HYBRID', says: 'Hybrid: both rankings fused. Every dataset needs an embeddings model.' },
];

export function RetrievalFields({
  idPrefix,
  mode,
  onMode,
  topK,
  minScore,
  passagesPerDocument,
}: {
  idPrefix: string;
  mode: RetrievalMode;
  onMode: (mode: RetrievalMode) => void;
  topK?: number;
  minScore?: number | null;
  passagesPerDocument?: number | null;
}) {
  return (
    <fieldset className="mb-3">
      <legend className="form-label fs-6 mb-1">Retrieval</legend>
      <Form.Group className="mb-2" controlId={`${idPrefix}-mode`}>
        <Form.Label>Retrieval mode</Form.Label>
        <Form.Select value={mode} onChange={(event) => onMode(event.target.value as RetrievalMode)} aria-describedby={`${idPrefix}-mode-help`}>
          {MODES.map((option) => (
            <option key={option.mode} value={option.mode}>
              {option.mode}
            </option>
          ))}
        </Form.Select>
        <Form.Text id={`${idPrefix}-mode-help`}>{MODES.find((option) => option.mode === mode)?.says}</Form.Text>
      </Form.Group>
      <div className="d-flex flex-wrap gap-3">
        <Form.Group controlId={`${idPrefix}-top-k`}>
          <Form.Label>Passages per query (top K)</Form.Label>
          <Form.Control name="topK" type="number" min={1} max={50} placeholder="5" defaultValue={topK} aria-describedby={`${idPrefix}-top-k-help`} />
          <Form.Text id={`${idPrefix}-top-k-help`}>1 to 50; 5 when empty.</Form.Text>
        </Form.Group>
        <Form.Group controlId={`${idPrefix}-min-score`}>
          <Form.Label>Minimum score</Form.Label>
          <Form.Control name="minScore" type="number" step="any" defaultValue={minScore ?? undefined} aria-describedby={`${idPrefix}-min-score-help`} />
          <Form.Text id={`${idPrefix}-min-score-help`}>Optional; on the mode’s own scale: keyword at least 0, semantic −1 to 1, hybrid 0 to 0.0328. Empty: none.</Form.Text>
        </Form.Group>
        <Form.Group controlId={`${idPrefix}-per-document`}>
          <Form.Label>Passages per document</Form.Label>
          <Form.Control name="passagesPerDocument" type="number" min={1} max={50} defaultValue={passagesPerDocument ?? undefined} aria-describedby={`${idPrefix}-per-document-help`} />
          <Form.Text id={`${idPrefix}-per-document-help`}>At most this many from one document (its best); the next documents fill the answer. Empty: no limit.</Form.Text>
        </Form.Group>
      </div>
    </fieldset>
  );
}

/** The settings the form holds; an empty minimum score or passages per document is null (none), an empty top K the server's default. */
export function retrievalFrom(form: FormData, mode: RetrievalMode): { mode: RetrievalMode; topK?: number; minScore: number | null; passagesPerDocument: number | null } {
  const text = (name: string) => String(form.get(name) ?? '').trim();
  const numberOrNull = (name: string) => (text(name) ? Number(text(name)) : null);
  return { mode, topK: text('topK') ? Number(text('topK')) : undefined, minScore: numberOrNull('minScore'), passagesPerDocument: numberOrNull('passagesPerDocument') };
}
