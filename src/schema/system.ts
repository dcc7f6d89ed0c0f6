/** Liveness for long-lived connections. */
import { setTimeout as sleep } from 'node:timers/promises';
import { Repeater } from 'graphql-yoga';
import { z } from 'zod';
import { builder } from './builder.js';

interface Heartbeat {
  sequence: number;
  at: Date;
}

const HeartbeatRef = builder.objectRef<Heartbeat>('Heartbeat');
HeartbeatRef.implement({
  fields: (t) => ({
    sequence: t.exposeInt('sequence', { description: 'Counts from 1 within this subscription.' }),
    at: t.expose('at', { type: 'DateTime' }),
  }),
});

builder.subscriptionField('heartbeat', (t) =>
  t.field({
    type: HeartbeatRef,
    description: 'Ticks every `intervalSeconds`, so a client can tell a quiet stream from a dead one.',
    authScopes: { authenticated: true },
    args: {
      intervalSeconds: t.arg.int({ required: true, defaultValue: 15, validate: z.number().int().min(1).max(300) }),
      count: t.arg.int({
        required: false,
        description: 'Complete after this many ticks; unbounded when omitted.',
        validate: z.number().int().min(1).max(10_000).nullish(),
      }),
    },
    subscribe: (_root, { intervalSeconds, count }) =>
      new Repeater<Heartbeat>(async (push, stop) => {
        const abort = new AbortController();
        void stop.then(() => abort.abort());
        try {
          for (let sequence = 1; count == null || sequence <= count; sequence++) {
            await push({ sequence, at: new Date() });
            if (count != null && sequence === count) break;
            await sleep(intervalSeconds * 1000, undefined, { signal: abort.signal });
          }
        } catch (error) {
          if (!abort.signal.aborted) throw error;
        }
        stop();
      }),
    resolve: (heartbeat) => heartbeat,
  }),
);
