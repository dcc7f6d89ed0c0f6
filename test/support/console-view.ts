/** A console view checked and pictured, for the browser tests in test/console/. */
import AxeBuilder from '@axe-core/playwright';
import type { Page } from 'playwright-core';
import { expect } from 'vitest';

export const SHOTS = 'test-results';

/**
 * axe-core (WCAG 2.1 A and AA rules) on the page as it is, once animations have ended: no
 * serious or critical violation. Then its screenshot, test-results/console-<name>.png.
 */
export async function checkView(page: Page, name: string, { fullPage = true } = {}) {
  await page.evaluate(() => Promise.all(document.getAnimations().map((animation) => animation.finished)));
  const { violations } = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  const grave = violations.filter((violation) => violation.impact === 'serious' || violation.impact === 'critical');
  expect(grave.map(({ id, help, nodes }) => ({ view: name, id, help, targets: nodes.map((node) => node.target.join(' ')) }))).toEqual([]);
  await page.screenshot({ path: `${SHOTS}/console-${name}.png`, fullPage });
}

/** The console's current access token, from the tab's session record. */
export async function consoleAccessToken(page: Page): Promise<string> {
  return page.evaluate(() => JSON.parse(sessionStorage.getItem('sluice.console.app') ?? '{}').tokens.accessToken);
}
