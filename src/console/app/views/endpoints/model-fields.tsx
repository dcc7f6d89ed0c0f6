/**
 * A model's settings as the create form and the edit dialog both ask for them: every
 * configuration field of its type (model-config.ts: label, what it does, range, default) and its
 * prices. Inputs are uncontrolled, named `config.<key>`, `promptMicrosPer1k` and
 * `completionMicrosPer1k`; `readModelFields` turns the submitted form into the API's input.
 * A field the last refusal names (`config.temperature`) is marked invalid with the server's words.
 */
import Form from 'react-bootstrap/Form';
import { invalidFields } from '../../sluice.js';
import { configFormValues, configFrom, MODEL_FIELDS, type ModelField } from './model-config.js';

export interface ModelSettings {
  config: Record<string, unknown>;
  promptMicrosPer1k: number;
  completionMicrosPer1k: number;
}

export function ModelFields({
  idPrefix,
  type,
  stored,
  failure,
}: {
  idPrefix: string;
  type: string;
  /** Editing: what the model has now (each field starts with it). Creating: undefined. */
  stored?: ModelSettings;
  /** The last refusal, if any: the fields it names are marked. */
  failure: unknown;
}) {
  const values = configFormValues(type, stored?.config);
  const invalid = invalidFields(failure);
  const fields = MODEL_FIELDS[type];

  const field = (spec: ModelField) => {
    const id = `${idPrefix}-${spec.key}`;
    const problem = invalid.get(`config.${spec.key}`);
    const numeric = spec.kind === 'integer' || spec.kind === 'decimal';
    return (
      <Form.Group className="mb-3" controlId={id} key={spec.key}>
        <Form.Label>
          {spec.label}
          {spec.required ? null : <span className="text-body-secondary small"> (optional)</span>}
        </Form.Label>
        <Form.Control
          name={`config.${spec.key}`}
          defaultValue={values[spec.key]}
          required={spec.required}
          placeholder={spec.placeholder}
          isInvalid={problem !== undefined}
          aria-invalid={problem !== undefined || undefined}
          aria-describedby={`${id}-help${problem ? ` ${id}-problem` : ''}`}
          {...(spec.kind === 'longtext'
            ? { as: 'textarea' as const, rows: 4, maxLength: spec.max }
            : numeric
              ? { type: 'number', min: spec.min, max: spec.max, step: spec.kind === 'decimal' ? 'any' : 1, inputMode: spec.kind === 'decimal' ? ('decimal' as const) : ('numeric' as const) }
              : { type: spec.kind === 'url' ? 'url' : 'text' })}
        />
        {problem ? (
          <Form.Control.Feedback type="invalid" id={`${id}-problem`}>
            {problem}
          </Form.Control.Feedback>
        ) : null}
        <Form.Text id={`${id}-help`}>{spec.help}</Form.Text>
      </Form.Group>
    );
  };

  const price = (key: 'promptMicrosPer1k' | 'completionMicrosPer1k', label: string) => {
    const id = `${idPrefix}-${key}`;
    const problem = invalid.get(key);
    return (
      <Form.Group className="mb-2" controlId={id}>
        <Form.Label>{label}</Form.Label>
        <Form.Control
          name={key}
          type="number"
          min={0}
          step={1}
          inputMode="numeric"
          defaultValue={stored?.[key] ?? 0}
          isInvalid={problem !== undefined}
          aria-invalid={problem !== undefined || undefined}
          aria-describedby={`${idPrefix}-prices-help${problem ? ` ${id}-problem` : ''}`}
        />
        {problem ? (
          <Form.Control.Feedback type="invalid" id={`${id}-problem`}>
            {problem}
          </Form.Control.Feedback>
        ) : null}
      </Form.Group>
    );
  };

  return (
    <>
      {fields ? (
        fields.map(field)
      ) : (
        <Form.Group className="mb-3" controlId={`${idPrefix}-json`}>
          <Form.Label>Configuration (JSON)</Form.Label>
          <Form.Control as="textarea" rows={5} className="font-monospace" name="config.json" defaultValue={values.json} aria-describedby={`${idPrefix}-json-help`} />
          <Form.Text id={`${idPrefix}-json-help`}>This console has no form for this type yet; the server checks the configuration against its schema.</Form.Text>
        </Form.Group>
      )}
      <fieldset className="mb-3">
        <legend className="form-label fs-6 mb-1">Prices (for usage cost)</legend>
        <p className="small mb-2" id={`${idPrefix}-prices-help`}>
          In micro-units of your currency per 1 000 tokens (1 000 000 = 1.00; 150 = 0.15 per million tokens); 0 counts calls as free. Usage records keep
          the cost at the time of each call.
        </p>
        {price('promptMicrosPer1k', 'Prompt tokens')}
        {price('completionMicrosPer1k', 'Completion tokens')}
      </fieldset>
    </>
  );
}

/** The configuration and prices a submitted form holds (editing: built on `stored`, see `configFrom`). */
export function readModelFields(form: FormData, type: string, stored?: ModelSettings): ModelSettings {
  const values: Record<string, string> = {};
  for (const [name, value] of form) if (name.startsWith('config.')) values[name.slice('config.'.length)] = String(value);
  const price = (name: string) => Number(String(form.get(name) ?? '').trim() || 0);
  return { config: configFrom(type, values, stored?.config), promptMicrosPer1k: price('promptMicrosPer1k'), completionMicrosPer1k: price('completionMicrosPer1k') };
}
