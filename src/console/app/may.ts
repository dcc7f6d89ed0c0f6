/**
 * What the console offers the signed-in caller: only the views and actions the API will answer,
 * after the permissions the server says the caller holds (`viewer.permissions`, read by the
 * session: held-permissions.ts). No rule of the server's table is repeated here; a view names
 * the permission its main query needs (the schema's authScopes on that query), and a refused
 * field would be an error on the whole page.
 */
import type { Permission } from '../../sdk/index.js';

/** A session's question, `useSession().may`. */
type May = (permission: Permission) => boolean;

/** The permission each view's main query needs, by its path's first segment; null: none (the catalog is open to anyone). */
const VIEW_PERMISSIONS: Record<string, Permission | null> = {
  datasets: 'TENANT_READ',
  models: 'TENANT_READ',
  endpoints: 'TENANT_READ',
  catalog: null,
  playground: 'ENDPOINT_QUERY',
  policies: 'TENANT_READ',
  'api-keys': 'API_KEY_MANAGE',
  members: 'TENANT_READ',
  'identity-providers': 'IDENTITY_PROVIDER_MANAGE',
  'tenant-settings': 'TENANT_READ',
  usage: 'USAGE_READ',
  audit: 'AUDIT_READ',
};

/** Whether the caller may open the view at `pathname` (a view not listed needs nothing: the account, switching tenant, not found). */
export function mayOpen(may: May, pathname: string): boolean {
  const needed = VIEW_PERMISSIONS[pathname.split('/').filter(Boolean)[0] ?? ''];
  return !needed || may(needed);
}

/**
 * CONFIG_READ: the IP allow-list, models' configuration and key endings, policies'
 * configuration. Those who may change them; the others see that they exist.
 */
export function mayReadConfiguration(may: May): boolean {
  return may('CONFIG_READ');
}
