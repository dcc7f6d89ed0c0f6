/**
 * What a one-shot operator command prints on stdout: its answer, as lines for a person or,
 * with `--json`, one JSON document for a script. Log lines go to stderr (main.ts), so the
 * answer can be piped or parsed whatever the log level.
 */
export interface AnswerFormat {
  json: boolean;
}

export function printAnswer(format: AnswerFormat, text: string, value: unknown): void {
  process.stdout.write(format.json ? `${JSON.stringify(value, null, 2)}\n` : `${text}\n`);
}
