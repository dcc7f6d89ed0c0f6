/**
 * Validating a registered type's configuration (model types, policy types) with its zod
 * schema: the parsed value, defaults filled in, or one BAD_USER_INPUT naming every problem
 * with its path (`config.baseUrl`, `configuration.patterns.0`).
 */
import { z } from 'zod';
import { ValidationError } from './errors.js';

export function validConfiguration<T>(schema: z.ZodType<T>, value: unknown, { typeName, field }: { typeName: string; field: string }): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((issue) => ({ path: [field, ...issue.path.map(String)].join('.'), message: issue.message }));
  throw new ValidationError(`Invalid ${typeName} configuration: ${issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ')}`, { field, issues });
}

/** A configuration schema as JSON Schema, for clients that build forms from it. */
export function configurationJsonSchema(schema: z.ZodType): Record<string, unknown> {
  return z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
}
