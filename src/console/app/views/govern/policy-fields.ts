/**
 * How the policies view asks for each policy type's configuration: one entry per field, with
 * a label and a sentence saying what it does (docs/policies.md in brief). A type this table
 * does not know (a server newer than the console) is edited as JSON, checked by the server
 * all the same: the server's zod schema stays the rule; this table only explains it.
 */

export type FieldKind = 'number' | 'text' | 'lines' | 'choice';

export interface PolicyField {
  key: string;
  label: string;
  kind: FieldKind;
  help: string;
  /** For `choice`: value and label. */
  choices?: [string, string][];
  /** Left empty, the field is not sent and the server's default (said in `help`) applies. */
  optional?: boolean;
}

const SCOPE: PolicyField = {
  key: 'scope',
  label: 'Counted per',
  kind: 'choice',
  choices: [
    ['per_user', 'caller (each user, API key, external identity or anonymous address)'],
    ['per_tenant', "caller's tenant (all its callers together)"],
    ['global', 'everyone together'],
  ],
  help: 'Whose queries share one allowance.',
};

export const POLICY_FIELDS: Record<string, PolicyField[]> = {
  access: [
    {
      key: 'mode',
      label: 'Mode',
      kind: 'choice',
      choices: [
        ['allow', 'allow: only callers matching a pattern may ask'],
        ['deny', 'deny: callers matching a pattern are refused'],
      ],
      help: 'A deny wins over any allow. An allow list refuses callers with no email (API keys).',
    },
    {
      key: 'patterns',
      label: 'Patterns',
      kind: 'lines',
      help: 'One a line: an email glob (*@example.com, ann@example.org), case-insensitive, or the word anonymous for callers with no credential.',
    },
  ],
  rate_limit: [
    { key: 'requestsPerPeriod', label: 'Queries', kind: 'number', help: 'How many queries are let through in each window (1 to 1,000,000).' },
    { key: 'periodSeconds', label: 'Window (seconds)', kind: 'number', help: 'The sliding window: 60 is a minute, 3600 an hour, 86400 a day.' },
    { ...SCOPE, optional: true },
  ],
  accounting: [
    { key: 'flatMicros', label: 'Flat charge (micro-units)', kind: 'number', optional: true, help: 'Charged for every query answered; 1,000,000 micro-units are one unit of your currency. Default 0.' },
    { key: 'microsPer1kTokens', label: 'Charge per 1,000 tokens (micro-units)', kind: 'number', optional: true, help: 'Added per 1,000 tokens the model used (rounded up). Default 0.' },
    { key: 'quota', label: 'Quota (micro-units)', kind: 'number', optional: true, help: 'Refuse queries once the charges in the window reach this. Empty: no quota, charges are only recorded.' },
    { key: 'periodSeconds', label: 'Window (seconds)', kind: 'number', optional: true, help: 'The window the quota sums over. Default 86400 (a day).' },
    { ...SCOPE, optional: true },
  ],
  content_guard: [
    { key: 'maxLength', label: 'Longest query (characters)', kind: 'number', optional: true, help: 'Longer queries are refused (CONTENT_TOO_LONG). Default 8192.' },
    { key: 'maxUrls', label: 'Most URLs', kind: 'number', optional: true, help: 'Queries with more links are refused (CONTENT_URLS); disguised ones count. Default 5.' },
    { key: 'maxPhoneNumbers', label: 'Most phone numbers', kind: 'number', optional: true, help: 'Queries with more phone numbers are refused (CONTENT_PHONE_NUMBERS). Default 3.' },
    { key: 'phoneCountry', label: 'Phone country', kind: 'text', optional: true, help: 'Two letters (US, GB, DE): how numbers written without +country are read. Default US.' },
    { key: 'maxViolationsPerMinute', label: 'Violations allowed per minute', kind: 'number', optional: true, help: 'A caller refused more often than this within a minute is blocked. Default 10.' },
    { key: 'blockSeconds', label: 'Block (seconds)', kind: 'number', optional: true, help: 'How long such a caller is blocked (RATE_LIMITED, BLOCKED). Default 900.' },
  ],
};

/** The form's text for each field of a stored configuration. */
export function formValues(type: string, configuration: Record<string, unknown> | undefined): Record<string, string> {
  const fields = POLICY_FIELDS[type];
  if (!fields) return { json: JSON.stringify(configuration ?? {}, null, 2) };
  const values: Record<string, string> = {};
  for (const field of fields) {
    const value = configuration?.[field.key];
    if (value === undefined || value === null) values[field.key] = field.kind === 'choice' && !field.optional ? (field.choices?.[0]?.[0] ?? '') : '';
    else values[field.key] = Array.isArray(value) ? value.join('\n') : String(value);
  }
  return values;
}

/**
 * The configuration to send. Numbers that do not parse are sent as typed, so the server's
 * answer names the field; empty optional fields are left out (the server fills its default).
 */
export function configurationFrom(type: string, values: Record<string, string>): Record<string, unknown> {
  const fields = POLICY_FIELDS[type];
  if (!fields) {
    try {
      return JSON.parse(values.json || '{}') as Record<string, unknown>;
    } catch (error) {
      throw new Error(`The configuration is not JSON: ${(error as Error).message}`);
    }
  }
  const configuration: Record<string, unknown> = {};
  for (const field of fields) {
    const raw = (values[field.key] ?? '').trim();
    if (raw === '' && field.kind !== 'lines') {
      if (!field.optional) configuration[field.key] = field.kind === 'number' ? null : raw;
      continue;
    }
    if (field.kind === 'number') configuration[field.key] = /^-?\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw;
    else if (field.kind === 'lines') configuration[field.key] = raw.split('\n').map((line) => line.trim()).filter(Boolean);
    else configuration[field.key] = raw;
  }
  return configuration;
}

/** One line saying what a stored policy does, for the list. */
export function describePolicy(type: string, c: Record<string, any>): string {
  const per = (scope: unknown) => (scope === 'per_tenant' ? 'per tenant' : scope === 'global' ? 'for everyone' : 'per caller');
  switch (type) {
    case 'access':
      return `${c.mode === 'deny' ? 'Refuses' : 'Only lets through'} ${(c.patterns ?? []).join(', ')}`;
    case 'rate_limit':
      return `${c.requestsPerPeriod} queries per ${c.periodSeconds} s ${per(c.scope)}`;
    case 'accounting':
      return `Charges ${c.flatMicros} µ + ${c.microsPer1kTokens} µ per 1k tokens${c.quota ? `, quota ${c.quota} µ per ${c.periodSeconds} s ${per(c.scope)}` : ', no quota'}`;
    case 'content_guard':
      return `At most ${c.maxLength} characters, ${c.maxUrls} URLs, ${c.maxPhoneNumbers} phone numbers; ${c.maxViolationsPerMinute} violations a minute block for ${c.blockSeconds} s`;
    default:
      return JSON.stringify(c);
  }
}
