/**
 * The ingestion options of `ingestDocuments` (docs/ingestion.md: chunking, CSV, JSON) for the
 * next files dropped or chosen. Collapsed by default: most uploads want the server's defaults.
 * A field left empty is not sent, so the server's default applies (and stays the server's to
 * change); the server checks the values (chunkSize 100–20000, …) and a refusal is shown by the
 * panel like any other, with nothing ingested.
 */
import { useId, useState } from 'react';
import Button from 'react-bootstrap/Button';
import Collapse from 'react-bootstrap/Collapse';
import Form from 'react-bootstrap/Form';
import type { CsvMode, IngestionOptionsInput } from '../../../../sdk/index.js';

/** What the fields hold, as typed: every one may be empty. */
export interface OptionFields {
  chunkSize: string;
  chunkOverlap: string;
  csvMode: '' | CsvMode;
  csvTextColumns: string;
  csvTitleColumn: string;
  csvIdColumn: string;
  jsonTextField: string;
  jsonTitleField: string;
  jsonIdField: string;
}

export const NO_OPTIONS: OptionFields = {
  chunkSize: '',
  chunkOverlap: '',
  csvMode: '',
  csvTextColumns: '',
  csvTitleColumn: '',
  csvIdColumn: '',
  jsonTextField: '',
  jsonTitleField: '',
  jsonIdField: '',
};

type TextField = Exclude<keyof OptionFields, 'csvMode'>;

interface FieldSpec {
  key: TextField;
  label: string;
  help: string;
  numeric?: boolean;
}

// The helps repeat the schema's descriptions (defaults, ranges), shortened to one line.
const GROUPS: { title: string; fields: FieldSpec[] }[] = [
  {
    title: 'Chunking',
    fields: [
      { key: 'chunkSize', label: 'Chunk size', help: 'Characters per chunk, 100 to 20000 (default 1000).', numeric: true },
      { key: 'chunkOverlap', label: 'Chunk overlap', help: 'Characters repeated between neighbouring chunks, 0 to half the chunk size (default 150).', numeric: true },
    ],
  },
  {
    title: 'CSV',
    fields: [
      { key: 'csvTextColumns', label: 'Text columns', help: 'Comma-separated column names holding the text (default: all, as “column: value” lines).' },
      { key: 'csvTitleColumn', label: 'Title column', help: 'The column with each document’s title (default: none).' },
      { key: 'csvIdColumn', label: 'Id column', help: 'A stable id per row (default: the row number).' },
    ],
  },
  {
    title: 'JSON and JSON Lines',
    fields: [
      { key: 'jsonTextField', label: 'Text field', help: 'The field with the text, dotted paths work (default “text”).' },
      { key: 'jsonTitleField', label: 'Title field', help: 'The field with the title (default “title”).' },
      { key: 'jsonIdField', label: 'Id field', help: 'A stable id that names each record (default: its position).' },
    ],
  },
];

/**
 * The options to send, only those filled in; undefined when none is. A number field that is
 * not a whole number is refused here with its label, since GraphQL would only say "Int".
 */
export function optionsToSend(fields: OptionFields): IngestionOptionsInput | undefined {
  const options: IngestionOptionsInput = {};
  for (const { fields: specs } of GROUPS) {
    for (const { key, label, numeric } of specs) {
      const text = fields[key].trim();
      if (text === '') continue;
      if (key === 'csvTextColumns') {
        const columns = text.split(',').map((column) => column.trim()).filter(Boolean);
        if (columns.length > 0) options.csvTextColumns = columns;
      } else if (numeric) {
        if (!/^\d+$/.test(text)) throw new Error(`${label} must be a whole number of characters (it is “${text}”)`);
        (options as Record<string, unknown>)[key] = Number(text);
      } else {
        (options as Record<string, unknown>)[key] = text;
      }
    }
  }
  if (fields.csvMode) options.csvMode = fields.csvMode;
  return Object.keys(options).length > 0 ? options : undefined;
}

export function IngestOptions({ value, onChange, disabled }: { value: OptionFields; onChange: (value: OptionFields) => void; disabled: boolean }) {
  const [open, setOpen] = useState(false);
  const id = useId();
  const set = Object.values(value).filter((field) => field.trim() !== '').length;
  return (
    <div className="mb-2" id="ingest-options">
      <Button variant="link" className="px-0" aria-expanded={open} aria-controls={`${id}-body`} onClick={() => setOpen(!open)}>
        {open ? '▾' : '▸'} Options{set > 0 ? ` (${set} set)` : ''}
      </Button>
      <Collapse in={open}>
        <div id={`${id}-body`}>
          <p className="small text-body-secondary mb-2">For the next files dropped or chosen; an empty field keeps the server’s default.</p>
          <div className="row g-3">
            {GROUPS.map((group) => (
              <fieldset key={group.title} className="col-12 col-lg-4" disabled={disabled}>
                <legend className="h6">{group.title}</legend>
                {group.title === 'CSV' ? (
                  <Form.Group className="mb-2" controlId={`${id}-csvMode`}>
                    <Form.Label>CSV mode</Form.Label>
                    <Form.Select aria-describedby={`${id}-csvMode-help`} value={value.csvMode} onChange={(event) => onChange({ ...value, csvMode: event.currentTarget.value as OptionFields['csvMode'] })}>
                      <option value="">Server default</option>
                      <option value="ROW">ROW: a document per row</option>
                      <option value="FILE">FILE: a document per file</option>
                    </Form.Select>
                    <Form.Text id={`${id}-csvMode-help`}>A document per row (default) or per file.</Form.Text>
                  </Form.Group>
                ) : null}
                {group.fields.map((field) => (
                  <Form.Group key={field.key} className="mb-2" controlId={`${id}-${field.key}`}>
                    <Form.Label>{field.label}</Form.Label>
                    <Form.Control
                      type="text"
                      inputMode={field.numeric ? 'numeric' : undefined}
                      aria-describedby={`${id}-${field.key}-help`}
                      value={value[field.key]}
                      onChange={(event) => onChange({ ...value, [field.key]: event.currentTarget.value })}
                    />
                    <Form.Text id={`${id}-${field.key}-help`}>{field.help}</Form.Text>
                  </Form.Group>
                ))}
              </fieldset>
            ))}
          </div>
          <Button variant="outline-secondary" size="sm" className="mt-2" disabled={disabled || set === 0} onClick={() => onChange(NO_OPTIONS)}>
            Clear options
          </Button>
        </div>
      </Collapse>
    </div>
  );
}
