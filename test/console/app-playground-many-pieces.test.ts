/**
 * A model server that streams its answer in very many tiny pieces cannot make the playground
 * unresponsive (reviewer, LOW): the console re-rendered the whole growing answer once per
 * piece, so 150 000 pieces of `ab` kept the page's main thread busy for 99 s. It now gathers
 * the pieces and shows them at most every 50 ms (answer-pieces.ts). Counted against what that
 * guarantees, whatever the machine's speed: the renders that change the answer's DOM (a
 * MutationObserver's callbacks, one per React commit) are at most one per 50 ms of the time the
 * answer took to arrive, plus a few for its end; one per piece was far more. In a real headless
 * Chromium against the real server; the model is fake-openai over real HTTP.
 */
import { expect, it } from 'vitest';
import { consoleSuite, describeInBrowser } from '../support/console-suite.js';
import { endpointOver, uniqueSlug } from '../support/endpoints.js';

const PIECES = 10_000;
/** The console shows gathered pieces at most this often (SHOW_EVERY_MS in answer-pieces.ts). */
const SHOW_EVERY_MS = 50;
/** Renders not paced by the timer: the last pieces on the stream's end, the complete answer, the state changes. */
const END_RENDERS = 5;

describeInBrowser('test/console/app-playground-many-pieces', "the playground's answer of many tiny pieces", () => {
  const suite = consoleSuite({ fakeOpenAIs: 1 });

  it('is shown 50 ms at a time, not a piece at a time', { timeout: 180_000 }, async () => {
    const { server, fake } = suite;
    const owner = await suite.signUp({ tenantName: 'Chatter Works' });
    const { reference } = await endpointOver(server, owner.accessToken, [{ title: 'Lamp', text: 'The lamp is wound every evening.' }], {
      model: { name: uniqueSlug('chat'), type: 'openai-compatible', config: { baseUrl: fake.baseUrl, model: 'chatty' } },
    });

    const { page, blocked, problems } = await suite.signedIn(owner);
    await page.goto(`${server.baseUrl}/console/playground?endpoint=${encodeURIComponent(reference)}`);
    await page.getByRole('heading', { name: 'Playground', level: 1 }).waitFor();
    // A render changing #answer (its text node replaced or rewritten) is one observer callback
    // with records inside #answer: a commit happens in one task, and callbacks run after each task.
    await page.evaluate(() => {
      const counted = window as unknown as { answerRenders: number; startedAt: number };
      counted.answerRenders = 0;
      counted.startedAt = performance.now();
      new MutationObserver((records) => {
        const inAnswer = records.some((record) => {
          const node = record.target;
          const element = node instanceof Element ? node : node.parentElement;
          return element?.closest('#answer');
        });
        if (inAnswer) counted.answerRenders += 1;
      }).observe(document.body, { subtree: true, childList: true, characterData: true });
    });

    fake.script({ repeat: { text: 'ab', times: PIECES } });
    await page.getByLabel('Question').fill('when is the lamp wound');
    await page.getByRole('button', { name: 'Ask' }).click();
    await page.locator('#answer-state:not([data-state="streaming"])').waitFor({ timeout: 150_000 });
    expect(await page.locator('#answer-state').getAttribute('data-state')).toBe('done');
    expect(await page.locator('#answer').innerText()).toBe('ab'.repeat(PIECES));
    // Every render happened between startedAt and now, in the page's own clock.
    const { renders, spanMs } = await page.evaluate(() => {
      const counted = window as unknown as { answerRenders: number; startedAt: number };
      return { renders: counted.answerRenders, spanMs: performance.now() - counted.startedAt };
    });
    expect(renders).toBeGreaterThan(0);
    // Timer-paced renders are at least SHOW_EVERY_MS apart: at most spanMs / SHOW_EVERY_MS + 1 of them.
    expect(renders, `${renders} renders in ${Math.round(spanMs)} ms`).toBeLessThanOrEqual(Math.floor(spanMs / SHOW_EVERY_MS) + 1 + END_RENDERS);

    expect(blocked).toEqual([]);
    expect(problems.unexpected()).toEqual([]);
  });
});
