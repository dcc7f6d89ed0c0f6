/**
 * The tenants sign-up makes per client address (SLUICE_SIGNUP_LIMIT_PER_IP; IPv6: per /64, see
 * `ipIdentity`). A tenant is a share of the process's answer places, and one address once made
 * four in a row, enough to hold them all (attacker review, December): the attempt limits were
 * sized for typing mistakes, not for tenants. The answer reserve counts on this limit, so it
 * applies whether or not the request limits are on (SLUICE_RATE_LIMITS): it was once built with
 * them and went when they were turned off (attacker review, December). Counted when a sign-up is
 * about to make its tenant, so a mistyped form costs nothing of it; a parallel burst takes its
 * tokens one by one, atomically.
 */
import { RateLimitedError } from '../errors/index.js';
import { bucketKey, ipIdentity } from './bucket-keys.js';
import { retryAfterSeconds, type BucketRule, type BucketStore } from './token-bucket.js';

/** The reason a refused sign-up gives when its address made its tenants for now. */
const SIGN_UP_LIMIT = 'SIGN_UP_LIMIT';

export class SignUpLimit {
  constructor(
    private readonly buckets: BucketStore,
    readonly rule: BucketRule,
  ) {}

  /** Null when a sign-up from `ip` may make its tenant; else the refusal (reason SIGN_UP_LIMIT). */
  async tenantSignUp(ip: string): Promise<RateLimitedError | null> {
    const result = await this.buckets.take(bucketKey('signUp:tenants', ipIdentity(ip)), this.rule);
    if (result.allowed) return null;
    const seconds = retryAfterSeconds(result);
    return new RateLimitedError(`Too many tenants signed up from your address: retry in ${seconds} s`, seconds, { reason: SIGN_UP_LIMIT });
  }
}
