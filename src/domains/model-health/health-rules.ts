/**
 * What a model's health is (docs/endpoints.md#health), from its recent checks:
 *
 * - DOWN: each of the last `downAfter` checks failed;
 * - DEGRADED: it answered, but slower than `slowMs`, or some check of the last `window`
 *   failed (the last one included, while fewer than `downAfter` did in a row);
 * - HEALTHY: the last check answered within `slowMs`, and none of the last `window` failed.
 *
 * And what that means for a query: a model DOWN at a check fresh enough (within
 * `STALE_AFTER_INTERVALS` intervals) refuses at once (MODEL_UNAVAILABLE) instead of waiting
 * for the model's timeout. A stale DOWN (checks stopped: the endpoint unpublished, checks
 * turned off, no worker) refuses nothing: the query then finds out for itself.
 */
import { ModelUnavailableError } from '../errors.js';

export const HEALTH_STATUSES = ['HEALTHY', 'DEGRADED', 'DOWN'] as const;
export type HealthStatus = (typeof HEALTH_STATUSES)[number];

/** The settings of the checks (SLUICE_HEALTH_*, docs/operations.md). */
export interface HealthSettings {
  /** Seconds between two rounds of checks; 0: no checks. */
  intervalS: number;
  /** A check that answered slower than this makes the model DEGRADED. */
  slowMs: number;
  /** How many recent checks DEGRADED looks at for failures. */
  window: number;
  /** How many failed checks in a row make the model DOWN. */
  downAfter: number;
  /** Longest wait for one check's answer (below the model's own timeout: a check is a one-token request). */
  timeoutMs: number;
  /** No check of a round starts later than this after it began; the models left go first next round. */
  roundMaxS: number;
}

/** A DOWN status older than this many intervals refuses no query (the checks have stopped). */
export const STALE_AFTER_INTERVALS = 3;

/** The health columns a model row carries (models/model.entity.ts). */
export interface ModelHealthColumns {
  healthStatus?: HealthStatus | null;
  healthCheckedAt?: Date | null;
  healthLatencyMs?: number | null;
  healthError?: string | null;
  healthRecent?: string | null;
}

/** What a client reads: `Endpoint.health`, `Model.health`, the catalog. */
export interface Health {
  status: HealthStatus;
  lastCheckedAt: Date;
  latencyMs: number | null;
  lastError: string | null;
}

/** One check's outcome: answered (with its latency) or failed (with a redacted error). */
export type CheckOutcome = { ok: true; latencyMs: number } | { ok: false; error: string };

const ANSWERED = 'o';
const FAILED = 'x';

/** The health columns after `outcome`, given the row's previous ones. */
export function afterCheck(previous: ModelHealthColumns, outcome: CheckOutcome, checkedAt: Date, settings: HealthSettings): Required<ModelHealthColumns> {
  const kept = Math.min(32, Math.max(settings.window, settings.downAfter));
  const recent = `${previous.healthRecent ?? ''}${outcome.ok ? ANSWERED : FAILED}`.slice(-kept);
  const lastDown = recent.slice(-settings.downAfter);
  let status: HealthStatus;
  if (lastDown.length === settings.downAfter && !lastDown.includes(ANSWERED)) status = 'DOWN';
  else if (!outcome.ok || outcome.latencyMs > settings.slowMs || recent.slice(-settings.window).includes(FAILED)) status = 'DEGRADED';
  else status = 'HEALTHY';
  return {
    healthStatus: status,
    healthCheckedAt: checkedAt,
    healthLatencyMs: outcome.ok ? Math.round(outcome.latencyMs) : null,
    // The last failure is kept while it still counts (until the model is HEALTHY again).
    healthError: outcome.ok ? (status === 'HEALTHY' ? null : (previous.healthError ?? null)) : outcome.error,
    healthRecent: recent,
  };
}

/** A row's health as clients read it; null before the first check. */
export function healthOf(row: ModelHealthColumns): Health | null {
  if (!row.healthStatus || !row.healthCheckedAt) return null;
  return { status: row.healthStatus, lastCheckedAt: row.healthCheckedAt, latencyMs: row.healthLatencyMs ?? null, lastError: row.healthError ?? null };
}

const RANK: Record<HealthStatus, number> = { HEALTHY: 0, DEGRADED: 1, DOWN: 2 };

/**
 * An endpoint's health: the worst of its models' (the chat model's, and the embeddings
 * models' its retrieval needs), each labelled in `lastError` by its role, never by name or
 * address (the catalog shows it to anyone). Null while one of them has not been checked.
 */
export function worstOf(parts: { role: string; health: Health | null }[]): Health | null {
  if (parts.length === 0 || parts.some((part) => part.health === null)) return null;
  const checked = parts as { role: string; health: Health }[];
  const worst = checked.reduce((a, b) => (RANK[b.health.status] > RANK[a.health.status] ? b : a));
  const latencies = checked.map((part) => part.health.latencyMs);
  return {
    status: worst.health.status,
    lastCheckedAt: new Date(Math.min(...checked.map((part) => part.health.lastCheckedAt.getTime()))),
    // A query waits for each model in turn: its latency is theirs summed (unknown if one failed).
    latencyMs: latencies.every((latency) => latency !== null) ? latencies.reduce((sum, latency) => sum! + latency!, 0) : null,
    lastError: checked.filter((part) => part.health.lastError).map((part) => `${part.role}: ${part.health.lastError}`).join('; ') || null,
  };
}

/** A HYBRID endpoint still answers by keyword while an embeddings model is DOWN: for it, that is DEGRADED. */
export function atMostDegraded(health: Health | null): Health | null {
  return health && health.status === 'DOWN' ? { ...health, status: 'DEGRADED' } : health;
}

/** Whether a fresh check found the model DOWN (so a query should not wait for it). */
/** `healthStatus` as a string: callers outside this folder read it straight from SQL. */
export function isDown(model: { healthStatus?: string | null; healthCheckedAt?: Date | null }, now: Date, settings: HealthSettings | undefined): boolean {
  if (!settings || settings.intervalS === 0 || model.healthStatus !== 'DOWN' || !model.healthCheckedAt) return false;
  return now.getTime() - model.healthCheckedAt.getTime() <= STALE_AFTER_INTERVALS * settings.intervalS * 1000;
}

/** Refuses at once (MODEL_UNAVAILABLE, HTTP 503) a query that needs a model a fresh check found DOWN. */
export function assertAvailable(model: ModelHealthColumns, role: 'chat' | 'embeddings', now: Date, settings: HealthSettings | undefined): void {
  if (!isDown(model, now, settings)) return;
  throw new ModelUnavailableError(
    role === 'chat' ? 'The endpoint’s model is down: its health checks failed; try again later' : 'The endpoint’s embeddings model is down: its health checks failed; try again later',
    { reason: 'MODEL_DOWN', model: role.toUpperCase(), lastCheckedAt: model.healthCheckedAt!.toISOString(), retryAfterSeconds: settings!.intervalS },
  );
}
