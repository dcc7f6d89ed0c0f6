/**
 * Development secrets: generated once per data directory, kept with mode 0600, reused by every
 * later start so sessions and encrypted values survive a restart. Never used in production
 * (`parseConfig` refuses to start there without real secrets).
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';

const devSecretsSchema = z.object({
  jwtSecret: z.string().min(32),
  masterKey: z.string(),
  databasePassword: z.string().min(16),
  appDatabasePassword: z.string().min(16),
});

export type DevSecrets = z.infer<typeof devSecretsSchema>;

export const DEV_SECRETS_FILE = 'secrets.json';

export async function loadOrCreateDevSecrets(
  dataDir: string,
): Promise<{ secrets: DevSecrets; file: string; created: boolean }> {
  const file = path.join(dataDir, DEV_SECRETS_FILE);
  let existing: string | undefined;
  try {
    existing = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  if (existing !== undefined) {
    const parsed = devSecretsSchema.safeParse(parseJson(existing));
    if (!parsed.success) {
      throw new Error(`${file} is not a valid Sluice secrets file; move it away to generate a new one`);
    }
    // Someone may have copied the file with a wider mode; secrets stay private to the owner.
    await chmod(file, 0o600);
    return { secrets: parsed.data, file, created: false };
  }
  const secrets: DevSecrets = {
    jwtSecret: randomBytes(48).toString('base64url'),
    masterKey: randomBytes(32).toString('base64'),
    databasePassword: randomBytes(24).toString('base64url'),
    appDatabasePassword: randomBytes(24).toString('base64url'),
  };
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  // `wx`: never overwrite a file another process created a moment ago.
  await writeFile(file, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  return { secrets, file, created: true };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
