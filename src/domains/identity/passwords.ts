/**
 * Password hashing: argon2id with @node-rs/argon2's defaults (19 MiB, 2 passes, OWASP's
 * recommendation). Lengths are bounded both ways: a floor for strength, a ceiling so nobody
 * makes the server hash megabytes.
 */
import { hash, verify } from '@node-rs/argon2';
import { ValidationError } from '../errors.js';

export const PASSWORD_MIN_LENGTH = 10;
export const PASSWORD_MAX_BYTES = 256;

export function assertAcceptablePassword(password: string): void {
  if ([...password].length < PASSWORD_MIN_LENGTH) {
    throw new ValidationError(`Password must be at least ${PASSWORD_MIN_LENGTH} characters`, { field: 'password' });
  }
  if (Buffer.byteLength(password, 'utf8') > PASSWORD_MAX_BYTES) {
    throw new ValidationError(`Password must be at most ${PASSWORD_MAX_BYTES} bytes`, { field: 'password' });
  }
}

export function hashPassword(password: string): Promise<string> {
  return hash(password);
}

/** A hash of nothing anyone knows, verified against when the email is unknown, to take as long. */
let decoy: Promise<string> | undefined;

/** True when `password` matches; with no hash (unknown user) does the same work and says false. */
export async function verifyPassword(passwordHash: string | null | undefined, password: string): Promise<boolean> {
  if (Buffer.byteLength(password, 'utf8') > PASSWORD_MAX_BYTES) return false;
  decoy ??= hash('decoy password for unknown accounts');
  const target = passwordHash ?? (await decoy);
  const matches = await verify(target, password).catch(() => false);
  return matches && passwordHash != null;
}
