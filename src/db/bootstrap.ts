/**
 * Database bootstrap for the set-ups Sluice manages itself (embedded PostgreSQL, or a
 * development DATABASE_URL): the application database and the restricted login role the API
 * connects as. In production the operator creates both; see docs/operations.md.
 */
import pg from 'pg';

/** The role every grant and policy names; the API's login role is it or a member of it. */
export const APP_ROLE = 'sluice_app';

export async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export async function ensureDatabase(adminUrl: string, name: string): Promise<void> {
  await withClient(adminUrl, async (client) => {
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (!rowCount) await client.query(`create database ${client.escapeIdentifier(name)} encoding 'UTF8'`);
  });
}

/**
 * Creates (or brings up to date) the login role the API uses: no superuser, no BYPASSRLS, no
 * role or database creation. The password is a literal because DDL takes no parameters.
 */
export async function ensureAppRole(ownerUrl: string, password: string): Promise<void> {
  await withClient(ownerUrl, async (client) => {
    const attributes = `login nosuperuser nobypassrls nocreatedb nocreaterole inherit password ${client.escapeLiteral(password)}`;
    // Serialise concurrent starts: `create role` races otherwise.
    await client.query(`select pg_advisory_lock(hashtext('sluice:bootstrap'))`);
    try {
      const { rowCount } = await client.query('select 1 from pg_roles where rolname = $1', [APP_ROLE]);
      await client.query(`${rowCount ? 'alter' : 'create'} role ${APP_ROLE} ${rowCount ? 'with ' : ''}${attributes}`);
    } finally {
      await client.query(`select pg_advisory_unlock(hashtext('sluice:bootstrap'))`);
    }
  });
}

/** The owner URL with the app role's credentials. */
export function appUrlFrom(ownerUrl: string, password: string): string {
  const url = new URL(ownerUrl);
  url.username = APP_ROLE;
  url.password = password;
  return url.toString();
}

/** The owner URL pointed at another database on the same server. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}
