/**
 * A model server that streams its answer in very many tiny pieces cannot make the playground
 * unresponsive (reviewer, LOW): the console re-rendered the whole growing answer once per
 * piece, so 150 000 pieces of `ab` kept the page's main thread busy for 99 s. It now gathers
 * the pieces and shows them at most every 50 ms. Counted, not timed: the changes to
 * the answer's DOM (a MutationObserver's records) stay far below the number of pieces. In a real
 * headless Chromium against the real server; the model is fake-openai over real HTTP.
 */
import { expect, it } from 'vitest';
import { consoleSuite, describeInBrowser } from '../support/console-suite.js';
import { endpointOver, uniqueSlug } from '../support/endpoints.js';

const PIECES = 10_000;

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
    // Every change React makes inside #answer (its text node replaced or rewritten) is a record.
    await page.evaluate(() => {
      const counted = window as unknown as { answerChanges: number };
      counted.answerChanges = 0;
      new MutationObserver((records) => {
        for (const record of records) {
          const node = record.target;
          const element = node instanceof Element ? node : node.parentElement;
          if (element?.closest('#answer')) counted.answerChanges += 1;
        }
      }).observe(document.body, { subtree: true, childList: true, characterData: true });
    });

    fake.script({ repeat: { text: 'ab', times: PIECES } });
    await page.getByLabel('Question').fill('when is the lamp wound');
    await page.getByRole('button', { name: 'Ask' }).click();
    await page.locator('#answer-state:not([data-state="streaming"])').waitFor({ timeout: 150_000 });
    expect(await page.locator('#answer-state').getAttribute('data-state')).toBe('done');
    expect(await page.locator('#answer').innerText()).toBe('ab'.repeat(PIECES));
    const changes = await page.evaluate(() => (window as unknown as { answerChanges: number }).answerChanges);
    expect(changes).toBeGreaterThan(0);
    expect(changes).toBeLessThan(PIECES / 10);

    expect(blocked).toEqual([]);
    expect(problems.unexpected()).toEqual([]);
  });
});
