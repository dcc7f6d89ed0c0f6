/**
 * Where a user has signed in with their password: the client addresses (IPv6: by /64, as the
 * rate limits count them) of their successful `logIn`s and their `signUp`, for 90 days, at
 * most 20 per user.
 *
 * Why: the brute-force limit per email across all addresses (platform/rate-limits/attempt-buckets.ts)
 * is one anyone can use up, five wrong passwords from anywhere, and then it refused the
 * account's owner too: a lock-out anyone could renew (attacker review stop45, F13). Where the
 * owner has signed in before, that limit does not apply (the limit per email from that address
 * still does); a stranger guessing from there is held by it and by the limit per address. This
 * is the "trusted device" defence of OWASP's brute-force guidance, with the address as device:
 * no client has to keep anything.
 *
 * Addresses are kept as keyed digests (HMAC under a key derived from the master key): the table
 * shows no address to anyone reading the database. They are looked up under every configured
 * master key, so a rotation (the old key kept in SLUICE_MASTER_KEY_PREVIOUS) forgets none; a
 * sign-in re-keeps its address under the current key.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { ipIdentity } from '../../platform/rate-limits/bucket-keys.js';
import type { SecretBox } from '../../platform/secrets/secret-box.js';

/** An address counts as known this long after the last sign-in from it. */
export const KNOWN_ADDRESS_DAYS = 90;
/** Most addresses kept per user (the most recent ones): a roaming user cannot grow the table without end. */
export const MAX_KNOWN_ADDRESSES = 20;

const PURPOSE = 'sign-in address';

/** The digest an address is kept by (the current master key's). */
export function signInAddressDigest(secrets: SecretBox, ip: string): string {
  return secrets.digest(PURPOSE, ipIdentity(ip)).digest;
}

/** The digests an address may have been kept by: under every configured master key (SLUICE_MASTER_KEY_PREVIOUS too). */
export function signInAddressDigests(secrets: SecretBox, ip: string): string[] {
  return secrets.digestsUnderEveryKey(PURPOSE, ipIdentity(ip));
}

/** Records a sign-in of `userId` from `ip`, in the caller's transaction, and forgets addresses past the bounds. */
export async function rememberSignInAddress(em: EntityManager, secrets: SecretBox, userId: string, ip: string): Promise<void> {
  const connection = em.getConnection();
  const tx = em.getTransactionContext();
  await connection.execute(
    `insert into sign_in_addresses (user_id, address_digest, last_signed_in_at) values (?, ?, now())
       on conflict (user_id, address_digest) do update set last_signed_in_at = excluded.last_signed_in_at`,
    [userId, signInAddressDigest(secrets, ip)],
    'run',
    tx,
  );
  await connection.execute(
    `delete from sign_in_addresses
      where user_id = ? and address_digest not in (
        select address_digest from sign_in_addresses
         where user_id = ? and last_signed_in_at > now() - make_interval(days => ?)
         order by last_signed_in_at desc limit ?)`,
    [userId, userId, KNOWN_ADDRESS_DAYS, MAX_KNOWN_ADDRESSES],
    'run',
    tx,
  );
}

/** The query that tells whether `email`'s account signed in from an address (by digest) within KNOWN_ADDRESS_DAYS. */
export const KNOWN_ADDRESS_SQL = `select exists (
  select 1 from sign_in_addresses a join users u on u.id = a.user_id
   where u.email = ? and a.address_digest = any(?::text[]) and a.last_signed_in_at > now() - make_interval(days => ?)) as known`;
