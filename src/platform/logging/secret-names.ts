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
  // Its end decides (its last word, and the digits after it): reading only that keeps a name of
  // megabytes cheap. The digits are read whole, however many: `password` + 2 000 digits.
  let digits = name.length;
  while (digits > 0 && name.charCodeAt(digits - 1) >= 48 && name.charCodeAt(digits - 1) <= 57) digits--;
  const last = lastWordOf(digits > NAME_END ? name.slice(digits - NAME_END) : name);
  return last !== undefined && (SECRET_WORDS.has(last) || GLUED_SECRET.test(last));
}

/** How much of a name's end isSecretName reads: far longer than any word it looks for. */
const NAME_END = 1_024;

// "tokens" is not here: maxTokens, promptTokens and the like are counts. Nor a JSON Web Key's
// private members (`d`, `p`, `q`, `dp`, `dq`, `qi`, `oth`, `k`): as names alone they are ordinary
// (a page, a query), so they are secrets only inside a JWK (isJwkPrivateMember, json-web-keys.ts).
const SECRET_WORDS = new Set([
  'key', 'keys', 'apikey', 'secret', 'secrets', 'password', 'passwords', 'passwd', 'pass', 'pwd', 'passphrase',
  'token', 'credential', 'credentials', 'authorization', 'auth', 'cookie', 'cookies', 'signature',
]);
const GLUED_SECRET = /(?:password|passwd|passphrase|secret|token)$/;

function lastWordOf(name: string): string | undefined {
  const last = name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .at(-1)
    ?.toLowerCase();
  if (last === undefined) return undefined;
  // `password1`, `apiKey2`: a number after the word does not change what it names. Cut by hand:
  // /\d+$/ tries again from every digit of a run not at the end (`1111…1x`), quadratic on a
  // long name.
  let end = last.length;
  while (end > 0 && last.charCodeAt(end - 1) >= 48 && last.charCodeAt(end - 1) <= 57) end--;
  return last.slice(0, end);
}

// A name and its separator, up to where the value starts: `name=`, `name: `, `name => '`,
// `"name": "`, `user[password]=` and JSON escaped inside a string (`\"name\":\"`). A name is a
// whole run of letters, digits, `_` and `-` (`--password=`, `_authToken=`, `1client-secret=`) of
// any length (a run over 256 characters was once not read at all, so `<300 characters>_password=`
// kept its value), tried only where the run starts: each run is read once, so the scan stays
// linear however long it is. Groups: the name, what closes it (a quote or `]`), the separator
// (blanks around it of any kind, a no-break space too, not line breaks: `password\u00a0: abc`
// was once read as no assignment at all), and the quote that opens the value.
const NAME_AND_SEPARATOR = /(?<![\w-])([\w-]+)(\\?["']|\])?([^\S\r\n]*(?:=>|[:=])[^\S\r\n]*)(\\?["'])?/g;
// A cheap test first: most strings name no secret at all.
const MAY_NAME_A_SECRET = /key|secret|pass|pwd|token|credential|auth|cookie|signature/i;
// A quoted value runs to its closing quote (an escaped one inside it does not end it; inside an
// escaped string an inner quote is `\\\"` and the value ends at the next `\"`), or to the end of
// the line when it has none. Each pattern is sticky: read from the value's start.
const QUOTED_VALUE: Record<string, RegExp> = {
  '"': /(?:\\.|[^"\\\r\n])*/y,
  "'": /(?:\\.|[^'\\\r\n])*/y,
  '\\"': /(?:\\\\\\"|\\[^"\r\n]|[^\\\r\n])*/y,
  "\\'": /(?:\\\\\\'|\\[^'\r\n]|[^\\\r\n])*/y,
};
// A bare value runs to a blank, a quote that ends it (bareValueEnd) or the end of the text: a
// secret may hold any other character. It once also stopped at `& , ; ) ] }`, so
// `password=abc,def`, `token=ab;cd` and `secret=a)b` kept their tail. BARE_RUN reads up to the
// next `&`, `,`, `;` or quote; a separator ends the value only when NEXT_ASSIGNMENT follows it. A
// secret holding `&name=` itself is cut there: it reads exactly like the next assignment. A
// closer at its end: secretEnd.
const BARE_RUN = /[^\s"'&,;]*/y;
// What ends a bare value at the separator before it: a blank (the value ends there anyway, and
// the separator is the text's: `{password=abc, user=x}`), a name glued to the separator and `=`
// (`?token=abc&page=2`, `;User=x`, `user[x]=`), a quoted name and `:` (JSON: `,"user":`), or a
// connection string's key of a few words (`Password=abc;User Id=x`, `;Initial Catalog=y`). Not
// a glued name and `:`, nor any name further on: in `password=p4ss,w0rd user=bob` and
// `token=ab;cd expired at: 12:00` the secret is `p4ss,w0rd` and `ab;cd` (a rule that took any
// later `word:` for the next assignment leaked their tails). Each alternative reads at most one
// run of word characters after the separator, which holds no separator: linear.
const NEXT_ASSIGNMENT =
  /\s|(?:\\?["'])?[\w-]+(?:\[[\w.-]*\]){0,8}(?:\\?["'])?=|\\?["'][\w-]+\\?["'][^\S\r\n]*:|(?:User|Initial|Data|Integrated|Persist|Trust|Application|Connect|Connection|Max|Min|Multiple|Pool|Command|Load|Workstation|Packet)(?:[ \t]+[A-Za-z]+){1,3}[ \t]*=/iy;
// After a quoted name (JSON), a literal or a number is the whole value: in
// `[{"token":null},{"id":2}]` the value is `null` (left as it is), not `null},{"id":2}]`.
const JSON_SCALAR = /(?:null|true|false|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)(?=[\s,}\]]|$)/y;
// After an auth scheme's word (`token=Bearer abc`) the credential is the word after it.
const AUTH_SCHEME_WORD = /(?:Bearer|Basic|Token|Digest|Bot|Negotiate)[ \t]+/iy;
// An `Authorization:` header's scheme, kept readable: the registered ones (IANA's HTTP
// authentication schemes) and those APIs commonly use. Any other first word may be the
// credential itself (`Authorization: tok123secret`, an API taking a bare key): it is masked.
const SCHEME_WORD = /(?:Basic|Bearer|Digest|DPoP|GNAP|HOBA|Mutual|Negotiate|NTLM|OAuth|PrivateToken|SCRAM-SHA-1|SCRAM-SHA-256|vapid|Token|Bot|ApiKey|AWS4-HMAC-SHA256)[ \t]+/iy;
const LINE = /[^\r\n]*/y;
// Left as they are: a value already masked; a bare value of one or two characters (a flag, a
// count, a `$1` placeholder: `tests pass: 42`), and JSON's literals.
const ALREADY_MASKED = /\[redacted/y;
const BARE_LITERAL = /^(?:null|true|false)$/;
/** Names whose value, written as an unquoted header line (`Cookie: a=1; b=2`), runs to the end of the line. */
const HEADER_WORDS = new Set(['authorization', 'cookie']);

/** Whether `pattern` (sticky) matches at `at`; how long the match is (-1: no match). */
function matchLengthAt(pattern: RegExp, text: string, at: number): number {
  pattern.lastIndex = at;
  const match = pattern.exec(text);
  return match ? match[0].length : -1;
}

/**
 * What the current line has opened before a value and not closed: brackets, counted by their
 * closer, and whether a `"` or `'` string is open (an odd number of them so far).
 */
interface LineState {
  ')': number;
  ']': number;
  '}': number;
  '"': boolean;
  "'": boolean;
  '\\"': boolean;
  "\\'": boolean;
}

const newLineState = (): LineState => ({ ')': 0, ']': 0, '}': 0, '"': false, "'": false, '\\"': false, "\\'": false });

/** `state` updated over text[from, to): a line break forgets everything before it. */
function trackLine(text: string, from: number, to: number, state: LineState): void {
  for (let index = from; index < to; index++) {
    const char = text[index];
    if (char === '\n' || char === '\r') Object.assign(state, newLineState());
    else if (char === '(') state[')']++;
    else if (char === '[') state[']']++;
    else if (char === '{') state['}']++;
    else if ((char === ')' || char === ']' || char === '}') && state[char] > 0) state[char]--;
    else if (char === '"' || char === "'") {
      const quote = index > 0 && text[index - 1] === '\\' ? (`\\${char}` as const) : char;
      state[quote] = !state[quote];
    }
  }
}

/**
 * Where the bare value starting at `from` ends: see BARE_RUN and NEXT_ASSIGNMENT. A quote ends
 * it when it closes a string the line opened before the value, escaped like it (JSON inside a
 * string: `{\"msg\":\"token=abc\"}`, the backslash left out) or not (`msg="token=abc" next`);
 * any other quote is the secret's (`password=it'sMine`, `password=abc"def`, `password=ab\'cd`). An apostrophe earlier on the line reads
 * as an open string, so there such a secret is cut at its quote, as every quote once cut it.
 */
function bareValueEnd(text: string, from: number, state: LineState): number {
  let end = from;
  for (;;) {
    end += matchLengthAt(BARE_RUN, text, end);
    const char = text[end];
    if (char === '"' || char === "'") {
      const escaped = end > from && text[end - 1] === '\\';
      if (escaped ? state[`\\${char}`] : state[char]) return escaped ? end - 1 : end;
    } else if ((char !== '&' && char !== ',' && char !== ';') || matchLengthAt(NEXT_ASSIGNMENT, text, end + 1) >= 0) {
      return end;
    }
    end++;
  }
}

/**
 * Where the secret in the bare value text[from, end) ends. A closing `)`, `]` or `}` at its end
 * is left outside the mask only when it is punctuation of the surrounding text: it closes a
 * bracket the line opened before the value and left open (`(password=abc)`,
 * `Config{user=x, password=abc}`, `f(g(token=abc))`: as many of each kind as are open), and the
 * value opens no bracket itself (in `(password=a(b)` the `)` may close the secret's own `(`). A
 * `.`, `,`, `;` or `:` after such a closer is the text's too (`(password=abc).`). Anything else
 * stays masked when in doubt: nothing tells the dot of `password=abc.` ending a sentence from a
 * secret ending in a dot, nor `password=abc)` from a secret ending in `)`, and a character of
 * the text masked costs less than one of the secret written out.
 */
function secretEnd(text: string, from: number, end: number, open: LineState): number {
  const closed = { ')': 0, ']': 0, '}': 0 };
  let cut = end;
  for (let index = end - 1; index >= from; index--) {
    const char = text[index];
    if (char === '.' || char === ',' || char === ';' || char === ':') continue;
    if ((char !== ')' && char !== ']' && char !== '}') || ++closed[char] > open[char]) break;
    cut = index;
  }
  return cut === end || /[([{]/.test(text.slice(from, cut)) ? end : cut;
}

/**
 * Where the bracketed value (`[…]` or `{…}`) starting at `start` ends: after its matching
 * bracket, strings inside skipped; at the end of the line when it does not close there.
 */
function bracketedEnd(text: string, start: number): number {
  let depth = 0;
  for (let index = start; index < text.length; index++) {
    const char = text[index];
    if (char === '\n' || char === '\r') return index;
    if (char === '"' || char === "'") {
      for (index++; index < text.length && text[index] !== char; index++) {
        if (text[index] === '\n' || text[index] === '\r') return index;
        if (text[index] === '\\') index++;
      }
    } else if (char === '[' || char === '{') {
      depth++;
    } else if ((char === ']' || char === '}') && --depth === 0) {
      return index + 1;
    }
  }
  return text.length;
}

/** Whether a name's closer is a quote: the name was written as JSON's (`"token":`, `\\"token\\":`). */
const isQuote = (closer: string) => closer !== '' && closer !== ']';

/**
 * The part of the text after a secret's name and separator to mask, as [from, to), or null to
 * leave it. Only a value that is masked is read to its end: a kept one is decided on a bounded
 * prefix (a header line kept is `[redacted]` alone; a bare value kept is at most five
 * characters and a run of closers and punctuation, which holds no name), so the scan stays
 * linear (it resumes where a kept value starts).
 */
function secretValueAt(text: string, start: number, name: string, nameCloser: string, separator: string, quote: string, line: LineState): [number, number] | null {
  if (quote !== '') {
    if (matchLengthAt(ALREADY_MASKED, text, start) >= 0) return null;
    const length = matchLengthAt(QUOTED_VALUE[quote]!, text, start);
    return length > 0 ? [start, start + length] : null;
  }
  const word = lastWordOf(name) ?? '';
  if (nameCloser === '' && separator.includes(':') && HEADER_WORDS.has(word)) {
    // `Authorization: Token abc`: the scheme stays readable, the rest of the line is the
    // credential, also where AUTH_SCHEME masked only part of it (`Bearer [redacted]:rest`).
    const from = start + (word === 'authorization' ? Math.max(0, matchLengthAt(SCHEME_WORD, text, start)) : 0);
    const length = matchLengthAt(LINE, text, from);
    const rest = text.slice(from, from + length).trimEnd();
    return rest !== '' && rest !== '[redacted]' ? [from, from + length] : null;
  }
  if (matchLengthAt(ALREADY_MASKED, text, start) >= 0) return null;
  if (text[start] === '[' || text[start] === '{') {
    // After a quoted name (JSON) the value ends with its bracket where JSON goes on
    // (`[{"token":{"a":1}},{"id":2}]`). Otherwise what follows is read as a bare value's rest
    // (`PGPASSWORD={J%G7X}rest`, `password={abc},def`, `"password":{abc}def`), up to a blank or
    // the next assignment.
    const closed = bracketedEnd(text, start);
    const jsonGoesOn = isQuote(nameCloser) && /^(?:[\s,:\]}]|$)/.test(text.slice(closed, closed + 1));
    return [start, jsonGoesOn ? closed : secretEnd(text, closed, bareValueEnd(text, closed, line), line)];
  }
  if (isQuote(nameCloser)) {
    const scalar = matchLengthAt(JSON_SCALAR, text, start);
    if (scalar >= 0) return scalar >= 3 && !BARE_LITERAL.test(text.slice(start, start + scalar)) ? [start, start + scalar] : null;
  }
  const scheme = Math.max(0, matchLengthAt(AUTH_SCHEME_WORD, text, start));
  const from = start + scheme;
  if (matchLengthAt(ALREADY_MASKED, text, from) >= 0) return null;
  const to = secretEnd(text, from, bareValueEnd(text, from, line), line);
  const length = to - from;
  return length >= 3 && !(length <= 5 && BARE_LITERAL.test(text.slice(from, to))) ? [from, to] : null;
}

/**
 * `text` with the value of every `name=value` whose name is a secret's (isSecretName) masked as
 * `[redacted]`. Linear: after a name that is not a secret's, or a value that is kept, scanning
 * resumes where the value starts (a value never swallows an assignment inside it:
 * `upstream: token=abc`), a masked value is read once and skipped, and the brackets open before
 * a value (and the strings it opened) are counted by one pass that only moves forward.
 */
export function maskSecretAssignments(text: string): string {
  if (!MAY_NAME_A_SECRET.test(text)) return text;
  let out = '';
  let copied = 0;
  const line = newLineState();
  let tracked = 0;
  NAME_AND_SEPARATOR.lastIndex = 0;
  for (let match = NAME_AND_SEPARATOR.exec(text); match; match = NAME_AND_SEPARATOR.exec(text)) {
    const [whole, name = '', nameCloser = '', separator = '', quote = ''] = match;
    if (!MAY_NAME_A_SECRET.test(name) || !isSecretName(name)) continue;
    const start = match.index + whole.length;
    trackLine(text, tracked, start, line);
    tracked = start;
    const masked = secretValueAt(text, start, name, nameCloser, separator, quote, line);
    if (!masked) continue;
    out += `${text.slice(copied, masked[0])}[redacted]`;
    // What is masked is `[redacted]` now: its brackets and quotes are not the text's.
    trackLine(text, tracked, masked[0], line);
    copied = tracked = masked[1];
    NAME_AND_SEPARATOR.lastIndex = copied;
  }
  return copied === 0 ? text : out + text.slice(copied);
}
