/**
 * Token buckets in Redis, shared by every API process. One Lua script reads, refills, takes and
 * writes a bucket atomically, so concurrent requests (from one process or many) can never both
 * take the last token. Time comes from the Redis server (`TIME`), not from each API process,
 * so processes with skewed clocks still agree.
 *
 * Same arithmetic as `takeToken` in token-bucket.ts.
 */
import type { Redis } from 'ioredis';
import type { BucketResult, BucketRule, BucketStore } from './token-bucket.js';

// KEYS[1]: the bucket (a hash of tokens and at). ARGV: perSecond, burst, tokens to take (all or none).
// Returns {allowed (0|1), retryAfterMs, remaining}.
const TAKE_TOKEN = `
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local count = tonumber(ARGV[3])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = burst
else
  tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000)
end
local allowed = 0
local retry = 0
if tokens >= count then
  tokens = tokens - count
  allowed = 1
else
  retry = math.ceil((count - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
-- An untouched bucket is full again after this long: then it may as well not exist.
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) * 1000 / rate) + 1000)
-- Refused: none remain for this request, as takeToken says (a bucket may still hold fewer than asked).
local remaining = 0
if allowed == 1 then remaining = math.floor(tokens) end
return {allowed, retry, remaining}
`;

type WithTakeToken = Redis & {
  sluiceTakeToken(key: string, perSecond: string, burst: string, tokens: string): Promise<[number, number, number]>;
};

/** A keyed digest (an HMAC under a key only the API processes hold) of a bucket key. */
export type BucketKeyDigest = (key: string) => string;

export class RedisBucketStore implements BucketStore {
  private readonly redis: WithTakeToken;

  /**
   * `prefix` keeps Sluice's keys apart from anything else in the same Redis. `digest` replaces
   * each key's hash of its identity (bucket-keys.ts), so that someone who reads the Redis
   * cannot recover an address or email by hashing every candidate (all of IPv4 is 2^32
   * hashes); the limit's name stays readable.
   */
  constructor(
    redis: Redis,
    private readonly digest: BucketKeyDigest,
    private readonly prefix = 'sluice:rl:',
  ) {
    // defineCommand runs EVALSHA and falls back to EVAL when Redis has lost its script cache
    // (a restart), so a Redis that comes back needs no help from us.
    redis.defineCommand('sluiceTakeToken', { numberOfKeys: 1, lua: TAKE_TOKEN });
    this.redis = redis as WithTakeToken;
  }

  async take(key: string, rule: BucketRule, tokens = 1): Promise<BucketResult> {
    const [allowed, retryAfterMs, remaining] = await this.redis.sluiceTakeToken(
      this.storedKey(key),
      String(rule.perSecond),
      String(rule.burst),
      String(tokens),
    );
    return { allowed: allowed === 1, remaining, retryAfterMs };
  }

  /** Where `key` lives in Redis: `<prefix><limit>:<digest of the whole key>`. */
  storedKey(key: string): string {
    const limit = key.slice(0, Math.max(0, key.lastIndexOf(':')));
    return `${this.prefix}${limit}:${this.digest(key)}`;
  }

  async close(): Promise<void> {
    // The client belongs to whoever made it (see resilient-buckets.ts).
  }
}
