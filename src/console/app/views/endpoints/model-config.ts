/**
 * How the models view asks for each model type's configuration: one entry per field, with a
 * label and a sentence saying what it does, its range and its default. The server's zod schema
 * (src/domains/models/providers/) stays the rule; this table only explains it, and
 * test/console/model-config.test.ts checks it names the same fields and ranges. A type it does
 * not know (a server newer than the console) is edited as JSON, checked by the server all the same.
 */

export type ModelFieldKind = 'url' | 'text' | 'longtext' | 'integer' | 'decimal';

export interface ModelField {
  key: string;
  label: string;
  kind: ModelFieldKind;
  help: string;
  /** The server refuses the configuration without it; the others, left empty, are not sent (the default in `help` applies). */
  required?: boolean;
  placeholder?: string;
  min?: number;
  max?: number;
}

const BASE_URL: ModelField = {
  key: 'baseUrl',
  label: 'Server URL',
  kind: 'url',
  required: true,
  placeholder: 'https://api.openai.com/v1',
  help: 'Up to and including the API version. Private addresses are refused unless the operator allows them.',
};

const MODEL: ModelField = {
  key: 'model',
  label: 'Model name on the server',
  kind: 'text',
  required: true,
  help: 'As the server names it (gpt-4o-mini, llama3.1:8b), up to 255 characters.',
};

export const MODEL_FIELDS: Record<string, ModelField[]> = {
  extractive: [
    {
      key: 'maxSentences',
      label: 'Sentences per answer',
      kind: 'integer',
      min: 1,
      max: 20,
      placeholder: '3',
      help: 'How many of the best-matching sentences an answer quotes: 1 to 20; 3 when left empty.',
    },
  ],
  'openai-compatible': [
    BASE_URL,
    { ...MODEL, placeholder: 'gpt-4o-mini' },
    {
      key: 'temperature',
      label: 'Temperature',
      kind: 'decimal',
      min: 0,
      max: 2,
      help: 'How varied the answers are: 0 (the most predictable) to 2. Empty: the server’s default (1 at OpenAI).',
    },
    {
      key: 'maxTokens',
      label: 'Longest answer (tokens)',
      kind: 'integer',
      min: 1,
      max: 1_000_000,
      help: 'The most tokens the model may write for one answer: 1 to 1,000,000. Empty: the server’s own limit.',
    },
    {
      key: 'systemPrompt',
      label: 'System prompt',
      kind: 'longtext',
      max: 8192,
      help: 'The instructions sent before the passages, up to 8,192 characters. Empty: Sluice’s own (answer only from the passages, citing them as [n], and say so when they do not hold the answer).',
    },
  ],
  'openai-compatible-embeddings': [
    BASE_URL,
    { ...MODEL, placeholder: 'text-embedding-3-small' },
    {
      key: 'dimensions',
      label: 'Dimensions',
      kind: 'integer',
      min: 1,
      max: 8192,
      help: 'The length of each vector, 1 to 8,192: asked of the server (OpenAI’s text-embedding-3 models shorten to it) and checked on every answer. Empty: what the model gives.',
    },
    {
      key: 'batchSize',
      label: 'Texts per request (batch size)',
      kind: 'integer',
      min: 1,
      max: 2048,
      placeholder: '64',
      help: 'How many texts one request embeds: 1 to 2,048 (OpenAI’s limit; local servers often take far fewer); 64 when left empty.',
    },
  ],
};

/** The form's text for each field of a stored configuration (every field empty for a new model). */
export function configFormValues(type: string, config: Record<string, unknown> | undefined): Record<string, string> {
  const fields = MODEL_FIELDS[type];
  if (!fields) return { json: JSON.stringify(config ?? {}, null, 2) };
  const values: Record<string, string> = {};
  for (const field of fields) {
    const value = config?.[field.key];
    values[field.key] = value === undefined || value === null ? '' : String(value);
  }
  return values;
}

/**
 * The configuration to send. Editing (`stored` given), a field whose text the user left as it
 * was keeps its stored value exactly, and settings this table does not name are kept too:
 * `updateModel` replaces the whole configuration. Numbers that do not parse are sent as typed,
 * so the server's answer names the field; empty optional fields are left out (the server's
 * default), empty required ones are sent empty (refused with the field's own rule).
 */
export function configFrom(type: string, values: Record<string, string>, stored?: Record<string, unknown>): Record<string, unknown> {
  const fields = MODEL_FIELDS[type];
  if (!fields) {
    try {
      return JSON.parse(values.json || '{}') as Record<string, unknown>;
    } catch (error) {
      throw new Error(`The configuration is not JSON: ${(error as Error).message}`);
    }
  }
  const config: Record<string, unknown> = { ...stored };
  const before = configFormValues(type, stored);
  for (const field of fields) {
    // A textarea gives its line breaks as \n whatever was stored: compare without that difference.
    const text = lines(values[field.key] ?? '');
    if (stored && text === lines(before[field.key] ?? '')) continue;
    const raw = text.trim();
    if (raw === '' && field.required) config[field.key] = '';
    else if (raw === '') delete config[field.key];
    else if (field.kind === 'integer' || field.kind === 'decimal') config[field.key] = /^-?\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw;
    else config[field.key] = raw;
  }
  return config;
}

const lines = (text: string) => text.replace(/\r\n?/g, '\n');
