/** Answers held in progress for the answer-place tests: a model that holds them, and the process's count of them. */
import { expect, onTestFinished } from 'vitest';
import type { FakeOpenAI } from '../support/fake-openai.js';
import { scrape, value } from '../support/metrics.js';
import { pollUntil } from '../support/poll.js';
import type { TestServer } from '../support/server.js';

/**
 * `fake` holds every answer asked from now until the returned function is called, or until the
 * test ends: a test failing while answers are held does not leave them held (and their places
 * taken) for the next test. Call the function to release them earlier.
 */
export function holdAnswers(fake: FakeOpenAI): () => void {
  let release!: () => void;
  fake.script({ deltas: ['Held.'], until: new Promise<void>((resolve) => (release = resolve)) });
  onTestFinished(() => release());
  return release;
}

/** The server's answers in progress now (`sluice_answers_in_progress`). */
export const answersInProgress = async (server: TestServer) => value(await scrape(server), 'sluice_answers_in_progress');

/** Once every place is given back. */
export const allGivenBack = (server: TestServer) =>
  pollUntil(() => answersInProgress(server), (places) => places === 0, { failure: (places) => `${places} answers still in progress` });

/** Once released: each held request was answered `answer`, and every place is given back. */
export async function heldAnswered(server: TestServer, held: Promise<{ body: unknown }>[], answer: unknown): Promise<void> {
  for (const response of await Promise.all(held)) expect(response.body).toEqual(answer);
  await allGivenBack(server);
}
