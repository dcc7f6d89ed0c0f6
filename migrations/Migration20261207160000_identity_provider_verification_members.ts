import { Migration } from '@mikro-orm/migrations';

/**
 * Hand-written. An identity provider's inline key set is stored with only the members its
 * verifier reads (inline-key-set.ts): other members are dropped instead of refused, so key sets
 * as published (WebCrypto's `ext`, certificates, Microsoft Entra's `issuer`) are accepted. Key
 * sets stored under the 2026-12-07 rule may still hold certificates (`x5c`, `x5t`, `x5t#S256`,
 * `x5u`), and any stored before it members beside `keys`: both are dropped, so every stored set
 * reads as one registered today. Tokens never verified with them: every provider goes on working.
 */
export class Migration20261207160000_identity_provider_verification_members extends Migration {
  override async up(): Promise<void> {
    // The verifier's members of this change (json-web-keys.ts, JWK_VERIFICATION_MEMBERS), frozen.
    const members = `array['kty', 'n', 'e', 'crv', 'x', 'y', 'kid', 'alg', 'use', 'key_ops']::text[]`;
    const keyObject = `case when jsonb_typeof(k.value) = 'object' then k.value else '{}'::jsonb end`;
    this.addSql(`update identity_providers p
        set jwks = jsonb_build_object('keys', (
          select coalesce(jsonb_agg((select coalesce(jsonb_object_agg(m.key, m.value), '{}'::jsonb) from jsonb_each(${keyObject}) m where m.key = any(${members})) order by k.ordinality), '[]'::jsonb)
            from jsonb_array_elements(p.jwks->'keys') with ordinality k))
      where jsonb_typeof(p.jwks->'keys') = 'array'
        and (exists (select 1 from jsonb_object_keys(case when jsonb_typeof(p.jwks) = 'object' then p.jwks else '{}'::jsonb end) s where s <> 'keys')
             or exists (select 1 from jsonb_array_elements(p.jwks->'keys') k, jsonb_object_keys(${keyObject}) m where m <> all(${members})));`);
  }

  override async down(): Promise<void> {
    // The members dropped verified nothing: they are not put back.
  }
}
