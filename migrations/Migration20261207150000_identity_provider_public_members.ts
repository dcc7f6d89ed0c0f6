import { Migration } from '@mikro-orm/migrations';

/**
 * Hand-written. An identity provider's inline key set took public members only from 2026-12-07
 * (identity-provider.service.ts); before, only a key with `d` was refused,
 * so one given with an RSA key's primes and CRT values (`p`, `q`, `dp`, `dq`, `qi`) but no `d`
 * was stored and shown to every reader of the providers (a secret review). Stored key sets
 * keep their public members only: tokens verify with those alone, so every provider goes on
 * working. The removed values were readable until now: docs/identity.md says to replace such
 * a key at the issuer.
 */
export class Migration20261207150000_identity_provider_public_members extends Migration {
  override async up(): Promise<void> {
    // The public members of 2026-12-07 (json-web-keys.ts then), frozen: this replays what ran.
    const publicMembers = `array['kty', 'n', 'e', 'crv', 'x', 'y', 'kid', 'alg', 'use', 'key_ops', 'x5c', 'x5t', 'x5t#S256', 'x5u']::text[]`;
    this.addSql(`update identity_providers p
        set jwks = jsonb_set(p.jwks, '{keys}', (
          select coalesce(jsonb_agg((select coalesce(jsonb_object_agg(m.key, m.value), '{}'::jsonb) from jsonb_each(k.value) m where m.key = any(${publicMembers})) order by k.ordinality), '[]'::jsonb)
            from jsonb_array_elements(p.jwks->'keys') with ordinality k))
      where jsonb_typeof(p.jwks->'keys') = 'array'
        and exists (select 1 from jsonb_array_elements(p.jwks->'keys') k, jsonb_object_keys(case when jsonb_typeof(k) = 'object' then k else '{}'::jsonb end) m
                     where m <> all(${publicMembers}));`);
  }

  override async down(): Promise<void> {
    // What was removed was a secret: it is not put back.
  }
}
