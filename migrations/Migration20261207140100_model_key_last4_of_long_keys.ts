import { Migration } from '@mikro-orm/migrations';

/**
 * Hand-written. A model's `apiKeyLast4` is shown only for a key of 16 characters or more
 * (model.service.ts): the last four of a 4-character key are all of it. Stored keys are sealed
 * (secret-box.ts: base64 of a 12-byte IV, a 16-byte tag and the key's UTF-8 bytes), so a key
 * under 16 bytes, and so under 16 characters, is told by its ciphertext's length; those lose
 * their last four. (A key of 16 bytes or more but fewer characters, non-ASCII, keeps them until
 * it is given again.)
 */
export class Migration20261207140100_model_key_last4_of_long_keys extends Migration {
  override async up(): Promise<void> {
    this.addSql(`update models set api_key_last4 = null
      where api_key_last4 is not null and api_key_ciphertext is not null and octet_length(decode(api_key_ciphertext, 'base64')) - 28 < 16`);
  }

  override async down(): Promise<void> {
    // What was hidden is not shown again.
  }
}
