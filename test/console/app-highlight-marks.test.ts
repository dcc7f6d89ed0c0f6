/**
 * The playground's passages mark exactly the matched words when the passage itself holds stars
 * ("The **pressure** gauge reads 2**10 units"): the server escapes the text's `*` and `\`, and
 * the console undoes the escapes and marks only unescaped `**` pairs. Until 2026-12-05 it marked
 * "pressure" and "10", left "units" unmarked and showed "reads 210 units". In a real headless
 * Chromium against the real server and PostgreSQL; the endpoint's model is the built-in
 * extractive one (no model server).
 */
import { expect, it } from 'vitest';
import { consoleSuite, describeInBrowser } from '../support/console-suite.js';
import { endpointOver } from '../support/endpoints.js';

describeInBrowser('test/console/app-highlight-marks', "the playground's highlights of a passage with stars of its own", () => {
  const suite = consoleSuite();

  it('marks the matched words only, and shows the text as it is', { timeout: 120_000 }, async () => {
    const { server } = suite;
    const owner = await suite.signUp({ tenantName: 'Gauge Works' });
    const { reference } = await endpointOver(server, owner.accessToken, [{ title: 'Gauge', text: 'The **pressure** gauge reads 2**10 units; valve a*b*c sits in C:\\pumps.' }]);

    const { page, blocked, problems } = await suite.signedIn(owner);
    await page.goto(`${server.baseUrl}/console/playground?endpoint=${encodeURIComponent(reference)}`);
    await page.getByRole('heading', { name: 'Playground', level: 1 }).waitFor();
    await page.getByLabel('Question').fill('gauge units');
    await page.getByRole('button', { name: 'Ask' }).click();
    await page.locator('#answer-state[data-state="done"]').waitFor();
    const passage = page.locator('#passages-list li').first();
    expect(await passage.locator('mark').allInnerTexts()).toEqual(['gauge', 'units']);
    expect(await passage.locator('.passage-text').innerText()).toBe('pressure** gauge reads 2**10 units; valve a*b*c sits in C:\\pumps');

    expect(blocked).toEqual([]);
    expect(problems.unexpected()).toEqual([]);
  });
});
