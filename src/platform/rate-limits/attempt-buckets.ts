/**
 * Limits on the few actions worth guessing at: signing in and signing up, and creating API keys
 * (per principal). A sign-in or sign-up attempt is counted three ways:
 *
 * - per client address, any email: one address trying many emails;
 * - per email from one client address: one address guessing one account's password;
 * - per email from every address: many addresses guessing one account. Anyone can use this
 *   one up, so it would let a stranger lock the owner out (attacker review stop45, F13): a
 *   `logIn` from an address where that account has signed in before is not refused by it
 *   (`signedInFrom`, domains/identity/sign-in-addresses.ts). The owner elsewhere waits, as a
 *   guesser does.
 *
 * The `logIn` mutation and the REST login share one set of buckets: the side door counts
 * against the same allowance as the front door.
 *
 * Every attempt counts, successful or not: counting only failures would need the outcome first,
 * and a parallel burst would be over before any failure was recorded.
 *
 * The tenants sign-up makes per client address are limited apart (sign-up-limit.ts): that limit
 * stays on when these are off.
 */
import { RateLimitedError } from '../errors/index.js';
import { bucketKey, ipIdentity } from './bucket-keys.js';
import { retryAfterSeconds, type BucketResult, type BucketRule, type BucketStore } from './token-bucket.js';

export interface AttemptRules {
  /** Sign-in and sign-up attempts per client address. */
  perIp: BucketRule;
  /** Sign-in and sign-up attempts per email address from one client address. */
  perEmailAndAddress: BucketRule;
  /** Sign-in and sign-up attempts per email address from all client addresses together. */
  perEmail: BucketRule;
  /** `createApiKey` and `rotateApiKey` calls per principal. */
  createApiKey: BucketRule;
}

export type CredentialAction = 'logIn' | 'signUp';

/** Whether the account of `email` (normalised) has signed in from `ip` lately. */
export type SignedInFrom = (email: string, ip: string) => Promise<boolean>;

export class AttemptLimits {
  constructor(
    private readonly buckets: BucketStore,
    private readonly rules: AttemptRules,
    private readonly signedInFrom: SignedInFrom = async () => false,
  ) {}

  /** Null when the attempt may go ahead; else the refusal. `email` as the caller typed it. */
  async credentialAttempt(action: CredentialAction, ip: string, email: unknown): Promise<RateLimitedError | null> {
    const byIp = await this.buckets.take(bucketKey(`${action}:ip`, ipIdentity(ip)), this.rules.perIp);
    if (!byIp.allowed) return refusal(`${ATTEMPTS[action]} from your address`, byIp);
    // The same normalisation as sign-in, so "Ann@X.org " and "ann@x.org" share a bucket.
    const normalized = typeof email === 'string' ? email.trim().toLowerCase().slice(0, 320) : '';
    if (!normalized) return null;
    const fromHere = await this.buckets.take(bucketKey(`${action}:email-address`, `${ipIdentity(ip)} ${normalized}`), this.rules.perEmailAndAddress);
    // The same answers whether or not the email has an account, with one exception below: once
    // the limit across addresses is used up, an address the account signed in from is let
    // through, so someone sharing that address (an office, a carrier's NAT) can tell.
    if (!fromHere.allowed) return refusal(`${ATTEMPTS[action]} for this email address from your address`, fromHere);
    const byEmail = await this.buckets.take(bucketKey(`${action}:email`, normalized), this.rules.perEmail);
    if (byEmail.allowed) return null;
    // Asked only once the limit is reached: a database read on refused attempts, not on every one.
    // A lookup that fails refuses, as the limit says: the database being away is no way round it.
    if (action === 'logIn' && (await this.signedInFrom(normalized, ip).catch(() => false))) return null;
    return refusal(`${ATTEMPTS[action]} for this email address`, byEmail);
  }

  async apiKeyCreation(principal: string): Promise<RateLimitedError | null> {
    const result = await this.buckets.take(bucketKey('createApiKey', principal), this.rules.createApiKey);
    return result.allowed ? null : refusal('API keys created', result);
  }
}

const ATTEMPTS: Record<CredentialAction, string> = { logIn: 'sign-in attempts', signUp: 'sign-up attempts' };

function refusal(what: string, result: BucketResult): RateLimitedError {
  const seconds = retryAfterSeconds(result);
  return new RateLimitedError(`Too many ${what}: retry in ${seconds} s`, seconds);
}
