import { defineEntity, type InferEntity } from '@mikro-orm/core';
import { User } from '../tenancy/user.entity.js';

/**
 * A client address (IPv6: its /64) from which a user signed in with their password, kept as a
 * keyed digest (sign-in-addresses.ts): the brute-force limit across all addresses, which a
 * stranger can exhaust, does not lock the user out where they have signed in before. Owned by
 * a user, not a tenant, like their sessions; erased with the user.
 */
export const SignInAddress = defineEntity({
  name: 'SignInAddress',
  tableName: 'sign_in_addresses',
  properties: (p) => ({
    user: () => p.manyToOne(User).deleteRule('cascade').primary(),
    /** HMAC-SHA256 of the address under a key derived from the master key: no address in clear. */
    addressDigest: p.string().length(64).primary(),
    lastSignedInAt: p.datetime(),
  }),
});
export type SignInAddress = InferEntity<typeof SignInAddress>;
