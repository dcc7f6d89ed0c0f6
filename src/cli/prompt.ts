/** Reading what the user types: all of stdin (for --password-stdin), or a line at a terminal. */
import { createInterface } from 'node:readline/promises';
import { terminalText, writeText } from './terminal-text.js';

export async function readAllStdin(stdin: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(Buffer.from(chunk as Buffer));
  // One trailing newline (from `echo` or a file) is not part of the secret.
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** Asks at a terminal; the question (which may quote the server's data) never drives the terminal. */
export async function askLine(question: string, stdin: NodeJS.ReadableStream, stderr: NodeJS.WritableStream): Promise<string> {
  const lines = createInterface({ input: stdin, output: stderr, terminal: true });
  try {
    return (await lines.question(terminalText(question))).trim();
  } finally {
    lines.close();
  }
}

/** Asks at a terminal without echoing what is typed. */
export function askSecret(question: string, stdin: NodeJS.ReadStream, stderr: NodeJS.WritableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    writeText(stderr, question);
    let typed = '';
    stdin.setRawMode(true);
    stdin.resume();
    const done = (error?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      writeText(stderr, '\n');
      if (error) reject(error);
      else resolve(typed);
    };
    const onData = (data: Buffer) => {
      for (const character of data.toString('utf8')) {
        if (character === '\r' || character === '\n') return done();
        if (character === '\u0003') return done(new Error('cancelled'));
        if (character === '\u007f' || character === '\b') typed = typed.slice(0, -1);
        else typed += character;
      }
    };
    stdin.on('data', onData);
  });
}
