/**
 * Structured logs (pino): JSON lines, or in a development terminal readable ones (pino-pretty,
 * coloured unless NO_COLOR; see `LogFormat`). Credentials and personal data never reach a log
 * line: every finished line is parsed and passed through `redactValue` (redaction.ts), so the
 * value of every member with a secret's name (`isSecretName`: password, apiKey, authorization,
 * cookie, …) is censored at any depth, and every string, messages, bindings, `err.message` and
 * `err.stack` alike, through `redact` (emails, phone numbers, card numbers, tokens, `name=value`
 * with a secret's name). Redacting the serialized line rather than the objects catches what no
 * list of paths can name: an email in an error message, a token in a SQL debug line, a secret
 * member nested deeper than a path rule reaches. Connection strings are logged without their
 * password (`redactUrl`).
 */
import { createRequire } from 'node:module';
import { isatty } from 'node:tty';
import { destination, pino, type DestinationStream, type Logger } from 'pino';
import { redactPrefix, redactValue, type RedactionOptions } from './redaction.js';

export type { Logger };

/**
 * `json`: one JSON object per line (log collectors). `pretty`: one readable line per entry,
 * time, level, message and fields. `auto`: pretty when the output is a terminal, JSON when it
 * is piped or redirected (LOG_FORMAT; production's default is `json`).
 */
export type LogFormat = 'auto' | 'json' | 'pretty';

/**
 * How much text a log line keeps: 8 KiB a string (a message, a field, an error's stack) and
 * 32 KiB of its fields' strings in all (the message has its own 8 KiB), far more than any
 * line needs. Every string is redacted before it is written, on the event loop: unbounded,
 * a single line could stall every request for seconds.
 */
export const LOG_STRING_LIMITS = { each: 8_192, total: 32_768 };

/** `destination`: a stream of your own (always JSON), or 2 for stderr (commands whose stdout is their output). */
export function createLogger(options: {
  level: string;
  name?: string;
  destination?: DestinationStream | 2;
  /** @default 'json' */
  format?: LogFormat;
  /** How free text is redacted (SLUICE_REDACT_PHONE_COUNTRY). @default {} */
  redaction?: RedactionOptions;
}): Logger {
  const redaction = { ...options.redaction, stringLimits: LOG_STRING_LIMITS };
  const fd = options.destination === 2 ? 2 : 1;
  const ownStream = options.destination !== undefined && options.destination !== 2;
  const pretty = !ownStream && (options.format === 'pretty' || (options.format === 'auto' && isatty(fd)));
  return pino(
    {
      name: options.name ?? 'sluice',
      level: options.level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      // Before any formatting: the pretty lines are made from the redacted JSON.
      hooks: { streamWrite: (line) => redactLine(line, redaction) },
    },
    pretty ? prettyStream(fd) : options.destination === 2 ? destination(2) : options.destination,
  );
}

/**
 * pino-pretty writing to `fd`, synchronously like the JSON destination (a crash's last lines
 * are not lost). Loaded only when asked for: JSON output never pays for it.
 */
function prettyStream(fd: 1 | 2): DestinationStream {
  const pinoPretty = createRequire(import.meta.url)('pino-pretty') as typeof import('pino-pretty');
  return pinoPretty({
    destination: fd,
    sync: true,
    // Colours for a person at a terminal; none when the lines go to a file or a pipe, or with NO_COLOR.
    colorize: isatty(fd) && !process.env.NO_COLOR,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,name,component',
    messageFormat: '{if component}[{component}] {end}{msg}',
    singleLine: true,
  });
}

/** `postgres://user:secret@host/db` → `postgres://user:***@host/db`, for log lines and messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '[unparseable url]';
  }
}

/**
 * Redacts the string values of a serialized JSON log line. Working on the parsed line, not its
 * text: a pattern run over the text can match inside a JSON number (the digits after a
 * decimal point pass for a card number) and leave the line unparseable.
 */
function redactLine(line: string, options: RedactionOptions): string {
  try {
    const { msg, ...fields } = JSON.parse(line);
    // The message first, with a budget of its own: fields of megabytes never use up the
    // line's. pino writes it last, and so does this.
    const message = msg === undefined ? {} : { msg: redactValue(msg, { ...options, stringLimits: { ...LOG_STRING_LIMITS, total: LOG_STRING_LIMITS.each } }) };
    return `${JSON.stringify({ ...redactValue(fields, options), ...message })}\n`;
  } catch {
    try {
      return `${redactPrefix(line.replace(/\n$/, ''), LOG_STRING_LIMITS.total, options)}\n`;
    } catch {
      // A redaction that fails must not fail the code that logs, nor write the line unmasked.
      return `${JSON.stringify({ level: 50, time: new Date().toISOString(), pid: process.pid, msg: 'a log line could not be redacted and was dropped' })}\n`;
    }
  }
}
