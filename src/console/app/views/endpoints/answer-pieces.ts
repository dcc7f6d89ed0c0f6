/**
 * The answer's pieces as they stream in, shown at most once every 50 ms. A model server
 * chooses how finely it splits its answer: 150 000 pieces of two characters each re-rendered the
 * whole growing answer 150 000 times, and the page (Stop included) did not respond for over a
 * minute. Gathered here and handed to `show` 20 times a second (smooth enough to read as it
 * is written), the work per piece is an append. A timer, not an animation frame: a frame
 * re-rendered a slowly arriving answer 60 times a second, nearly once per piece again.
 */
import { useCallback, useEffect, useRef } from 'react';

const SHOW_EVERY_MS = 50;

export interface AnswerPieces {
  /** Adds a piece; `show` gets it, with the others gathered since, at most 50 ms later. */
  add(text: string): void;
  /** Shows what is gathered now (the stream ended, failed or was stopped). */
  flush(): void;
  /** Forgets what is gathered (a new question, or the complete answer replaces it). */
  discard(): void;
}

export function useAnswerPieces(show: (text: string) => void): AnswerPieces {
  const gathered = useRef('');
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const showRef = useRef(show);
  showRef.current = show;

  const discard = useCallback(() => {
    clearTimeout(timer.current);
    timer.current = undefined;
    gathered.current = '';
  }, []);
  const flush = useCallback(() => {
    const text = gathered.current;
    discard();
    if (text) showRef.current(text);
  }, [discard]);
  const add = useCallback(
    (text: string) => {
      gathered.current += text;
      timer.current ??= setTimeout(flush, SHOW_EVERY_MS);
    },
    [flush],
  );
  // Leaving the view: nothing to show any more.
  useEffect(() => discard, [discard]);
  return { add, flush, discard };
}
