import { defineEntity, type InferEntity } from '@mikro-orm/core';

/**
 * A live process that runs jobs, with the queue's worker ids it owns. Each process refreshes
 * `heartbeatAt`; any process finding a stale row unlocks that process's jobs so they resume
 * (graphile-worker alone would wait hours for a dead worker's lock). Not tenant-owned.
 */
export const WorkerInstance = defineEntity({
  name: 'WorkerInstance',
  tableName: 'worker_instances',
  properties: (p) => ({
    id: p.string().length(64).primary(),
    workerIds: p.array(),
    startedAt: p.datetime(),
    heartbeatAt: p.datetime(),
  }),
});
export type WorkerInstance = InferEntity<typeof WorkerInstance>;
