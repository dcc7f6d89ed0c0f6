/**
 * Which names say their value is a secret, and masking the value of every `name=value` in free
 * text whose name does. One rule for every layer: log members at any depth and free text
 * (redaction.ts), and unmarked JSON arguments in the audit trail (audit/marks.ts).
 */

/**
 * Whether a name (an object member's, or the left side of `name=value` in text) says its value
 * is a secret: its last word (camelCase, snake_case, kebab-case; `--password` is `password`) is
 * one of SECRET_WORDS ("apiKey", "api_key", "accessToken", "x-api-key", "Authorization",
 * "Set-Cookie", "X-Amz-Signature", "previousMasterKeys"; not "maxTokens", "keyId" or
 * "monkey"), or a word glued to one of the unmistakable ones ("PGPASSWORD", "authtoken",
 * "clientsecret"). Such a value is kept by neither logs nor the audit trail, whatever it looks
 * like: a provider key without a recognisable prefix (Azure, Google, a self-hosted server's) put
 * in a model's `config` was kept verbatim until 2026-12-05.
 */
export function isSecretName(name: string): boolean {
  const last = lastWordOf(name);
  return last !== undefined && (SECRET_WORDS.has(last) || GLUED_SECRET.test(last));
}

// "tokens" is not here: maxTokens, promptTokens and the like are counts.
const SECRET_WORDS = new Set([
  'key', 'keys', 'apikey', 'secret', 'secrets', 'password', 'passwords', 'passwd', 'pass', 'pwd', 'passphrase',
  'token', 'credential', 'credentials', 'authorization', 'auth', 'cookie', 'cookies', 'signature',
]);
const GLUED_SECRET = /(?:password|passwd|passphrase|secret|token)$/;
/** Names whose value, written as a header line (`Cookie: a=1; b=2`), runs to the end of the line. */
const HEADER_WORDS = new Set(['authorization', 'cookie']);

function lastWordOf(name: string): string | undefined {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .at(-1)
    ?.toLowerCase();
}

// A name and its separator, up to where the value starts: `name=`, `name: `, `name => '`,
// `"name": "` and JSON escaped inside a string (`\"name\":\"`). A name is a whole run of
// letters, digits, `_` and `-` (`--password=`, `_authToken=`, `1client-secret=`), tried only
// where the run starts: each character is looked at a bounded number of times.
const NAME_AND_SEPARATOR = /(?<![\w-])([\w-]{1,256})(\\?["']?)(\s*(?:=>|[:=])\s*)(\\?["']?)/g;
// A cheap test first: most strings name no secret at all.
const MAY_NAME_A_SECRET = /key|secret|pass|pwd|token|credential|auth|cookie|signature/i;
// Where a value ends (each sticky, read from the value's start): at its closing quote (an
// escaped one inside it does not end it), else at a blank or a separator of query strings and
// lists; a header line's value at the end of the line.
const QUOTED_VALUE: Record<string, RegExp> = {
  '"': /(?:\\.|[^"\\\r\n])*/y,
  "'": /(?:\\.|[^'\\\r\n])*/y,
  // Inside an escaped string an inner quote is `\\\"`; the value ends at the next `\"`.
  '\\"': /(?:\\\\\\"|\\[^"]|[^\\\r\n])*/y,
  "\\'": /(?:\\\\\\'|\\[^']|[^\\\r\n])*/y,
};
const BARE_VALUE = /[^\s"'\\&,;]*/y;
const HEADER_VALUE = /[^\r\n]*/y;
// Left as they are: a value already masked, and an auth scheme's word (AUTH_SCHEME masks its credential).
const KEPT_VALUE = /^(?:\[redacted|(?:Bearer|Basic)\s)/;

/**
 * `text` with the value of every `name=value` whose name is a secret's (isSecretName) masked as
 * `[redacted]`. Linear: after a name that is not a secret's, scanning resumes where its value
 * starts, so a value never swallows an assignment inside it (`upstream: token=abc`), and no
 * value is read twice.
 */
export function maskSecretAssignments(text: string): string {
  if (!MAY_NAME_A_SECRET.test(text)) return text;
  let out = '';
  let copied = 0;
  NAME_AND_SEPARATOR.lastIndex = 0;
  for (let match = NAME_AND_SEPARATOR.exec(text); match; match = NAME_AND_SEPARATOR.exec(text)) {
    const [whole, name = '', , separator = '', quote = ''] = match;
    const start = match.index + whole.length;
    if (!MAY_NAME_A_SECRET.test(name) || !isSecretName(name)) continue;
    const header = quote === '' && separator.includes(':') && HEADER_WORDS.has(lastWordOf(name) ?? '');
    const valuePattern = quote !== '' ? QUOTED_VALUE[quote]! : header ? HEADER_VALUE : BARE_VALUE;
    valuePattern.lastIndex = start;
    const value = valuePattern.exec(text)?.[0] ?? '';
    if (value.trim() === '' || KEPT_VALUE.test(value)) continue;
    out += `${text.slice(copied, start)}[redacted]`;
    copied = start + value.length;
    NAME_AND_SEPARATOR.lastIndex = copied;
  }
  return copied === 0 ? text : out + text.slice(copied);
}
