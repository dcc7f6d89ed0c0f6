/**
 * The GraphQL enum `Permission`, made from the rule table (domains/access/permissions.ts) so it
 * cannot drift from it: `tenant:read` is TENANT_READ, `memberEmail:read` MEMBER_EMAIL_READ, each
 * described by its rule's doc. `viewer.permissions` answers with it.
 */
import { PERMISSIONS, type Permission } from '../domains/access/permissions.js';
import { builder } from './builder.js';

/** `memberEmail:read` → MEMBER_EMAIL_READ: camelCase words and the colon become underscores. */
export function permissionEnumName(permission: Permission): string {
  return permission.replace(/([a-z])([A-Z])/g, '$1_$2').replace(':', '_').toUpperCase();
}

const values = Object.fromEntries(
  (Object.entries(PERMISSIONS) as [Permission, { doc: string }][]).map(([permission, rule]) => [permissionEnumName(permission), { value: permission, description: rule.doc }]),
) as Record<string, { value: Permission; description: string }>;

export const PermissionEnum = builder.enumType('Permission', {
  description: 'What a caller may do in its tenant: one rule of the server’s table (the least role, and the scope an API key needs). See `viewer.permissions`.',
  values,
});
