/**
 * What the console offers the signed-in caller: only the views and actions the API will answer,
 * after the permissions the server says the caller holds (`viewer.permissions`, read by the
 * session: held-permissions.ts). No rule of the server's table is repeated here: a view names
 * the permission its main query needs, an action the permission of the mutation it runs (the
 * schema's authScopes on those fields), and a refused field would be an error on the whole page.
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

/**
 * The permission each mutation field needs: its authScopes in the schema, every mutation that
 * asks for a permission (test/console/may.test.ts compares this table with the built schema, so
 * a new or changed rule fails there rather than here, offering what the API refuses).
 */
export const MUTATION_PERMISSIONS: Readonly<Record<string, Permission>> = {
  createDataset: 'DATA_WRITE',
  updateDataset: 'DATA_WRITE',
  deleteDataset: 'DATA_WRITE',
  deleteDocument: 'DATA_WRITE',
  ingestDocuments: 'DATA_WRITE',
  cancelIngestion: 'DATA_WRITE',
  retryIngestion: 'DATA_WRITE',
  reembedDataset: 'DATA_WRITE',
  createModel: 'MODEL_MANAGE',
  updateModel: 'MODEL_MANAGE',
  testModel: 'MODEL_MANAGE',
  deleteModel: 'MODEL_MANAGE',
  createEndpoint: 'ENDPOINT_MANAGE',
  updateEndpoint: 'ENDPOINT_MANAGE',
  deleteEndpoint: 'ENDPOINT_MANAGE',
  createPolicy: 'POLICY_MANAGE',
  updatePolicy: 'POLICY_MANAGE',
  deletePolicy: 'POLICY_MANAGE',
  // The lower of its two bars (the rate limits); the other fields take TENANT_MANAGE (tenant-settings.tsx).
  updateTenantSettings: 'POLICY_MANAGE',
  createApiKey: 'API_KEY_MANAGE',
  rotateApiKey: 'API_KEY_MANAGE',
  revokeApiKey: 'API_KEY_MANAGE',
  inviteMember: 'MEMBER_MANAGE',
  revokeInvitation: 'MEMBER_MANAGE',
  updateMemberRole: 'MEMBER_MANAGE',
  removeMember: 'MEMBER_MANAGE',
  registerIdentityProvider: 'IDENTITY_PROVIDER_MANAGE',
  updateIdentityProvider: 'IDENTITY_PROVIDER_MANAGE',
  removeIdentityProvider: 'IDENTITY_PROVIDER_MANAGE',
};

/** The part of a typed document (the SDK's generated `…Document`) read here: its operations' top-level fields. */
export interface OperationDocument {
  readonly definitions: readonly { readonly kind: string; readonly operation?: string; readonly selectionSet?: { readonly selections: readonly { readonly kind: string; readonly name?: { readonly value: string } }[] } }[];
}

/** Whether the caller may open the view at `pathname` (a view not listed needs nothing: the account, switching tenant, not found). */
export function mayOpen(may: May, pathname: string): boolean {
  const needed = VIEW_PERMISSIONS[pathname.split('/').filter(Boolean)[0] ?? ''];
  return !needed || may(needed);
}

/**
 * Whether the caller may run `mutation` (a typed document of the SDK, the one the control
 * sends): it holds the permission of each of its fields. The control that runs it is offered
 * only then. A mutation field not in the table is not offered: a guess would be a refusal.
 */
export function mayRun(may: May, mutation: OperationDocument): boolean {
  const fields = mutation.definitions
    .filter((definition) => definition.kind === 'OperationDefinition' && definition.operation === 'mutation')
    .flatMap((definition) => definition.selectionSet?.selections ?? [])
    .map((selection) => (selection.kind === 'Field' ? selection.name?.value : undefined));
  return (
    fields.length > 0 &&
    fields.every((field) => {
      const needed = field === undefined ? undefined : MUTATION_PERMISSIONS[field];
      return needed !== undefined && may(needed);
    })
  );
}

/**
 * CONFIG_READ: the IP allow-list, models' configuration and key endings, policies'
 * configuration. Those who may change them; the others see that they exist.
 */
export function mayReadConfiguration(may: May): boolean {
  return may('CONFIG_READ');
}
