/**
 * Secrets at rest (model providers' API keys): AES-256-GCM under the master key, with a fresh
 * 96-bit IV per encryption and the owning row's id as associated data, so a ciphertext copied
 * onto another row (or another tenant's) fails to open. Each ciphertext records the id of the
 * key that sealed it: after SLUICE_MASTER_KEY changes, the old key stays readable through
 * SLUICE_MASTER_KEY_PREVIOUS until `sluice rotate-master-key` has re-sealed everything.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes } from 'node:crypto';

const IV_BYTES = 12;
const TAG_BYTES = 16;

export interface Sealed {
  keyId: string;
  /** base64(iv ‖ tag ‖ ciphertext) */
  ciphertext: string;
}

/** A short, stable, non-secret name for a key (a digest, never the key). */
export function keyIdOf(key: Buffer): string {
  return createHash('sha256').update('sluice master key id\0').update(key).digest('hex').slice(0, 16);
}

export class SecretBox {
  private readonly keys: Map<string, Buffer>;
  /**
   * Digest keys derived so far, by key id and purpose: HKDF ran for every audit event and
   * anonymous caller before (a tenth of a millisecond each). Purposes are the code's own
   * constants, so this stays a handful of entries.
   */
  private readonly digestKeys = new Map<string, Buffer>();
  readonly currentKeyId: string;

  /** `current` seals; `current` and every `previous` key open. */
  constructor(private readonly current: Buffer, previous: readonly Buffer[] = []) {
    for (const key of [current, ...previous]) {
      if (key.length !== 32) throw new Error('master keys must be 32 bytes');
    }
    this.currentKeyId = keyIdOf(current);
    this.keys = new Map([...previous, current].map((key) => [keyIdOf(key), key]));
  }

  seal(plaintext: string, associatedData: string): Sealed {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.current, iv);
    cipher.setAAD(Buffer.from(associatedData, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return { keyId: this.currentKeyId, ciphertext: Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64') };
  }

  open({ keyId, ciphertext }: Sealed, associatedData: string): string {
    const key = this.keys.get(keyId);
    if (!key) throw new SecretBoxError(`sealed with master key ${keyId}, which is neither SLUICE_MASTER_KEY nor in SLUICE_MASTER_KEY_PREVIOUS`);
    const raw = Buffer.from(ciphertext, 'base64');
    if (raw.length < IV_BYTES + TAG_BYTES) throw new SecretBoxError('ciphertext is truncated');
    const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(associatedData, 'utf8'));
    decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      throw new SecretBoxError('ciphertext failed authentication (wrong key, wrong row, or altered)');
    }
  }

  /**
   * A keyed digest (HMAC-SHA256 under a key derived from the master key for `purpose`): stands
   * for personal data (an email in the audit trail) without revealing it to anyone without
   * the key. `keyId` says which master key made it, for checking it later.
   */
  digest(purpose: string, value: string): { keyId: string; digest: string } {
    return { keyId: this.currentKeyId, digest: this.digestWith(this.currentKeyId, purpose, value)! };
  }

  /**
   * A GraphQL document's digest, wherever one is kept (audit events' `documentHash`, policy
   * decisions' `operationHash`: the same document gives the same digest in both, under one
   * master key). Keyed, so a reader cannot test guesses of what a document held inline (a
   * password in a `logIn` literal) as a plain sha256 let them.
   */
  documentDigest(document: string): string {
    return this.digest('audit document', document).digest;
  }

  /** `value`'s digest for `purpose` under every configured master key, the current one first. */
  digestsUnderEveryKey(purpose: string, value: string): string[] {
    const ids = [this.currentKeyId, ...[...this.keys.keys()].filter((id) => id !== this.currentKeyId)];
    return ids.map((id) => this.digestWith(id, purpose, value)!);
  }

  /** The digest under the key `keyId`, or undefined when that key is not configured. */
  digestWith(keyId: string, purpose: string, value: string): string | undefined {
    const key = this.keys.get(keyId);
    if (!key) return undefined;
    const cacheKey = `${keyId}\0${purpose}`;
    let derived = this.digestKeys.get(cacheKey);
    if (!derived) {
      derived = Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), `sluice digest: ${purpose}`, 32));
      this.digestKeys.set(cacheKey, derived);
    }
    return createHmac('sha256', derived).update(value, 'utf8').digest('hex');
  }

  /** Whether `sealed` should be re-sealed under the current key. */
  isStale(sealed: Pick<Sealed, 'keyId'>): boolean {
    return sealed.keyId !== this.currentKeyId;
  }
}

/** Says what failed, never the secret or the key. */
export class SecretBoxError extends Error {
  override readonly name = 'SecretBoxError';
}
