/**
 * The console offers an action only when the caller holds the permission its mutation needs
 * (src/console/app/may.ts, `mayRun`). Its table of those permissions must be the schema's: every
 * mutation field whose authScopes ask for a permission, with that permission's enum name, and
 * nothing else. A new mutation, or a rule changed on the server, fails here.
 */
import { GraphQLObjectType } from 'graphql';
import { describe, expect, it } from 'vitest';
import { MUTATION_PERMISSIONS, mayRun } from '../../src/console/app/may.js';
import type { Permission as DomainPermission } from '../../src/domains/access/permissions.js';
import { schema } from '../../src/schema/index.js';
import { permissionEnumName } from '../../src/schema/permissions.js';
import * as sdk from '../../src/sdk/index.js';

/** Each mutation field's permission, as its authScopes say (`{ permission }` alone). */
function schemaMutationPermissions(): Record<string, string> {
  const mutation = schema.getMutationType();
  if (!(mutation instanceof GraphQLObjectType)) throw new Error('the schema has no mutations');
  const table: Record<string, string> = {};
  for (const [name, field] of Object.entries(mutation.getFields())) {
    const scopes = (field.extensions as { pothosOptions?: { authScopes?: unknown } }).pothosOptions?.authScopes;
    if (scopes && typeof scopes === 'object' && 'permission' in scopes) {
      expect(Object.keys(scopes), `${name}'s authScopes`).toEqual(['permission']);
      table[name] = permissionEnumName((scopes as { permission: DomainPermission }).permission);
    }
  }
  return table;
}

describe('the console’s mutation permissions', () => {
  it('are the schema’s authScopes, for every mutation that asks for a permission', () => {
    const fromSchema = schemaMutationPermissions();
    expect(Object.keys(fromSchema).length).toBeGreaterThan(20);
    expect({ ...MUTATION_PERMISSIONS }).toEqual(fromSchema);
  });

  it('mayRun asks for the permission of the document’s field: granted with it, refused without it or for a field not listed', () => {
    const holding = (...held: sdk.Permission[]) => (permission: sdk.Permission) => held.includes(permission);
    expect(mayRun(holding('DATA_WRITE'), sdk.CreateDatasetDocument)).toBe(true);
    expect(mayRun(holding('TENANT_READ', 'ENDPOINT_QUERY'), sdk.CreateDatasetDocument)).toBe(false);
    expect(mayRun(holding('DATA_WRITE'), sdk.ConsoleCreateEndpointDocument)).toBe(false);
    expect(mayRun(holding('ENDPOINT_MANAGE'), sdk.ConsoleCreateEndpointDocument)).toBe(true);
    expect(mayRun(holding('DATA_WRITE', 'MODEL_MANAGE'), sdk.TestModelDocument)).toBe(true);
    // deleteMyAccount asks for no permission (any signed-in person): not an action the table offers.
    expect(mayRun(holding('TENANT_MANAGE'), sdk.DeleteMyAccountDocument)).toBe(false);
    // A query is no mutation.
    expect(mayRun(holding('TENANT_READ'), sdk.DatasetsDocument)).toBe(false);
  });
});
