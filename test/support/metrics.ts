import { expect } from 'vitest';
import { pollUntil } from './poll.js';
import type { TestServer } from './server.js';

/** Scrapes `/metrics` over HTTP: every sample as `name{labels}` → value, and the text itself. */
export async function scrapeText(target: Pick<TestServer, 'baseUrl'>): Promise<{ samples: Map<string, number>; text: string }> {
  const response = await fetch(`${target.baseUrl}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const text = await response.text();
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^([a-z_]+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (match) samples.set(match[1]!, Number(match[2]));
  }
  return { samples, text };
}

export async function scrape(target: Pick<TestServer, 'baseUrl'>): Promise<Map<string, number>> {
  return (await scrapeText(target)).samples;
}

export const value = (samples: Map<string, number>, key: string) => samples.get(key) ?? 0;

/** The sum of every sample of `name` whose labels include all of `labels`. */
export function sumOf(samples: Map<string, number>, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const [key, sample] of samples) {
    const match = /^([a-z_]+)(?:\{(.*)\})?$/.exec(key);
    if (match?.[1] !== name) continue;
    const has = labelsOf(match[2] ?? '');
    if (Object.entries(labels).every(([label, wanted]) => has[label] === wanted)) sum += sample;
  }
  return sum;
}

export function labelsOf(text: string): Record<string, string> {
  return Object.fromEntries([...text.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((match) => [match[1]!, match[2]!]));
}

/**
 * Resolves once `target` runs `count` shared subscription readers (`sluice_subscription_topics`):
 * a subscription that sends nothing until something happens (a dataset's jobs) has joined its
 * topic, and so hears every event from then on. Throws after `timeoutMs`.
 */
export async function untilSubscriptionTopics(target: Pick<TestServer, 'baseUrl'>, count: number, timeoutMs = 10_000): Promise<void> {
  await pollUntil(async () => value(await scrape(target), 'sluice_subscription_topics'), (topics) => topics === count, {
    timeoutMs,
    failure: (topics) => `${topics} subscription topics after ${timeoutMs} ms, not ${count}`,
  });
}
