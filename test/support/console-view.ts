/**
 * A console view as the browser tests check it: axe-core (WCAG 2.1 A and AA rules) must find
 * no serious or critical violation, then a screenshot goes to test-results/console-<name>.png
 * (docs/console.md shows copies of some).
 */
import AxeBuilder from '@axe-core/playwright';
import type { Page } from 'playwright-core';
import { expect } from 'vitest';

export const SHOTS = 'test-results';

export async function checkView(page: Page, name: string, { fullPage = true } = {}): Promise<void> {
  // Wait for transitions to end, so axe never measures a half-faded colour.
  await page.evaluate(() => Promise.all(document.getAnimations().map((animation) => animation.finished)));
  const { violations } = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  const grave = violations.filter((violation) => violation.impact === 'serious' || violation.impact === 'critical');
  expect(grave.map(({ id, help, nodes }) => ({ view: name, id, help, targets: nodes.map((node) => node.target.join(' ')) }))).toEqual([]);
  await page.screenshot({ path: `${SHOTS}/console-${name}.png`, fullPage });
}
