/**
 * Where the CLI keeps what `sluice login` got: the server's URL and either a session (access
 * and refresh tokens; never the password) or an API key. One JSON file in the user's config
 * directory, readable by the user alone (0600, in a 0700 directory), rewritten atomically
 * each time a refresh rotates the tokens.
 *
 * The directory: $SLUICE_CONFIG_DIR, else $XDG_CONFIG_HOME/sluice, else ~/.config/sluice
 * (%APPDATA%\sluice on Windows).
 */
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Session } from '../sdk/index.js';

export interface StoredLogin {
  url: string;
  email?: string;
  tenant?: string;
  session?: Session;
  apiKey?: string;
}

export function configDirectory(env: NodeJS.ProcessEnv = process.env): string {
  if (env.SLUICE_CONFIG_DIR) return env.SLUICE_CONFIG_DIR;
  if (env.XDG_CONFIG_HOME) return join(env.XDG_CONFIG_HOME, 'sluice');
  if (process.platform === 'win32' && env.APPDATA) return join(env.APPDATA, 'sluice');
  return join(homedir(), '.config', 'sluice');
}

export const credentialsPath = (env?: NodeJS.ProcessEnv) => join(configDirectory(env), 'credentials.json');

/** A credentials file that is there but cannot be read: `sluice logout` removes it. */
export class UnreadableLogin extends Error {}

export function readLogin(env?: NodeJS.ProcessEnv): StoredLogin | undefined {
  try {
    return JSON.parse(readFileSync(credentialsPath(env), 'utf8')) as StoredLogin;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new UnreadableLogin(`${credentialsPath(env)} is unreadable (${(error as Error).message}); run \`sluice logout\` and log in again`);
  }
}

export function writeLogin(login: StoredLogin, env?: NodeJS.ProcessEnv): void {
  const directory = configDirectory(env);
  mkdirSync(directory, { recursive: true, mode: 0o700 });
  const path = credentialsPath(env);
  // Written beside, then renamed: a reader never sees half a file, and the mode is set
  // before the secret is in it.
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, '', { mode: 0o600 });
  chmodSync(temporary, 0o600);
  writeFileSync(temporary, `${JSON.stringify(login, null, 2)}\n`);
  renameSync(temporary, path);
}

export function forgetLogin(env?: NodeJS.ProcessEnv): void {
  rmSync(credentialsPath(env), { force: true });
}
