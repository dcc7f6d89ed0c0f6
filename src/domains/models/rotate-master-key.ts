/**
 * `sluice rotate-master-key`: re-seals every stored secret under the current master key, in
 * one transaction, as the owner role (across tenants). Run it after moving the old key to
 * SLUICE_MASTER_KEY_PREVIOUS and setting the new SLUICE_MASTER_KEY; once it reports nothing
 * left under an old key, the old key can be dropped.
 *
 * A secret that opens under none of the keys (sealed by a key not given, or damaged) is left
 * as it is and reported by model id: one bad row must not keep every other secret on a key
 * the operator wants to retire.
 *
 * It also binds keys sealed before keys were bound to their server's origin (model-key.ts):
 * each is re-sealed with the origin of the model's `baseUrl` as it is now, even under a
 * master key that is already current.
 *
 * Each re-sealed key is an event `model.key_resealed` on its tenant's chain (actor `system` /
 * `sluice rotate-master-key`), appended in the same transaction: the model row changes (its
 * key's seal and `updatedAt`), and a tenant's admins see why.
 */
import { withClient } from '../../db/bootstrap.js';
import type { SecretBox } from '../../platform/secrets/secret-box.js';
import type { AuditRecord } from '../audit/audit-log.js';
import { operatorActor, operatorEventsJson } from '../audit/operator-events.js';
import { keyDestinationOf, openKey, sealKey } from './model-key.js';

export interface RotationReport {
  resealed: number;
  alreadyCurrent: number;
  /** Of `resealed`, keys sealed before origins were bound, now bound to their model's origin. */
  boundToOrigin: number;
  /** Models whose key opens under none of the keys given; unchanged. */
  unreadable: string[];
}

export async function rotateMasterKey(ownerUrl: string, box: SecretBox): Promise<RotationReport> {
  return withClient(ownerUrl, async (client) => {
    await client.query('begin');
    try {
      const { rows } = await client.query<{ id: string; tenant_id: string; type: string; config: Record<string, unknown>; api_key_key_id: string; api_key_ciphertext: string }>(
        'select id, tenant_id, type, config, api_key_key_id, api_key_ciphertext from models where api_key_key_id is not null for update',
      );
      const events: AuditRecord[] = [];
      let resealed = 0;
      let alreadyCurrent = 0;
      let boundToOrigin = 0;
      const unreadable: string[] = [];
      for (const row of rows) {
        let opened: { key: string; bound: boolean };
        let origin: string | null;
        try {
          origin = keyDestinationOf(row.type, row.config);
          opened = openKey(box, { keyId: row.api_key_key_id, ciphertext: row.api_key_ciphertext }, row.id, origin);
        } catch {
          unreadable.push(row.id);
          continue;
        }
        if (opened.bound && !box.isStale({ keyId: row.api_key_key_id })) {
          alreadyCurrent += 1;
          continue;
        }
        if (!opened.bound) boundToOrigin += 1;
        const sealed = sealKey(box, opened.key, row.id, origin);
        await client.query('update models set api_key_ciphertext = $1, api_key_key_id = $2, updated_at = now() where id = $3', [
          sealed.ciphertext,
          sealed.keyId,
          row.id,
        ]);
        resealed += 1;
        events.push({
          tenantId: row.tenant_id,
          action: 'model.key_resealed',
          outcome: 'ok',
          actor: operatorActor('rotate-master-key'),
          // Master key ids are digests of the keys, never the keys; the model's own key is not named.
          details: { target: { type: 'Model', id: row.id }, masterKeyId: sealed.keyId, previousMasterKeyId: row.api_key_key_id, boundToOrigin: !opened.bound },
        });
      }
      if (events.length > 0) await client.query('select append_audit_events($1::jsonb)', [operatorEventsJson(box, events)]);
      await client.query('commit');
      return { resealed, alreadyCurrent, boundToOrigin, unreadable };
    } catch (error) {
      await client.query('rollback');
      throw error;
    }
  });
}
