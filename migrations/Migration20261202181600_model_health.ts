import { Migration } from '@mikro-orm/migrations';
import { definerFunctionSql } from '../src/db/rls.js';

/**
 * Hand-written: model health (docs/endpoints.md#health). The worker's checks write each
 * model's health onto its row, so a query reads it with the model it already loads (no
 * statement more on the query path), and each published endpoint's (the worst of its models)
 * onto the endpoint's. `endpoint_health` reads endpoints' health by id across tenants for
 * the catalog, for published endpoints and the caller's own only, and nothing but health.
 */
export class Migration20261202181600_model_health extends Migration {
  override async up(): Promise<void> {
    for (const table of ['models', 'endpoints']) {
      this.addSql(
        `alter table "${table}" add column "health_status" text null check ("health_status" in ('HEALTHY', 'DEGRADED', 'DOWN')), ` +
          `add column "health_checked_at" timestamptz null, add column "health_latency_ms" int null, add column "health_error" varchar(500) null;`,
      );
    }
    // The recent outcomes, oldest first: `o` answered, `x` failed (the window the status is judged on).
    this.addSql(`alter table "models" add column "health_recent" varchar(32) null;`);
    for (const statement of definerFunctionSql(
      `endpoint_health(p_endpoint_ids uuid[]) returns table (endpoint_id uuid, status text, checked_at timestamptz, latency_ms int, error text)`,
      `language sql stable security definer as $$
         select e.id, e.health_status, e.health_checked_at, e.health_latency_ms, e.health_error
           from endpoints e
          where e.id = any(p_endpoint_ids) and e.health_status is not null
            and (e.published or e.tenant_id = app_current_tenant())
       $$;`,
    )) {
      this.addSql(statement);
    }
  }

  override async down(): Promise<void> {
    this.addSql('drop function if exists endpoint_health(uuid[]);');
    this.addSql(`alter table "models" drop column "health_recent";`);
    for (const table of ['models', 'endpoints']) {
      this.addSql(`alter table "${table}" drop column "health_status", drop column "health_checked_at", drop column "health_latency_ms", drop column "health_error";`);
    }
  }
}
