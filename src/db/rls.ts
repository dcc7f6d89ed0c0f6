/**
 * SQL for the PostgreSQL isolation layer, used by migrations. A tenant-owned table gets row-level
 * security, FORCEd so even its owner is subject to it, with policies keyed on the transaction's
 * `app.tenant_id`. test/isolation checks that every table with a tenant_id column has them.
 *
 * Applied migrations replay these functions on a fresh database: change their output only in
 * ways every earlier migration can live with, or copy the old SQL into that migration first.
 */
import { APP_ROLE } from './bootstrap.js';

/** Once per database: the app role (if the operator has not made it), settings readers. */
export function rlsFoundationSql(): string[] {
  return [
    `do $$ begin
       if not exists (select from pg_roles where rolname = '${APP_ROLE}') then
         create role ${APP_ROLE} nologin nosuperuser nobypassrls;
       end if;
     end $$;`,
    `grant usage on schema public to ${APP_ROLE};`,
    `grant select on table mikro_orm_migrations to ${APP_ROLE};`,
    // `nullif`: after a transaction-local set_config ends, a pooled connection reports '' (not NULL).
    `create or replace function app_current_tenant() returns uuid language sql stable parallel safe as
       $$ select nullif(current_setting('app.tenant_id', true), '')::uuid $$;`,
    `create or replace function app_current_user() returns uuid language sql stable parallel safe as
       $$ select nullif(current_setting('app.user_id', true), '')::uuid $$;`,
  ];
}

/** Grants for a table the app may read and write but that is not tenant-owned. */
export function appTableGrantSql(table: string, privileges = 'select, insert, update, delete'): string[] {
  return [`grant ${privileges} on table "${table}" to ${APP_ROLE};`];
}

/**
 * Row-level security for a tenant-owned table. `readableByOwnUser`: a user may also read rows
 * that name them in another tenant (their own memberships, to pick a tenant at log-in);
 * writes are always confined to the current tenant.
 */
export function tenantTableSql(table: string, options: { readableByOwnUser?: boolean } = {}): string[] {
  const inTenant = 'tenant_id = app_current_tenant()';
  const readable = options.readableByOwnUser ? `${inTenant} or user_id = app_current_user()` : inTenant;
  return [
    ...appTableGrantSql(table),
    `alter table "${table}" enable row level security;`,
    `alter table "${table}" force row level security;`,
    `create policy tenant_select on "${table}" for select using (${readable});`,
    `create policy tenant_insert on "${table}" for insert with check (${inTenant});`,
    `create policy tenant_update on "${table}" for update using (${inTenant}) with check (${inTenant});`,
    `create policy tenant_delete on "${table}" for delete using (${inTenant});`,
  ];
}

/**
 * Lets the migrating role (the owner of the tables and of the credential-lookup functions)
 * read a tenant-owned table across tenants. FORCEd RLS binds the owner too; these functions
 * run as the owner (SECURITY DEFINER) to find a credential before its tenant is known. The
 * app role gets no such policy: it reaches those rows only through the functions.
 */
export function ownerLookupSql(table: string, commands: ('select' | 'update')[] = ['select']): string[] {
  return commands.map(
    (command) =>
      `create policy owner_${command}_lookup on "${table}" for ${command} to current_user using (true)${command === 'update' ? ' with check (true)' : ''};`,
  );
}

/**
 * A SECURITY DEFINER function the app role may call: fixed search_path (no object shadowing),
 * execute revoked from PUBLIC and granted to the app role only.
 */
export function definerFunctionSql(signature: string, definition: string): string[] {
  return [
    `create or replace function ${signature} ${definition}`,
    `alter function ${signature.replace(/\)\s*returns[\s\S]*$/, ')')} set search_path = public, pg_temp;`,
    `revoke all on function ${signature.replace(/\)\s*returns[\s\S]*$/, ')')} from public;`,
    `grant execute on function ${signature.replace(/\)\s*returns[\s\S]*$/, ')')} to ${APP_ROLE};`,
  ];
}
