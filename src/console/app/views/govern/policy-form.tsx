/**
 * Creating or editing one policy: its type (fixed once created), a field per setting with what
 * it does, and whether it is on. The server checks the configuration; its refusal names each
 * field (`configuration.patterns.0: …`) and stays above the form until dismissed.
 */
import { useState, type FormEvent } from 'react';
import Button from 'react-bootstrap/Button';
import Form from 'react-bootstrap/Form';
import { ErrorAlert, useFailure } from '../../error-alert.js';
import { configurationFrom, formValues, POLICY_FIELDS, type PolicyField } from './policy-fields.js';

export interface PolicyTypeInfo {
  name: string;
  description: string;
}

export function PolicyForm({
  idPrefix,
  types,
  initial,
  submitLabel,
  onSubmit,
  onCancel,
}: {
  idPrefix: string;
  types: PolicyTypeInfo[];
  /** Editing: the stored policy (its type cannot change). Creating: undefined. */
  initial?: { type: string; configuration: Record<string, unknown>; enabled: boolean };
  submitLabel: string;
  onSubmit: (policy: { type: string; configuration: Record<string, unknown>; enabled: boolean }) => Promise<void>;
  onCancel?: () => void;
}) {
  const [type, setType] = useState(initial?.type ?? types[0]?.name ?? '');
  const [values, setValues] = useState(() => formValues(type, initial?.configuration));
  const [enabled, setEnabled] = useState(initial?.enabled ?? true);
  const [busy, setBusy] = useState(false);
  const [failure, fail, dismiss] = useFailure();
  const description = types.find((candidate) => candidate.name === type)?.description;
  const fields = POLICY_FIELDS[type];

  const chooseType = (next: string) => {
    setType(next);
    setValues(formValues(next, undefined));
  };

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    setBusy(true);
    try {
      await onSubmit({ type, configuration: configurationFrom(type, values), enabled });
      // Added: the form starts afresh for the next one (an earlier error stays until dismissed).
      if (!initial) setValues(formValues(type, undefined));
    } catch (error) {
      fail(error);
    } finally {
      setBusy(false);
    }
  };

  const field = (spec: PolicyField) => {
    const id = `${idPrefix}-${spec.key}`;
    const common = { name: spec.key, value: values[spec.key] ?? '', 'aria-describedby': `${id}-help`, onChange: (event: { target: { value: string } }) => setValues({ ...values, [spec.key]: event.target.value }) };
    return (
      <Form.Group className="mb-3" controlId={id} key={spec.key}>
        <Form.Label>{spec.label}</Form.Label>
        {spec.kind === 'choice' ? (
          <Form.Select {...common}>
            {spec.optional ? <option value="">server default</option> : null}
            {spec.choices?.map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </Form.Select>
        ) : spec.kind === 'lines' ? (
          <Form.Control as="textarea" rows={3} {...common} />
        ) : (
          <Form.Control type={spec.kind === 'number' ? 'number' : 'text'} inputMode={spec.kind === 'number' ? 'numeric' : undefined} {...common} />
        )}
        <Form.Text id={`${id}-help`}>{spec.help}</Form.Text>
      </Form.Group>
    );
  };

  return (
    <Form onSubmit={submit} noValidate id={`${idPrefix}-form`}>
      <ErrorAlert error={failure} onDismiss={dismiss} title={initial ? 'Could not save the policy' : 'Could not add the policy'} />
      <Form.Group className="mb-3" controlId={`${idPrefix}-type`}>
        <Form.Label>Type</Form.Label>
        <Form.Select value={type} disabled={initial !== undefined} onChange={(event) => chooseType(event.target.value)} aria-describedby={`${idPrefix}-type-help`}>
          {types.map((candidate) => (
            <option key={candidate.name} value={candidate.name}>
              {candidate.name}
            </option>
          ))}
        </Form.Select>
        <Form.Text id={`${idPrefix}-type-help`}>{initial ? `A policy's type does not change. ${description ?? ''}` : description}</Form.Text>
      </Form.Group>
      {fields ? (
        fields.map(field)
      ) : (
        <Form.Group className="mb-3" controlId={`${idPrefix}-json`}>
          <Form.Label>Configuration (JSON)</Form.Label>
          <Form.Control as="textarea" rows={5} className="font-monospace" value={values.json ?? '{}'} onChange={(event) => setValues({ json: event.target.value })} aria-describedby={`${idPrefix}-json-help`} />
          <Form.Text id={`${idPrefix}-json-help`}>This console has no form for this type yet; the server checks the configuration against its schema.</Form.Text>
        </Form.Group>
      )}
      <Form.Check type="switch" id={`${idPrefix}-enabled`} className="mb-3" label="Enabled: evaluated for every query" checked={enabled} onChange={(event) => setEnabled(event.target.checked)} />
      <div className="d-flex gap-2">
        <Button type="submit" disabled={busy || !type}>
          {submitLabel}
        </Button>
        {onCancel ? (
          <Button variant="secondary" onClick={onCancel}>
            Cancel
          </Button>
        ) : null}
      </div>
    </Form>
  );
}
