/** Checks for the fields many objects share: names, slugs, descriptions. */
import { ValidationError } from './errors.js';

const SLUG = /^[a-z0-9-]{3,64}$/;

export function validName(name: string): string {
  const trimmed = name.trim();
  if (trimmed.length < 1 || trimmed.length > 255) throw new ValidationError('name must be 1 to 255 characters', { field: 'name' });
  return trimmed;
}

export function validSlug(slug: string): string {
  if (!SLUG.test(slug)) throw new ValidationError('slug must be 3 to 64 lowercase letters, digits or hyphens', { field: 'slug' });
  return slug;
}

export function validDescription(description: string | null | undefined): string | null {
  if (description == null || description.trim() === '') return null;
  if (description.length > 10_000) throw new ValidationError('description must be at most 10000 characters', { field: 'description' });
  return description.trim();
}

export function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, (character) => `\\${character}`);
}
