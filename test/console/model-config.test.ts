/**
 * The console's table of model settings (src/console/app/views/endpoints/model-config.ts)
 * explains the server's configuration schemas; it must not drift from them. For every
 * registered model type: the same fields, the same required ones, the same kinds and ranges,
 * and each default the server fills in said in the field's help and shown as its placeholder.
 * Then how an edited form becomes the configuration sent (`updateModel` replaces it whole).
 */
import { describe, expect, it } from 'vitest';
import { configFormValues, configFrom, MODEL_FIELDS } from '../../src/console/app/views/endpoints/model-config.js';
import { configurationJsonSchema } from '../../src/domains/configuration.js';
import { modelTypes } from '../../src/domains/models/provider.js';
import '../../src/domains/models/providers/index.js';

interface PropertySchema {
  type: string;
  minimum?: number;
  maximum?: number;
  maxLength?: number;
  default?: unknown;
}

describe('the console’s model settings', () => {
  it.each(modelTypes().map((type) => [type.name, type] as const))('names every field of %s as the server checks it', (name, type) => {
    const schema = configurationJsonSchema(type.configSchema) as { properties: Record<string, PropertySchema>; required?: string[] };
    const fields = MODEL_FIELDS[name];
    expect(fields, `no console fields for model type ${name}`).toBeDefined();
    expect(fields!.map((field) => field.key).sort()).toEqual(Object.keys(schema.properties).sort());
    expect(fields!.filter((field) => field.required).map((field) => field.key).sort()).toEqual([...(schema.required ?? [])].sort());
    for (const field of fields!) {
      const property = schema.properties[field.key]!;
      const kinds = { integer: ['integer'], number: ['decimal'], string: ['url', 'text', 'longtext'] }[property.type] ?? [];
      expect(kinds, `${name}.${field.key}: ${property.type} asked as ${field.kind}`).toContain(field.kind);
      if (field.kind === 'integer' || field.kind === 'decimal') expect([field.key, field.min, field.max]).toEqual([field.key, property.minimum, property.maximum]);
      if (field.kind === 'longtext') expect([field.key, field.max]).toEqual([field.key, property.maxLength]);
      if (property.default !== undefined) {
        expect([field.key, field.placeholder]).toEqual([field.key, String(property.default)]);
        expect(field.help).toContain(`${String(property.default)} when left empty`);
      }
    }
  });

  it('keeps what the user left as it was, drops what they emptied, and sends what they typed', () => {
    const stored = { baseUrl: 'http://models.test/v1', model: 'm', temperature: 0.7, systemPrompt: 'Line one\r\nline two ', extra: 'kept' };
    const shown = configFormValues('openai-compatible', stored);
    expect(shown).toEqual({ baseUrl: 'http://models.test/v1', model: 'm', temperature: '0.7', maxTokens: '', systemPrompt: 'Line one\r\nline two ' });
    // A textarea gives \n for the stored \r\n: still untouched, so sent exactly as stored.
    const edited = configFrom('openai-compatible', { ...shown, systemPrompt: 'Line one\nline two ', temperature: '', maxTokens: ' 300 ' }, stored);
    expect(edited).toEqual({ baseUrl: 'http://models.test/v1', model: 'm', systemPrompt: 'Line one\r\nline two ', extra: 'kept', maxTokens: 300 });
    // Not a number: sent as typed, so the server's refusal names the field.
    expect(configFrom('openai-compatible', { ...shown, temperature: 'warm' }, stored).temperature).toBe('warm');
    // Creating: empty optional fields are left to the server's defaults; empty required ones are sent empty.
    expect(configFrom('openai-compatible-embeddings', { baseUrl: '', model: 'e', dimensions: '256', batchSize: '' })).toEqual({ baseUrl: '', model: 'e', dimensions: 256 });
  });

  it('edits a type it has no table for as JSON', () => {
    expect(configFormValues('future-type', { depth: 2 })).toEqual({ json: '{\n  "depth": 2\n}' });
    expect(configFrom('future-type', { json: '{"depth": 3}' }, { depth: 2 })).toEqual({ depth: 3 });
    expect(() => configFrom('future-type', { json: '{depth' })).toThrow(/not JSON/);
  });
});
