/**
 * What the signed-in role may read, so views ask the API only for fields it will answer (a field
 * refused is an error on the whole page). Mirrors the server's rule table
 * (src/domains/access/permissions.ts), which stays the authority: a console session is a person
 * (a user or an external identity), who holds every scope of their role.
 */
import type { SignedIn } from './session.js';

/**
 * `config:read`: the IP allow-list, models' configuration and key endings, policies'
 * configuration. Those who may change them (ADMIN, OWNER); the others see that they exist.
 */
export function mayReadConfiguration(signedIn: SignedIn | undefined): boolean {
  return signedIn?.role === 'OWNER' || signedIn?.role === 'ADMIN';
}
