/**
 * Limits on the few actions worth guessing at: signing in and signing up (per client address
 * and per email, so neither one address trying many emails nor many addresses trying one email
 * gets far), and creating API keys (per principal). The `logIn` mutation and the REST login
 * share one set of buckets: the side door counts against the same allowance as the front door.
 *
 * Every attempt counts, successful or not: counting only failures would need the outcome first,
 * and a parallel burst would be over before any failure was recorded.
 */
import { RateLimitedError } from '../platform/errors/index.js';
import { bucketKey, ipIdentity } from './keys.js';
import { retryAfterSeconds, type BucketResult, type BucketRule, type BucketStore } from './token-bucket.js';

export interface AttemptRules {
  /** Sign-in and sign-up attempts per client address. */
  perIp: BucketRule;
  /** Sign-in and sign-up attempts per email address. */
  perEmail: BucketRule;
  /** `createApiKey` and `rotateApiKey` calls per principal. */
  createApiKey: BucketRule;
}

export type CredentialAction = 'logIn' | 'signUp';

export class AttemptLimits {
  constructor(
    private readonly buckets: BucketStore,
    private readonly rules: AttemptRules,
  ) {}

  /** Null when the attempt may go ahead; else the refusal. `email` as the caller typed it. */
  async credentialAttempt(action: CredentialAction, ip: string, email: unknown): Promise<RateLimitedError | null> {
    const byIp = await this.buckets.take(bucketKey(`${action}:ip`, ipIdentity(ip)), this.rules.perIp);
    if (!byIp.allowed) return refusal(`${ATTEMPTS[action]} from your address`, byIp);
    // The same normalisation as sign-in, so "Ann@X.org " and "ann@x.org" share a bucket.
    const normalized = typeof email === 'string' ? email.trim().toLowerCase().slice(0, 320) : '';
    if (!normalized) return null;
    const byEmail = await this.buckets.take(bucketKey(`${action}:email`, normalized), this.rules.perEmail);
    // The same answer whether or not the email has an account: the limit reveals nothing.
    return byEmail.allowed ? null : refusal(`${ATTEMPTS[action]} for this email address`, byEmail);
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
