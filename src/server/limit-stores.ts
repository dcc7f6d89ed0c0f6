/**
 * The rate limits' bucket store and what is built on it: the per-address limit, the limits of
 * sign-in and key-minting attempts, the tenants sign-up makes per address, and the log of
 * refused credentials (counted for /metrics, recorded in the audit trail under a flood limit of
 * its own).
 */
import type { Config } from '../config.js';
import type { AuditLog } from '../domains/audit/audit-log.js';
import type { CredentialStore } from '../domains/identity/credential-store.js';
import { RefusalLog, type RefusedCredentials } from '../domains/identity/refused-credentials.js';
import { signInAddressDigests } from '../domains/identity/sign-in-addresses.js';
import type { Logger } from '../platform/logging/logger.js';
import { AttemptLimits } from '../platform/rate-limits/attempt-buckets.js';
import { ipIdentity } from '../platform/rate-limits/bucket-keys.js';
import { createBucketStore } from '../platform/rate-limits/resilient-buckets.js';
import { SignUpLimit } from '../platform/rate-limits/sign-up-limit.js';
import type { BucketStore } from '../platform/rate-limits/token-bucket.js';
import type { SecretBox } from '../platform/secrets/secret-box.js';
import type { ProductMetrics } from '../platform/telemetry/product-metrics.js';
import { AddressLimit } from '../plugins/ip-rate-limit.js';

export interface LimitStoreOptions {
  config: Config;
  secrets: SecretBox;
  audit: AuditLog;
  credentials: CredentialStore;
  logger: Logger;
  metrics: ProductMetrics;
  now: () => number;
}

export interface LimitStores {
  /** Every request limit's buckets: in-process, or Redis (falling back to in-process) with REDIS_URL; absent when limits are off. */
  buckets: BucketStore | undefined;
  /** The always-on limits' buckets (the refusal log's, anonymous queries', sign-ups'): the request limits' store, or their own when those are off. */
  refusalBuckets: BucketStore;
  addressLimit: AddressLimit | undefined;
  attempts: AttemptLimits | undefined;
  /** The tenants sign-up makes per client address: on whether or not the request limits are (absent only under NODE_ENV=test, config.ts). */
  signUps: SignUpLimit | undefined;
  /** The refusal log, for the summary of suppressed refusals at shutdown. */
  refusalLog: RefusalLog;
  /** Where every refused credential is told: counted for /metrics, then judged for the audit trail. */
  refusals: RefusedCredentials;
}

export function limitStores({ config, secrets, audit, credentials, logger, metrics, now }: LimitStoreOptions): LimitStores {
  const limits = config.rateLimits;
  // Keys in Redis are digested under the master key: every API process sharing the Redis has it.
  const keyDigest = (key: string) => secrets.digest('rate-limit bucket', key).digest.slice(0, 32);
  const buckets = limits.enabled ? createBucketStore({ redisUrl: config.redisUrl, keyDigest, logger, now }) : undefined;
  // Refused credentials are recorded with a flood limit of their own, anonymous endpoint queries
  // and the tenants sign-up makes are limited per address, all kept even when request limits
  // are left to a gateway: the gateway does not protect the audit trail, tell anonymous callers
  // apart, or know that each tenant is a share of the answer places (the reserve counts on it).
  const refusalBuckets = buckets ?? createBucketStore({ redisUrl: config.redisUrl, keyDigest, logger, now });
  const refusalLog = new RefusalLog({
    audit,
    buckets: refusalBuckets,
    rule: limits.refusalAudit,
    sourceOf: ipIdentity,
    onError: (error) => logger.error({ err: error }, 'a refused credential could not be judged for the audit trail'),
  });
  return {
    buckets,
    refusalBuckets,
    // Per client address: HTTP requests (plugins/ip-rate-limit.ts) and graphql-ws operations (server/websocket.ts).
    addressLimit: buckets ? new AddressLimit(buckets, limits.perIp) : undefined,
    attempts:
      buckets &&
      new AttemptLimits(
        buckets,
        { perIp: limits.authPerIp, perEmailAndAddress: limits.authPerEmailAndIp, perEmail: limits.authPerEmail, createApiKey: limits.createApiKey },
        (email, ip) => credentials.signedInFrom(email, signInAddressDigests(secrets, ip)),
      ),
    signUps: limits.signUpsPerIp ? new SignUpLimit(refusalBuckets, limits.signUpsPerIp) : undefined,
    refusalLog,
    // Every refused credential is counted for /metrics, whether or not the trail's flood limit writes it.
    refusals: {
      refused(refusal, request) {
        metrics.credentialFailure(refusal.credential, refusal.reason);
        refusalLog.refused(refusal, request);
      },
      refusedSignIn: (record) => refusalLog.refusedSignIn(record),
    },
  };
}
