/**
 * The SSE writer (platform/http/server-sent-events.ts) on its own: the wire format, keep-alive
 * comments while the source is quiet, how it ends, and the Accept negotiation of the REST query.
 */
import { describe, expect, it } from 'vitest';
import { eventStreamBody, prefersEventStream, type ServerSentEvent } from '../../src/platform/http/server-sent-events.js';

const decoder = new TextDecoder();

describe('eventStreamBody', () => {
  it('writes event and one-line JSON data, sends keep-alive comments while the source waits, and reports the end', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const ends: string[] = [];
    async function* source(): AsyncGenerator<ServerSentEvent> {
      yield { event: 'answerDelta', data: { text: 'two\nlines' } };
      await held;
      yield { event: 'completed', data: { answer: 'done' } };
    }
    const reader = eventStreamBody(source(), { keepAliveMs: 5, onEnd: (how) => ends.push(how) }).getReader();
    expect(decoder.decode((await reader.read()).value)).toBe('event: answerDelta\ndata: {"text":"two\\nlines"}\n\n');
    // The source is held: what comes next is a keep-alive comment, not an event.
    expect(decoder.decode((await reader.read()).value)).toBe(': keep-alive\n\n');
    release();
    let rest = '';
    for (let next = await reader.read(); !next.done; next = await reader.read()) rest += decoder.decode(next.value);
    expect(rest.replaceAll(': keep-alive\n\n', '')).toBe('event: completed\ndata: {"answer":"done"}\n\n');
    expect(ends).toEqual(['done']);
  });

  it('ends the source when the reader cancels', async () => {
    let returned = false;
    const source: AsyncIterator<ServerSentEvent> = {
      next: async () => ({ done: false, value: { event: 'passage', data: {} } }),
      return: async () => {
        returned = true;
        return { done: true, value: undefined };
      },
    };
    const ends: string[] = [];
    const reader = eventStreamBody(source, { onEnd: (how) => ends.push(how) }).getReader();
    await reader.read();
    await reader.cancel();
    expect([returned, ends]).toEqual([true, ['cancelled']]);
  });
});

describe('prefersEventStream', () => {
  it.each([
    [null, false],
    ['application/json', false],
    ['*/*', false],
    ['text/event-stream', true],
    ['text/event-stream, application/json;q=0.5', true],
    ['application/json, text/event-stream', false],
    ['application/json;q=0.1, TEXT/EVENT-STREAM', true],
    ['text/event-stream;q=0', false],
    ['text/event-stream, */*;q=0.1', true],
  ])('Accept %s → event stream %s', (accept, expected) => {
    expect(prefersEventStream(accept)).toBe(expected);
  });
});
