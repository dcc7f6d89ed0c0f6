/**
 * Production's refusal of secrets that are well formed but guessable or shared
 * (platform/secrets/secret-strength.ts). Malformed ones are already named by the schema, so each
 * variable gets one message, and no message repeats a value.
 */
import { decodeMasterKey } from './config-env.js';
import { SECRET_RULES, secretWeakness, type SecretRule } from './platform/secrets/secret-strength.js';

type Env = Record<string, string | undefined>;

/** One secret as production would use it: the variable that holds it, its value, its rule. */
interface Secret {
  name: string;
  value: string | Uint8Array;
  rule: SecretRule;
}

/** An issue for every guessable secret and for every secret that another setting already holds. */
export function weakSecrets(env: Env): string[] {
  const secrets = productionSecrets(env);
  const weak = secrets.flatMap(({ name, value, rule }) => {
    const weakness = secretWeakness(value, rule);
    return weakness ? [`${name}: ${weakness}`] : [];
  });
  // PGPASSWORD may rightly be a URL's password too: an operator sets it for psql.
  return [...weak, ...sharedSecrets(secrets.filter(({ name }) => name !== 'PGPASSWORD'))];
}

function productionSecrets(env: Env): Secret[] {
  const secrets: (Secret | undefined)[] = [
    env.JWT_SECRET && env.JWT_SECRET.length >= 32 ? { name: 'JWT_SECRET', value: env.JWT_SECRET, rule: SECRET_RULES.jwtSecret } : undefined,
    masterKey('SLUICE_MASTER_KEY', env.SLUICE_MASTER_KEY),
    ...(env.SLUICE_MASTER_KEY_PREVIOUS ?? '').split(',').map((key) => masterKey('SLUICE_MASTER_KEY_PREVIOUS', key.trim())),
    env.SLUICE_METRICS_TOKEN && env.SLUICE_METRICS_TOKEN.length >= 16
      ? { name: 'SLUICE_METRICS_TOKEN', value: env.SLUICE_METRICS_TOKEN, rule: SECRET_RULES.metricsToken }
      : undefined,
  ];
  const urls = [databasePassword('DATABASE_URL', env.DATABASE_URL), databasePassword('DATABASE_APP_URL', env.DATABASE_APP_URL)];
  // node-postgres (and so MikroORM and graphile-worker) logs in with PGPASSWORD when a URL has no password.
  const pgPassword = env.PGPASSWORD && urls.includes(undefined) ? { name: 'PGPASSWORD', value: env.PGPASSWORD, rule: SECRET_RULES.databasePassword } : undefined;
  return [...secrets, ...urls, pgPassword].filter((secret) => secret !== undefined);
}

function masterKey(name: string, value: string | undefined): Secret | undefined {
  const key = value ? decodeMasterKey(value) : undefined;
  return key ? { name, value: key, rule: SECRET_RULES.masterKey } : undefined;
}

/**
 * The password a postgres URL carries (`user:password@`, or `?password=`, which node-postgres
 * prefers). A URL without one is left to the database: the password then comes from PGPASSWORD
 * (checked above) or ~/.pgpass, or the server authenticates otherwise (a client certificate,
 * peer authentication over a unix socket), and a server that wants a password refuses the login.
 */
function databasePassword(name: string, url: string | undefined): Secret | undefined {
  if (!url || !URL.canParse(url)) return undefined;
  const parsed = new URL(url);
  const password = parsed.searchParams.get('password') ?? safeDecode(parsed.password);
  return password ? { name: `${name} (password)`, value: password, rule: SECRET_RULES.databasePassword } : undefined;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/**
 * One value in two settings: a leak of the one that travels (the metrics token goes to every
 * scraper, database passwords to every database administrator) gives away the other, and an
 * earlier master key equal to the current one means the rotation never happened.
 */
function sharedSecrets(secrets: readonly Secret[]): string[] {
  const seen = new Map<string, string>();
  const issues: string[] = [];
  for (const { name, value, rule } of secrets) {
    // Keys are compared as bytes, so `openssl rand -base64 32` text reused as a token still matches them.
    const forms = typeof value === 'string' ? [value, decodeMasterKey(value)?.toString('hex')] : [Buffer.from(value).toString('hex')];
    const earlier = forms.map((form) => (form === undefined ? undefined : seen.get(form))).find((other) => other !== undefined);
    if (earlier !== undefined) {
      issues.push(`${name}: is the same secret as ${earlier}; each setting needs its own: generate one with \`${rule.generate}\``);
      continue;
    }
    for (const form of forms) if (form !== undefined) seen.set(form, name);
  }
  return issues;
}
