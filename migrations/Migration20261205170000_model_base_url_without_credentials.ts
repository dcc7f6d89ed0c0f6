import { Migration } from '@mikro-orm/migrations';

/** Exported for test/endpoints/model-base-url.test.ts, which runs it over seeded rows. */
export const STRIP_BASE_URL_SECRETS_SQL = `
      update "models"
         set "config" = jsonb_set("config", '{baseUrl}',
               to_jsonb(regexp_replace(regexp_replace("config"->>'baseUrl', '^([A-Za-z][A-Za-z0-9+.-]*://)[^/?#]*@', '\\1'), '[?#].*$', ''))),
             "updated_at" = now()
       where "config" ? 'baseUrl' and ("config"->>'baseUrl' ~ '^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*@' or "config"->>'baseUrl' ~ '[?#]');`;

/**
 * A model's `config.baseUrl` may no longer carry credentials (`https://user:key@host/v1`) or a
 * query or fragment (`…/v1?api_key=…`): config is shown to every member of the tenant and
 * written to the audit trail, and only `apiKey` is sealed (models/providers/openai-http.ts,
 * `checkBaseUrl`). Models stored before the check lose those parts here. None of them could
 * work: the HTTP client refuses a URL with credentials, and the API path appended after a
 * query never reached the server's endpoint; each now fails the same way, without showing a
 * secret. Their audit rows stay (the trail is hash-chained); its free text is redacted from
 * now on.
 */
export class Migration20261205170000_model_base_url_without_credentials extends Migration {
  override async up(): Promise<void> {
    this.addSql(STRIP_BASE_URL_SECRETS_SQL);
  }

  override async down(): Promise<void> {
    // What was removed is not kept anywhere: nothing to restore.
  }
}
