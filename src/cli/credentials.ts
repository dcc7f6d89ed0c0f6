/**
 * Where the CLI keeps what `sluice login` got: the server's URL and either a session (access
 * and refresh tokens; never the password) or an API key. One JSON file in the user's config
 * directory, readable by the user alone (0600, in a 0700 directory), rewritten atomically
 * each time a refresh rotates the tokens, and read only while it is still that
 * (private-files.ts).
 *
 * The directory: $SLUICE_CONFIG_DIR, else $XDG_CONFIG_HOME/sluice, else ~/.config/sluice
 * (%APPDATA%\sluice on Windows).
 */
import { rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Session } from '../sdk/index.js';
import { readPrivateFile, UnsafeConfigFile, writePrivateFile } from './private-files.js';

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
    const text = readPrivateFile(credentialsPath(env));
    return text === undefined ? undefined : (JSON.parse(text) as StoredLogin);
  } catch (error) {
    if (error instanceof UnsafeConfigFile) throw new UnreadableLogin(`${error.message}; run \`sluice logout\` and log in again`);
    throw new UnreadableLogin(`${credentialsPath(env)} is unreadable (${(error as Error).message}); run \`sluice logout\` and log in again`);
  }
}

export function writeLogin(login: StoredLogin, env?: NodeJS.ProcessEnv): void {
  // Written beside, then renamed, in the directory made or checked private: a reader never sees half a file.
  writePrivateFile(credentialsPath(env), `${JSON.stringify(login, null, 2)}\n`);
}

export function forgetLogin(env?: NodeJS.ProcessEnv): void {
  rmSync(credentialsPath(env), { force: true });
}
