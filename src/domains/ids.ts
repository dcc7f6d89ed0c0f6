/** Every Sluice id is a UUID; anything else is a caller's mistake, refused before any query. */
import { ValidationError } from './errors.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID.test(value);
}

export function assertUuid(value: string, field = 'id'): string {
  if (!isUuid(value)) throw new ValidationError(`${field} is not a valid id`, { field });
  return value.toLowerCase();
}
