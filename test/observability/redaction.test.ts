/**
 * Redaction: what `redact` masks and what it leaves, that every line the logger writes is
 * redacted (messages, fields, child bindings, err.message and err.stack) on top of the
 * path-based secret censoring, and roughly what it costs per line.
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/platform/logging/logger.js';
import { bounded } from '../../src/domains/audit/marks.js';
import { isSecretName, luhnValid, redact, redactPrefix, redactValue } from '../../src/platform/logging/redaction.js';

/**
 * The bound of the linear-time checks on inputs of megabytes: a quadratic pass over them takes
 * minutes to hours, a linear one well under a second; the bound separates the two, not speeds, so
 * a busy machine passes (one loaded to ~10 took 3.1 s where 2 s was the bound).
 */
const QUADRATIC_WOULD_TAKE_LONGER_MS = 20_000;

const API_KEY = `slk_${'Ab3_-'.repeat(8)}xyz`; // slk_ + 43 base64url characters
const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk';

describe('redact', () => {
  it.each([
    ['an email', 'user alice.smith+tag@example.co.uk logged in', 'user [redacted email] logged in'],
    ['an international phone number', 'call +44 20 7946 0958 now', 'call [redacted phone] now'],
    ['a US number written internationally', 'sms to +1 (213) 373-4253.', 'sms to [redacted phone].'],
    ['a Luhn-valid card, grouped', 'paid with 4111 1111 1111 1111 today', 'paid with [redacted card] today'],
    ['a Luhn-valid card, plain', 'card=5555555555554444', 'card=[redacted card]'],
    ['an Amex card with dashes', 'amex 3782-822463-10005', 'amex [redacted card]'],
    ['a bearer token', 'Authorization: Bearer abc.def-ghi_jkl', 'Authorization: Bearer [redacted]'],
    ['a JWT', `token ${JWT} refused`, 'token [redacted jwt] refused'],
    ['a JWT glued to a word', `ab${JWT} x-${JWT}`, '[redacted jwt] [redacted jwt]'],
    ['a dotted name that only looks like a payload', 'file.eyJunk.txt and a.eyJabcd.b', 'file.eyJunk.txt and a.eyJabcd.b'],
    ['a Sluice API key', `key ${API_KEY} revoked`, 'key slk_[redacted] revoked'],
    ['a Sluice API key glued to a word', `ab-${API_KEY} abc_${API_KEY}`, 'ab-slk_[redacted] abc_slk_[redacted]'],
    ['a Sluice API key inside a file name', `dir/${API_KEY}-FNSECRET.txt`, 'dir/slk_[redacted].txt'],
    ['a provider key', 'upstream said: invalid key sk-proj-abcdefghijklmnop1234', 'upstream said: invalid key sk-[redacted]'],
    ['a secret assignment in a URL', 'GET /cb?code=1&access_token=s3cr3tvalue&x=2', 'GET /cb?code=1&access_token=[redacted]&x=2'],
    ['a secret field in JSON text', '{"password":"hunter22","n":1}', '{"password":"[redacted]","n":1}'],
    // A secret's name is isSecretName's whatever its case or compound (the same rule as for object members).
    ['a camelCase secret name in free text', 'upstream: sessionToken=abc123def then retry', 'upstream: sessionToken=[redacted] then retry'],
    ['a secret member in JSON text inside a message', 'provider said {"privateKey":"k3yv4lue99","model":"m"}', 'provider said {"privateKey":"[redacted]","model":"m"}'],
    ['escaped JSON text', 'body {\\"clientSecret\\":\\"s3cr3tv4l\\"}', 'body {\\"clientSecret\\":\\"[redacted]\\"}'],
    ['an environment-style name', 'ran with PGPASSWORD=hunter22 and AUTH_TOKEN=abcdef99', 'ran with PGPASSWORD=[redacted] and AUTH_TOKEN=[redacted]'],
    ['a cookie header, every cookie of it', 'Cookie: sid=abc123def; session=SECRET99', 'Cookie: [redacted]'],
    ['an authorization header of another scheme', 'Authorization: Token ghp_abcdef0123 more', 'Authorization: Token [redacted]'],
    ['an authorization header without a scheme, all of it (regression: its first word was kept as the scheme)', 'Authorization: tok123secret trailing words', 'Authorization: [redacted]'],
    ['command-line flags', 'run --password=hunter22 --token=abcdef12 -api-key=zz9 _authToken=q1w2e3', 'run --password=[redacted] --token=[redacted] -api-key=[redacted] _authToken=[redacted]'],
    ['a name glued to a digit', 'config 1client-secret=s3cr3t', 'config 1client-secret=[redacted]'],
    ['pass', 'user: ann pass: hunter22', 'user: ann pass: [redacted]'],
    ['a quoted value with blanks, all of it', 'password="correct horse battery staple" next', 'password="[redacted]" next'],
    ['a JSON value with an escaped quote in it', '{"password":"abc\\"defghij","n":1}', '{"password":"[redacted]","n":1}'],
    ['escaped JSON with an escaped quote in the value', String.raw`body {\"password\":\"ab\\\"cdef\",\"n\":1}`, String.raw`body {\"password\":\"[redacted]\",\"n\":1}`],
    ['a value behind a backslash', 'password=\\xyz9', 'password=[redacted]'],
    ['a list or an object under a secret’s name, whole', '{"passwords": ["hunter2","x"], "apiKey": {"value":"abc123456"}, "user": "ann"}', '{"passwords": [redacted], "apiKey": [redacted], "user": "ann"}'],
    ['a value in brackets, and a digit after the name', '(password=hunter22) user[password]=x123 apiKey2=abcdef', '(password=[redacted]) user[password]=[redacted] apiKey2=[redacted]'],
    ['a credential after an auth scheme’s word', 'token=Bearer abc', 'token=Bearer [redacted]'],
    ['an authorization header whose credential the Bearer pattern masks only in part', 'Authorization: Bearer abcdef:ghijkl', 'Authorization: Bearer [redacted]'],
    ['a signed URL', 'GET /o?X-Amz-Credential=AKIA1&X-Amz-Signature=abcdef0123&y=1', 'GET /o?X-Amz-Credential=[redacted]&X-Amz-Signature=[redacted]&y=1'],
    ['a hash literal', "opts password => 'hunter22'", "opts password => '[redacted]'"],
    ['credentials in a URL', 'calling http://ann:hunter2-horse@10.0.0.5:8080/v1 and ftp://bob@files', 'calling http://[redacted]@10.0.0.5:8080/v1 and ftp://[redacted]@files'],
  ])('masks %s', (_what, input, expected) => {
    expect(redact(input)).toBe(expected);
    // What is masked stays as it is when redacted again.
    expect(redact(expected)).toBe(expected);
  });

  it.each([
    ['a card-like number failing Luhn', 'order 4111 1111 1111 1112 shipped'],
    ['a millisecond timestamp', 'at 1717171717171 ms'],
    ['UUIDs, trace ids and ISO times', '6c1f8a52-1c2b-4d7e-9a61-3f0b7d1f2e4a 4bf92f3577b34da6a3ce929d0e0e4736 2026-05-01T12:00:00.000+02:00'],
    ['a nationally written number (no country configured)', 'call (213) 373-4253'],
    ['durations, ports and byte counts', 'listening on 127.0.0.1:54321 after 1234 ms, 2133734253 bytes'],
    ['names that only end like a secret’s, and token counts', 'monkey=3 keyId=k-17 maxTokens=512 promptTokens: 40 status: ok'],
    ['short values, placeholders and JSON literals under a secret’s name', 'tests pass: 42 where token = $1 {"key":1} {"apiKey":null} password=\\x'],
    ['a JSON text whose cookie member is null (not a header line)', '{"cookie": null, "user": "ann", "n": 1}'],
    ['an already redacted line', '{"password":"[redacted]","msg":"[redacted email] [redacted card]"}'],
  ])('leaves %s alone', (_what, input) => {
    expect(redact(input)).toBe(input);
  });

  it('masks national numbers only for the configured country', () => {
    expect(redact('call (213) 373-4253 or 213.373.4253', { phoneCountry: 'US' })).toBe('call [redacted phone] or [redacted phone]');
    expect(redact('call 020 7946 0958', { phoneCountry: 'GB' })).toBe('call [redacted phone]');
    expect(redact('call 020 7946 0958', { phoneCountry: 'US' })).toBe('call 020 7946 0958');
  });

  it('checks Luhn over the digits only', () => {
    expect(luhnValid('4111-1111-1111-1111')).toBe(true);
    expect(luhnValid('4111 1111 1111 1112')).toBe(false);
  });

  it('redacts every string of a structure, without touching the original', () => {
    const input = { note: 'mail bob@example.com', nested: [{ card: '4242424242424242', count: 4242 }], when: new Date(0), err: new Error('for carol@example.org') };
    const output = redactValue(input);
    expect(output).toEqual({
      note: 'mail [redacted email]',
      nested: [{ card: '[redacted card]', count: 4242 }],
      when: new Date(0),
      err: { name: 'Error', message: 'for [redacted email]', stack: expect.stringContaining('for [redacted email]') },
    });
    expect(input.note).toBe('mail bob@example.com');
  });
});

describe('a bare value under a secret’s name is masked to a blank, a quote or the end of the text (regression: it stopped at & , ; ) ] } and a secret holding one leaked its tail)', () => {
  it.each([
    ['a comma inside the secret', 'password=abc,def', 'password=[redacted]'],
    ['a semicolon inside the secret', 'token=ab;cd', 'token=[redacted]'],
    ['a closing parenthesis inside the secret', 'secret=a)b', 'secret=[redacted]'],
    ['a closing brace inside the secret', 'apiKey=x}y', 'apiKey=[redacted]'],
    ['a closing bracket inside the secret', 'secret=a]b', 'secret=[redacted]'],
    ['an ampersand inside the secret, up to the blank', 'password=p&ss word', 'password=[redacted] word'],
    ['a JSON literal with more after it', 'password=null,abc', 'password=[redacted]'],
    ['an auth scheme’s credential with a comma and a parenthesis', 'token=Bearer abc,def)', 'token=Bearer [redacted]'],
    // A separator ends the value only before another assignment, which stays readable.
    ['a query string: the next parameter stays', 'GET /cb?token=ab&cd,e;f&page=2', 'GET /cb?token=[redacted]&page=2'],
    ['a list of assignments: the next one stays', '{password=abc,def, user=x}', '{password=[redacted], user=x}'],
    ['a connection string: a name with a blank (User Id=) is the next assignment', 'Server=db;Password=abc;def;User Id=x;Initial Catalog=y', 'Server=db;Password=[redacted];User Id=x;Initial Catalog=y'],
    // A closer at the end stays the text’s only when the text opened it before the value.
    ['an object printed by toString: its closing brace stays', 'Config{user=x, password=ab;cd}', 'Config{user=x, password=[redacted]}'],
    ['nested calls: each closer the text opened stays', 'f(g(token=a)b))', 'f(g(token=[redacted]))'],
    ['a parenthesis and a dot the text opened and ends with stay', '(password=ab,cd).', '(password=[redacted]).'],
    ['a closer the text did not open is the secret’s', 'password=hunter22)', 'password=[redacted]'],
    ['a closer after a bracket the value opened is the secret’s', '(password=a(b)', '(password=[redacted]'],
    ['only as many closers as the text opened stay', '(password=ab)c)', '(password=[redacted])'],
    ['punctuation after the value without a closer is masked with it', 'retry with token=abcd;. later', 'retry with token=[redacted] later'],
    // Names of any length (regression: a name over 256 characters was not read at all).
    ['the value of a 300-character name', `${'a'.repeat(291)}_password=hunter22`, `${'a'.repeat(291)}_password=[redacted]`],
    // A name further on is not the next assignment (regression: any later `word:` or `word=` cut the secret at its separator).
    ['a secret with a comma before more logfmt', 'level=info msg=login password=p4ss,w0rd user=bob', 'level=info msg=login password=[redacted] user=bob'],
    ['a secret with a comma before prose with a colon', 'login failed: password=p4ss,w0rd for user: bob', 'login failed: password=[redacted] for user: bob'],
    ['a secret with a semicolon before a time', 'token=abcd;efgh expired at: 12:00', 'token=[redacted] expired at: 12:00'],
    ['a secret holding a comma and a colon', 'password=hunter2,admin:root', 'password=[redacted]'],
    ['a secret whose part before the comma is short', 'level=warn password=ab,cdefgh user=bob', 'level=warn password=[redacted] user=bob'],
    // Blanks of any kind around the separator (regression: a no-break space hid the assignment).
    ['a no-break space before the colon', 'mot de passe password\u00a0: hunter22', 'mot de passe password\u00a0: [redacted]'],
    ['an ideographic space after the equals sign', 'password =\u3000hunter22', 'password =\u3000[redacted]'],
    // Quotes: the secret's own, unless they close a string the text opened (regression: every quote ended the value).
    ['a double quote inside the secret', 'password=abc"def', 'password=[redacted]'],
    ['an apostrophe inside the secret', "password=it'sMyPass", 'password=[redacted]'],
    ['a string the text opened ends the value', 'msg="token=abcdef" next', 'msg="token=[redacted]" next'],
    ['a JSON string the text opened ends the value', '{"msg":"token=abcdef","n":1}', '{"msg":"token=[redacted]","n":1}'],
    // A word glued after a bracketed value is the secret's (regression: it was kept).
    ['a word glued after braces', 'PGPASSWORD={J%G7X}secret', 'PGPASSWORD=[redacted]'],
    ['a word glued after brackets', 'password=[abc]def', 'password=[redacted]'],
    ['a parenthesis the text opened after a list', 'f(password=[a,b])', 'f(password=[redacted])'],
    ['a lower-case scheme word', 'token=bearer abcde', 'token=bearer [redacted]'],
    ['text after braces, not JSON', 'password={abc},defgh x', 'password=[redacted] x'],
    ['a colon after brackets, not JSON', 'password=[ab]:cdef x', 'password=[redacted] x'],
    ['an escaped quote no string opened', "password=ab\\'cdef", 'password=[redacted]'],
    ['text glued after braces under a JSON name', '"password":{abc}defgh', '"password":[redacted]'],
    ['text glued after brackets under a JSON name', '{"token":[x]hunter2secret, "a":1}', '{"token":[redacted], "a":1}'],
    // URL userinfo up to the last @ of the authority, as URL parsers read it.
    ['a URL password holding an unencoded @', 'connect mysql://root:p@ss@db/app failed', 'connect mysql://[redacted]@db/app failed'],
  ])('masks %s', (_what, input, expected) => {
    expect(redact(input)).toBe(expected);
    // What is masked stays as it is when redacted again.
    expect(redact(expected)).toBe(expected);
  });

  it.each([
    ['null values in a list of objects', '[{"id":1,"token":null},{"id":2,"token":null}]'],
    ['a literal secret before more of the list', '{"items":[{"token":true},1,2,3],"total":3}'],
    ['a literal secret before a closer', '{"password":null}]'],
    ['a short number under a secret name', '{"token":12,"n":1}'],
  ])('leaves compact JSON as it is: %s (regression: the value ran on past the closing brace)', (_what, json) => {
    expect(redact(json)).toBe(json);
  });

  it.each([
    ['an object value', '[{"token":{"a":1}},{"id":2}]', '[{"token":[redacted]},{"id":2}]'],
    ['a number', '[{"pin_secret":123456},{"id":2}]', '[{"pin_secret":[redacted]},{"id":2}]'],
  ])('masks a secret in compact JSON and keeps it valid JSON: %s', (_what, json, expected) => {
    expect(redact(json)).toBe(expected);
    // Only the value is gone: with a string in its place, the rest parses as before.
    expect(JSON.parse(redact(json).replace('[redacted]', '"x"'))).toEqual(JSON.parse(json.replace(/:(\{"a":1\}|123456)/, ':"x"')));
  });

  it('stays linear on hostile bare values and names of megabytes (measured, printed)', () => {
    // Compared by length and ends: a diff of two megabytes says nothing.
    const summary = (text: string) => ({ length: text.length, head: text.slice(0, 40), tail: text.slice(-40) });
    const cases: [string, string, string][] = [
      ['separators in the value', `password=${'a,'.repeat(1_000_000)}`, 'password=[redacted]'],
      ['semicolons in the value', `token=${'a;'.repeat(1_000_000)}`, 'token=[redacted]'],
      ['a run of commas', `password=${','.repeat(2_000_000)}`, 'password=[redacted]'],
      ['a run of semicolons', `password=${';'.repeat(2_000_000)}`, 'password=[redacted]'],
      ['a separator before a name of megabytes', `password=a,${'b'.repeat(2_000_000)}`, 'password=[redacted]'],
      ['separators before unclosed brackets', `password=${'a,b[x'.repeat(400_000)}`, 'password=[redacted]'],
      ['a name of 2 MB', `${'a'.repeat(2_000_000)}_password=hunter22`, `${'a'.repeat(2_000_000)}_password=[redacted]`],
      ['a name of 2 MB ending in a run of digits', `password_${'1'.repeat(2_000_000)}x=hunter22`, `password_${'1'.repeat(2_000_000)}x=hunter22`],
      ['a million brackets the text opened', `${'('.repeat(1_000_000)}password=a)b${')'.repeat(1_000_000)}`, `${'('.repeat(1_000_000)}password=[redacted]${')'.repeat(1_000_000)}`],
      // Kept values are read to their end too: never again for the next name.
      ['short values before assignments', `key ${'a=a&'.repeat(500_000)}`, `key ${'a=a&'.repeat(500_000)}`],
      ['short secret values before assignments', 'token=a&'.repeat(250_000), 'token=a&'.repeat(250_000)],
      ['short secret values before assignments in one run', 'password=a,b='.repeat(150_000), 'password=a,b='.repeat(150_000)],
      ['a separator before a million words and no assignment', `password=a; ${'w '.repeat(1_000_000)}`, `password=a; ${'w '.repeat(1_000_000)}`],
      ['separators before line breaks', `password=a${';\n'.repeat(1_000_000)}`, `password=a${';\n'.repeat(1_000_000)}`],
      ['quotes in the value', `password=${'a"'.repeat(1_000_000)}`, 'password=[redacted]'],
      ['quotes the text opened before short values', `"${'token=a" "'.repeat(200_000)}`, `"${'token=a" "'.repeat(200_000)}`],
      ['separators before quoted names', `password=a${',"b'.repeat(600_000)}`, 'password=[redacted]'],
      ['a bracketed value glued to more brackets', `password={a}${'b{'.repeat(1_000_000)}`, 'password=[redacted]'],
      ['a run of JWT headers without a dot', 'eyJ'.repeat(700_000), 'eyJ'.repeat(700_000)],
      ['payload-like pieces without a header', 'a.eyJaaaa.'.repeat(200_000), 'a.eyJaaaa.'.repeat(200_000)],
    ];
    const timings: string[] = [];
    for (const [what, hostile, expected] of cases) {
      const start = process.hrtime.bigint();
      const out = redact(hostile);
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      timings.push(`${what}: ${ms.toFixed(0)} ms`);
      expect(summary(out), what).toEqual(summary(expected));
      expect(out === expected, what).toBe(true);
      expect(ms, what).toBeLessThan(QUADRATIC_WOULD_TAKE_LONGER_MS);
    }
    console.info(`redact, hostile bare values and names (about 2 MB each): ${timings.join('; ')}`);
  });

  it('decides whether a name of megabytes is a secret’s in linear time (regression: a run of digits not at its end was quadratic)', () => {
    const name = `password${'1'.repeat(2_000_000)}x`;
    const start = process.hrtime.bigint();
    expect(isSecretName(name)).toBe(false);
    expect(redactValue({ [name]: 'hunter22' })).toEqual({ [name]: 'hunter22' });
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    console.info(`isSecretName and redactValue on a 2 MB name: ${ms.toFixed(0)} ms`);
    expect(ms).toBeLessThan(QUADRATIC_WOULD_TAKE_LONGER_MS);
  });
});

describe('a string cut to a limit is redacted before it is cut (regression: the audit trail cut first, and kept `ann@examp…`)', () => {
  // The value starts 7 characters before the cut at 256.
  const across = (what: string) => `${'a'.repeat(248)} ${what} and more`;
  it.each([
    ['an email', 'ann@example.com'],
    ['a phone number', '+44 20 7946 0958'],
    ['a JWT', JWT],
    ['a Sluice key', API_KEY],
  ])('never writes part of %s across the cut', (_what, value) => {
    const part = value.slice(0, 5);
    const kept = redactPrefix(across(value), 256);
    expect(kept.length).toBeLessThanOrEqual(256);
    expect(kept).not.toContain(part);
    expect(bounded(across(value), 0)).not.toContain(part);
    expect(bounded(across(value), 0)).toMatch(/^a{248}.*…$/);
    expect(redactValue({ text: across(value) }, { stringLimits: { each: 256, total: 1_000 } }).text).not.toContain(part);
  });

  it.each([
    ['masks shortening the text before the cut', `sk-${'A'.repeat(3_000)} ${'x'.repeat(5_680)} ${API_KEY} tail`, API_KEY.slice(0, 8)],
    ['invisible characters removed before the cut', `${'\u200b'.repeat(3_000)}${'y'.repeat(5_683)} ann.lee@example.com wrote`, 'ann.lee@'],
    ['a token longer than what is read past the cut', `${'x '.repeat(4_000)}eyJhbGciOiJIUzI1NiJ9.eyJ${'c3ViIjoiam9obkBleGFtcGxlLmNvbSJ9'.repeat(400)}.SIG`, 'eyJhbGci'],
    ['a token across the end of what is read', `${'x '.repeat(4_000)}${'z'.repeat(4_290)} ${API_KEY} ${'w '.repeat(5_000)}`, API_KEY.slice(0, 8)],
  ])('never writes a value in part when %s (regression: the cut was made where the redacted text no longer matched the text)', (_what, text, part) => {
    const out = redactValue({ text }, { stringLimits: { each: 8_192, total: 32_768 } }).text;
    expect(out).not.toContain(part);
    expect(out.length).toBeLessThanOrEqual(8_192 + '…[cut: 1000000 characters in all]'.length);
  });

  it.each([
    ['a URL whose password is longer than what is read past the cut', `${'x '.repeat(4_000)}https://alice:${'S3cr%2Fet'.repeat(600)}@db.example.com/x ${'x '.repeat(6_000)}`, 'alice:'],
    ['an email whose domain is longer than what is read past the cut', `${'x '.repeat(4_050)}ann.smith@${'1.'.repeat(2_500)}com ${'y '.repeat(8_000)}`, 'ann.smith'],
  ])('drops %s whole (regression: the cut walked back over token characters only)', (_what, text, part) => {
    expect(redactPrefix(text, 8_192)).not.toContain(part);
    expect(redactPrefix(text, 8_192)).toMatch(/^(x )+$/);
  });

  it('keeps a short string whole', () => {
    expect(redactPrefix('ann@example.com called', 256)).toBe('[redacted email] called');
    expect(bounded('ann@example.com called', 0)).toBe('[redacted email] called');
  });
});

describe('invisible characters cannot hide what is masked (regression: a logIn email with a NUL byte was logged raw)', () => {
  it.each([
    ['a NUL before the @', 'login failed for ann\u0000@example.com', 'login failed for [redacted email]'],
    ['a NUL inside the domain', 'login failed for ann@exam\u0000ple.com', 'login failed for [redacted email]'],
    ['a zero-width space', 'mail ann\u200B@example.com now', 'mail [redacted email] now'],
    ['a soft hyphen in a card number', 'card 4111\u00AD1111 1111 1111', 'card [redacted card]'],
    ['a bidi override in a key', `key ${API_KEY.slice(0, 10)}\u202E${API_KEY.slice(10)}`, 'key slk_[redacted]'],
    ['an escape character in a JWT', `jwt ${JWT.slice(0, 20)}\u001B${JWT.slice(20)}`, 'jwt [redacted jwt]'],
    ['a fullwidth @', 'mail ann＠example.com', 'mail [redacted email]'],
    ['a short NUL-split email', 'a\u0000@b.co', '[redacted email]'],
  ])('masks an email, card or token split by %s', (_what, input, expected) => {
    expect(redact(input)).toBe(expected);
  });

  it('redacts the log line of a database error quoting a NUL-split email', () => {
    const lines: string[] = [];
    const logger = createLogger({
      level: 'info',
      destination: new Writable({
        write(chunk, _encoding, done) {
          lines.push(...String(chunk).split('\n').filter(Boolean));
          done();
        },
      }),
    });
    // The shape of the driver's error for `logIn(input: { email: "ann\u0000smith@example.com" })`.
    const error = Object.assign(new Error(`select "u0".* from "users" as "u0" where "u0"."email" = 'ann\u0000smith@example.com' limit 1 - invalid byte sequence for encoding "UTF8": 0x00`), {
      params: ['ann\u0000smith@example.com'],
    });
    logger.error({ err: error, path: ['logIn'] }, 'unexpected error in operation');
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toMatch(/smith/);
    expect(JSON.parse(lines[0]!).err.params).toEqual(['[redacted email]']);
  });
});

describe('every log line', () => {
  function capture() {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(...String(chunk).split('\n').filter(Boolean));
        done();
      },
    });
    return { lines, logger: createLogger({ level: 'debug', destination: sink }) };
  }

  it('masks messages, fields, bindings, error messages and stacks, and still censors secret keys', () => {
    const { lines, logger } = capture();
    const child = logger.child({ requestId: 'r-1', caller: 'dave@example.net' });
    const error = new Error(`duplicate signup for erin@example.com, card 4111111111111111, ${JWT}`);
    child.error({ err: error, phone: '+44 20 7946 0958', password: 'hunter22', nested: { authorization: `Bearer ${API_KEY}` } }, `login by ${API_KEY}`);
    child.info('order 4111 1111 1111 1112 shipped');

    expect(lines).toHaveLength(2);
    const [first, second] = lines.map((line) => JSON.parse(line)); // still valid JSON
    expect(first).toMatchObject({
      requestId: 'r-1',
      caller: '[redacted email]',
      phone: '[redacted phone]',
      password: '[redacted]',
      nested: { authorization: '[redacted]' },
      msg: 'login by slk_[redacted]',
      err: { message: 'duplicate signup for [redacted email], card [redacted card], [redacted jwt]' },
    });
    expect(first.err.stack).toContain('duplicate signup for [redacted email], card [redacted card], [redacted jwt]');
    expect(second.msg).toBe('order 4111 1111 1111 1112 shipped');
    const all = lines.join('\n');
    for (const secret of ['dave@example.net', 'erin@example.com', '4111111111111111', '7946 0958', 'hunter22', API_KEY, JWT]) {
      expect(all).not.toContain(secret);
    }
  });

  it('censors secret-named members at any depth and however named, not only the paths a list once gave', () => {
    const { lines, logger } = capture();
    logger.info({ call: { upstream: { request: { headers: { cookie: 'sid=deepcookie42' } } } }, env: { PGPASSWORD: 'gluedpw42', secrets: ['listed42'] }, previousMasterKeys: ['oldmaster42'], maxTokens: 512 }, 'called');
    const parsed = JSON.parse(lines[0]!);
    expect(parsed).toMatchObject({ call: { upstream: { request: { headers: { cookie: '[redacted]' } } } }, env: { PGPASSWORD: '[redacted]', secrets: '[redacted]' }, previousMasterKeys: '[redacted]', maxTokens: 512 });
    for (const secret of ['deepcookie42', 'gluedpw42', 'listed42', 'oldmaster42']) expect(lines[0]).not.toContain(secret);
  });

  it('cuts strings of megabytes before redacting them, and says so (regression: one field of phone-like numbers held the event loop for seconds)', () => {
    const { lines, logger } = capture();
    const phones = '+1 202 555 0100 '.repeat(125_000); // 2 MB: 6 to 10 s of redaction, uncut
    const started = process.hrtime.bigint();
    logger.info({ body: phones, more: Array.from({ length: 8 }, () => `${'word '.repeat(200_000)}`) }, 'big request');
    console.info(`a line with 10 MB of strings: ${(Number(process.hrtime.bigint() - started) / 1e6).toFixed(0)} ms`);
    const parsed = JSON.parse(lines[0]!);
    expect(parsed.msg).toBe('big request');
    // Each string to 8 KiB, cut at a blank, its length said; every phone number kept is masked.
    expect(parsed.body).toMatch(/^(\[redacted phone\] )+[^\d]*…\[cut: 2000000 characters in all\]$/);
    // The number across the cut was masked whole before it, not written in part.
    expect(parsed.body.replace(/…\[cut: \d+ characters in all\]$/, '')).not.toMatch(/\d/);
    expect(parsed.body.length).toBeLessThanOrEqual(8_192 + '…[cut: 2000000 characters in all]'.length);
    // All of the fields' strings to 32 KiB, then only the note; the message has its own budget.
    const kept = [parsed.body, ...parsed.more].map((text: string) => text.replace(/…\[cut: \d+ characters in all\]$/, '').length);
    expect(kept.reduce((sum: number, n: number) => sum + n, 0)).toBeLessThanOrEqual(32_768);
    expect(parsed.more.at(-1)).toBe('…[cut: 1000000 characters in all]');
    expect(lines[0]!.length).toBeLessThan(40_000);
  });

  it('bounds a line of many short strings, and keeps its message (a budget that spared short strings bounded nothing)', () => {
    const { lines, logger } = capture();
    logger.info({ numbers: Array.from({ length: 8_000 }, () => '+1 202 555 0143 '.repeat(16)) }, `imported ${'rows '.repeat(10)}`);
    const parsed = JSON.parse(lines[0]!);
    expect(parsed.msg).toBe(`imported ${'rows '.repeat(10)}`);
    const read = parsed.numbers.filter((text: string) => !text.startsWith('…[cut'));
    expect(read.length).toBeLessThanOrEqual(Math.ceil(32_768 / 256));
    expect(parsed.numbers.at(-1)).toBe('…[cut: 256 characters in all]');
    expect(lines[0]).not.toContain('202 555');
  });

  it('redacts keys like strings, and past the budget writes no note longer than what it stands for', () => {
    const { lines, logger } = capture();
    logger.info({ byEmail: { 'ann@example.com': 1, [`${'k'.repeat(2_000_000)} ${JWT}`]: 2 }, filler: Array(4).fill('f '.repeat(20_000)), rest: Array(1_000).fill('ab') }, 'keys');
    const parsed = JSON.parse(lines[0]!);
    expect(Object.keys(parsed.byEmail)[0]).toBe('[redacted email]');
    // A run with no break in reach of the cut, as a token would be, is dropped whole.
    expect(Object.keys(parsed.byEmail)[1]).toMatch(/^k*…\[cut: 2000\d+ characters in all\]$/);
    expect(lines[0]).not.toContain('eyJ');
    expect(lines[0]).not.toContain('ann@example.com');
    expect(parsed.rest).toEqual(Array(1_000).fill('…'));
    expect(parsed.msg).toBe('keys');
  });

  it('judges a key as it is written, and keeps keys redacted alike apart (regression: a fullwidth key was written `password` with its value; one email key overwrote another)', () => {
    const { lines, logger } = capture();
    logger.info({ password: 'x', 'ｐａｓｓｗｏｒｄ': 'fullwidth42', 'pass\u200bword': 'zerowidth42', byEmail: { 'ann@a.example': 'first', 'bob@b.example': 'second' } }, 'keys');
    const parsed = JSON.parse(lines[0]!);
    expect(parsed).toMatchObject({ password: '[redacted]', 'password#2': '[redacted]', 'password#3': '[redacted]', byEmail: { '[redacted email]': 'first', '[redacted email]#2': 'second' } });
    expect(lines[0]).not.toMatch(/fullwidth42|zerowidth42/);
    expect(bounded({ 'ｐａｓｓｗｏｒｄ': 'fullwidth42', 'ann@a.example': 'first', 'bob@b.example': 'second' }, 0)).toEqual({
      password: { secret: 'omitted' },
      '[redacted email]': 'first',
      '[redacted email]#2': 'second',
    });
  });

  it('keeps 50 000 keys redacted alike apart in linear time (measured, printed)', () => {
    const byEmail = Object.fromEntries(Array.from({ length: 50_000 }, (_, index) => [`user${index}@example.com`, index]));
    const started = process.hrtime.bigint();
    const kept = redactValue(byEmail, { stringLimits: { each: 8_192, total: 32_768 } });
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    console.info(`50 000 email keys: ${ms.toFixed(0)} ms`);
    expect(Object.keys(kept)).toHaveLength(50_000);
    expect(kept['[redacted email]#50000']).toBe(49_999);
    expect(ms).toBeLessThan(5_000);
  });

  it('reads a secret’s name before any number of digits (regression: past 1 KiB of digits it read only digits)', () => {
    for (const name of [`password${'1'.repeat(1_100)}`, `apiKey${'0'.repeat(5_000)}`]) {
      expect(isSecretName(name)).toBe(true);
      expect(redact(`${name}=hunter22`)).toBe(`${name}=[redacted]`);
    }
    expect(isSecretName(`${'aB'.repeat(2_500_000)}Password`)).toBe(true);
  });

  it('cuts compact JSON and long URLs at their punctuation, not to nothing', () => {
    const body = JSON.stringify(Array.from({ length: 2_000 }, (_, index) => ({ id: index, name: `item-${index}` })));
    const kept = redactValue({ body }, { stringLimits: { each: 8_192, total: 32_768 } }).body;
    expect(kept.length).toBeGreaterThan(7_000);
    expect(kept).toMatch(/^\[\{"id":0,"name":"item-0"\}.*…\[cut: \d+ characters in all\]$/);
  });

  it('keeps lines valid JSON when a number’s digits look like a card (regression: a fraction was masked)', () => {
    const { lines, logger } = capture();
    // 4111111111111111 passes Luhn: as the fraction of a duration it once became "12.[redacted card]".
    logger.info({ durationMs: 12.4111111111111111, bytes: 4111111111111111, note: 'took 12.4111111111111111 ms' }, 'done');
    const parsed = JSON.parse(lines[0]!);
    expect(parsed).toMatchObject({ durationMs: 12.4111111111111111, bytes: 4111111111111111, note: 'took 12.4111111111111111 ms' });
  });

  it('costs a few microseconds on a typical line (measured, printed)', () => {
    const plain =
      '{"level":30,"time":"2026-05-01T12:00:00.000Z","pid":1234,"name":"sluice","requestId":"6c1f8a52-1c2b-4d7e-9a61-3f0b7d1f2e4a","traceId":"4bf92f3577b34da6a3ce929d0e0e4736","msg":"request completed in 12 ms with status 200"}\n';
    const personal = plain.replace('request completed', 'alice@example.com called +44 20 7946 0958, card 4111 1111 1111 1111');
    const microsPerLine = (line: string) => {
      for (let i = 0; i < 2_000; i++) redact(line); // warm up
      const rounds = 20_000;
      const start = process.hrtime.bigint();
      for (let i = 0; i < rounds; i++) redact(line);
      return Number(process.hrtime.bigint() - start) / rounds / 1_000;
    };
    const plainMicros = microsPerLine(plain);
    const personalMicros = microsPerLine(personal);
    console.info(`redact: ${plainMicros.toFixed(1)} µs per plain ${plain.length}-byte line, ${personalMicros.toFixed(1)} µs with an email, a phone and a card`);
    // Generous bounds (two shared cores): they catch a pattern gone quadratic, not noise.
    expect(plainMicros).toBeLessThan(100);
    expect(personalMicros).toBeLessThan(1_000);
    // A 1 MB line without any '@' or digits stays linear (no catastrophic backtracking).
    // Nor do long runs of assignments, names or quotes (regression: `a=a=a=…` after a secret's
    // word read each value to the end again: 80 KB took a second, 320 KB twenty).
    for (const hostile of [
      `${'a.b-c_'.repeat(170_000)}@`,
      `key ${'a='.repeat(500_000)}`,
      `token ${'_a'.repeat(500_000)}=`,
      `password="${'\\'.repeat(500_000)}`,
      'password='.repeat(100_000),
      // Values kept (already masked, an auth scheme's) are not read again for each name before them.
      'password=[redacted]/'.repeat(50_000),
      'Authorization: Bearer abcdefgh '.repeat(30_000),
      'Cookie: [redacted] '.repeat(50_000),
      `password=${'['.repeat(500_000)}`,
    ]) {
      const start = process.hrtime.bigint();
      redact(hostile);
      expect(Number(process.hrtime.bigint() - start) / 1e6).toBeLessThan(QUADRATIC_WOULD_TAKE_LONGER_MS);
    }
  });
});
