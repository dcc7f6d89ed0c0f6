/**
 * An uploaded file's bytes to its text, on the event loop that serves requests, a bounded step
 * at a time. Decoding whole files in one go held that loop for the sum of a call's files: one
 * upload of 60 Markdown files of 1 MB stalled every other request for 0.7 to 0.9 s (2 shared
 * cores, load 8 to 11), about 6 ms of CPU per MB for joining the multipart parser's pieces
 * (`arrayBuffer()`) and decoding them (docs/ingestion.md, "Limits and refusals").
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { assertTextual } from './parsers/formats.js';
import { ValidationError } from '../errors.js';

/** The most bytes decoded between two turns of the event loop: a few milliseconds of CPU. */
export const DECODE_STEP_BYTES = 1024 * 1024;

/** What decoding needs of an upload: the web File API's stream (Yoga's File, undici's File). */
export interface UploadedBytes {
  stream(): ReadableStream<Uint8Array>;
}

export interface DecodedUpload {
  text: string;
  byteCount: number;
}

/**
 * The file's text: UTF-8 only (refused, never guessed at, with `INVALID_ENCODING`), its byte
 * order mark dropped, no NUL or unpaired surrogate (assertTextual). The bytes are read as the
 * multipart parser holds them (pieces of 64 KiB), never joined, and decoded at most
 * DECODE_STEP_BYTES between two turns of the event loop; a turn comes first, so the files of
 * one call are decoded a step at a time too.
 */
export async function decodeUpload(file: UploadedBytes, name: string): Promise<DecodedUpload> {
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
  const pieces: string[] = [];
  let byteCount = 0;
  let sinceTurn = 0;
  const decode = (bytes?: Uint8Array) => {
    try {
      return bytes ? decoder.decode(bytes, { stream: true }) : decoder.decode();
    } catch {
      throw new ValidationError(`${JSON.stringify(name)} is not valid UTF-8 text`, { reason: 'INVALID_ENCODING', name });
    }
  };
  await nextTurn();
  const reader = file.stream().getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      for (let start = 0; start < value.byteLength; start += DECODE_STEP_BYTES) {
        const bytes = value.subarray(start, start + DECODE_STEP_BYTES);
        if (sinceTurn + bytes.byteLength > DECODE_STEP_BYTES) {
          await nextTurn();
          sinceTurn = 0;
        }
        sinceTurn += bytes.byteLength;
        byteCount += bytes.byteLength;
        // A streaming decoder holds back a character cut at the step's end, so each piece is whole text.
        const piece = decode(bytes);
        assertTextual(piece, name);
        pieces.push(piece);
      }
    }
  } finally {
    reader.releaseLock();
  }
  pieces.push(decode());
  return { text: pieces.join(''), byteCount };
}
