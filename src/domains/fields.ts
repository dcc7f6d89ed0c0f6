/** Checks for the fields many objects share: names, slugs, descriptions, emails. */
import { z } from 'zod';
import { displayDescription, displayName } from './display-text.js';
import { ValidationError } from './errors.js';

/** The longest slug (datasets, endpoints, tenants). */
export const SLUG_MAX = 64;
const SLUG = new RegExp(`^[a-z0-9-]{3,${SLUG_MAX}}$`);
/** The longest email an account may have (64 for the local part, @, 255 for the domain). */
export const EMAIL_MAX = 320;
/** The longest endpoint reference, `tenantSlug/endpointSlug`. */
export const REFERENCE_MAX = 2 * SLUG_MAX + 1;

/** A name, cleaned and bounded as every displayed name is (display-text.ts). */
export function validName(name: string): string {
  return displayName(name, 'name');
}

const emailSchema = z.email({ message: 'Enter a valid email address' }).max(EMAIL_MAX);

/** A user's email as stored and compared: trimmed, lower-case, and valid. */
export function normalizeEmail(email: string): string {
  const normalized = email.trim().toLowerCase();
  const parsed = emailSchema.safeParse(normalized);
  if (!parsed.success) throw new ValidationError('Enter a valid email address', { field: 'email' });
  return normalized;
}

/** Whether `email` (trimmed, lower-case) is shaped like an address an account could have. */
export function looksLikeEmail(email: string): boolean {
  return emailSchema.safeParse(email.trim().toLowerCase()).success;
}

export function validSlug(slug: string): string {
  if (!SLUG.test(slug)) throw new ValidationError('slug must be 3 to 64 lowercase letters, digits or hyphens', { field: 'slug' });
  return slug;
}

export function validDescription(description: string | null | undefined): string | null {
  return displayDescription(description);
}

/** Document retention: 1 hour to 10 years; null keeps documents until they are deleted. */
export const MAX_RETENTION_HOURS = 87_600;
export function retentionHours(field: string, hours: number | null): number | null {
  if (hours === null) return null;
  if (!Number.isInteger(hours) || hours < 1 || hours > MAX_RETENTION_HOURS) {
    throw new ValidationError(`${field} must be 1 to ${MAX_RETENTION_HOURS} hours, or null`, { field });
  }
  return hours;
}

/**
 * `value` as literal text inside a LIKE/ILIKE pattern: `%`, `_` and the escape character `\`
 * itself escaped. Use with `like ? escape '\'` (PostgreSQL's default escape, said explicitly).
 */
export function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, (character) => `\\${character}`);
}
