/** KeyedSlots (platform/concurrency/keyed-slots.ts): per-key slots, a bounded line, in order, with a bounded wait. */
import { expect, it } from 'vitest';
import { KeyedSlots, runShared, SlotsBusyError } from '../../src/platform/concurrency/keyed-slots.js';

/** A piece of work that runs until `finish` is called, and says when it started. */
function heldWork(log: string[], name: string) {
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  return { finish, work: async () => (log.push(name), await done, name) };
}

it('runs a key’s work in its slots, the rest in the order it came, and other keys beside it', async () => {
  const slots = new KeyedSlots({ slots: 1, maxWaiting: 2, waitMs: 60_000 });
  const log: string[] = [];
  const [a, b, c, other] = ['a', 'b', 'c', 'other'].map((name) => heldWork(log, name));
  const running = [slots.run('t1', a!.work), slots.run('t1', b!.work), slots.run('t1', c!.work), slots.run('t2', other!.work)];
  await Promise.resolve();
  expect(log).toEqual(['a', 'other']);
  expect(slots.load('t1')).toEqual({ running: 1, waiting: 2 });
  await expect(slots.run('t1', async () => 'd')).rejects.toEqual(new SlotsBusyError('waiting-full'));
  a!.finish();
  await running[0];
  await new Promise((resolve) => setImmediate(resolve));
  expect(log).toEqual(['a', 'other', 'b']);
  b!.finish();
  c!.finish();
  other!.finish();
  expect(await Promise.all(running)).toEqual(['a', 'b', 'c', 'other']);
  expect([slots.load('t1'), slots.load('t2')]).toEqual([{ running: 0, waiting: 0 }, { running: 0, waiting: 0 }]);
});

it('refuses work that waited its time, and leaves the line to the rest', async () => {
  const slots = new KeyedSlots({ slots: 1, maxWaiting: 1, waitMs: 20 });
  const log: string[] = [];
  const holder = heldWork(log, 'holder');
  const held = slots.run('t', holder.work);
  await expect(slots.run('t', async () => 'late')).rejects.toEqual(new SlotsBusyError('wait-expired'));
  expect(slots.load('t')).toEqual({ running: 1, waiting: 0 });
  // Its place in line is free again.
  const next = slots.run('t', async () => 'next');
  holder.finish();
  expect([await held, await next]).toEqual(['holder', 'next']);
  expect(slots.load('t')).toEqual({ running: 0, waiting: 0 });
});

it('holds every key to its own slots and all keys together to the shared ones', async () => {
  const slots = { perCaller: new KeyedSlots({ slots: 2, maxWaiting: 4, waitMs: 60_000 }), all: new KeyedSlots({ slots: 3, maxWaiting: 8, waitMs: 60_000 }) };
  const log: string[] = [];
  const [a1, a2, a3, b1, b2] = ['a1', 'a2', 'a3', 'b1', 'b2'].map((name) => heldWork(log, name));
  const running = [runShared(slots, 'a', a1!.work), runShared(slots, 'a', a2!.work), runShared(slots, 'a', a3!.work), runShared(slots, 'b', b1!.work), runShared(slots, 'b', b2!.work)];
  await new Promise((resolve) => setImmediate(resolve));
  // a: two of its own; b: one, as all keys together hold three; a3 waits in a's line, b2 in everyone's.
  expect(log).toEqual(['a1', 'a2', 'b1']);
  expect([slots.perCaller.load('a'), slots.perCaller.load('b'), slots.all.load('all')]).toEqual([
    { running: 2, waiting: 1 },
    { running: 2, waiting: 0 },
    { running: 3, waiting: 1 },
  ]);
  a1!.finish();
  await running[0];
  await new Promise((resolve) => setImmediate(resolve));
  // The shared slot a1 gave back goes to b2, first in everyone's line; a3 now waits there.
  expect(log).toEqual(['a1', 'a2', 'b1', 'b2']);
  for (const held of [a2, a3, b1, b2]) held!.finish();
  expect(await Promise.all(running)).toEqual(['a1', 'a2', 'a3', 'b1', 'b2']);
});

it('takes work whose signal aborts out of the line at once, its place free for the next', async () => {
  const slots = new KeyedSlots({ slots: 1, maxWaiting: 1, waitMs: 60_000 });
  const log: string[] = [];
  const holder = heldWork(log, 'holder');
  const held = slots.run('t', holder.work);
  const gone = new AbortController();
  const abandoned = slots.run('t', async () => 'never', gone.signal);
  expect([slots.load('t'), slots.waitingAll()]).toEqual([{ running: 1, waiting: 1 }, 1]);
  gone.abort();
  await expect(abandoned).rejects.toEqual(new SlotsBusyError('abandoned'));
  expect([slots.load('t'), slots.waitingAll()]).toEqual([{ running: 1, waiting: 0 }, 0]);
  // Its place is the next one's; work already aborted never queues.
  const next = slots.run('t', async () => 'next');
  await expect(slots.run('t', async () => 'late', AbortSignal.abort())).rejects.toEqual(new SlotsBusyError('abandoned'));
  holder.finish();
  expect([await held, await next]).toEqual(['holder', 'next']);
  expect(slots.load('t')).toEqual({ running: 0, waiting: 0 });
});
