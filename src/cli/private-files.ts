/**
 * The CLI's files in the config directory (the login's tokens, a watcher's state), kept as
 * ssh keeps ~/.ssh: the directory the user's own and writable by nobody else, each file a
 * regular file of the user's, mode 0600, read only when it is still that (never through a
 * symbolic link), and written to a temporary file of a fresh random name, created exclusively
 * (O_EXCL), then renamed: a link planted at a guessable name (`credentials.json.<pid>.tmp`)
 * made the write overwrite the file it pointed to.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, constants, fstatSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** A config directory or file that another user could have written: refused, with how to fix it. */
export class UnsafeConfigFile extends Error {}

/** This user's id; undefined on Windows, which has neither owners nor modes as checked here. */
const uid = (): number | undefined => process.getuid?.();

/** `directory`, created 0700 if missing; refused if it exists but is not the user's alone to write. */
export function privateDirectory(directory: string): void {
  let existing;
  try {
    existing = statSync(directory);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    mkdirSync(directory, { recursive: true, mode: 0o700 });
    // The mode given to mkdir passes through the umask: set it as meant.
    chmodSync(directory, 0o700);
    return;
  }
  if (!existing.isDirectory()) throw new UnsafeConfigFile(`${directory} is not a directory`);
  const user = uid();
  if (user === undefined) return;
  if (existing.uid !== user) throw new UnsafeConfigFile(`${directory} belongs to another user (uid ${existing.uid}): refusing to keep the CLI's files there; use a directory of your own (SLUICE_CONFIG_DIR)`);
  if ((existing.mode & 0o022) !== 0) {
    throw new UnsafeConfigFile(`${directory} is writable by others (mode ${octal(existing.mode)}): refusing to keep the CLI's files there; run \`chmod 700 ${directory}\``);
  }
}

/** The text of `path`; undefined if there is none. Refused unless a regular file of the user's, mode 0600 or narrower. */
export function readPrivateFile(path: string): string | undefined {
  let fd: number;
  try {
    // O_NOFOLLOW: a symbolic link fails to open (ELOOP) rather than being read through.
    fd = openSync(path, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ELOOP') throw new UnsafeConfigFile(`${path} is a symbolic link: refusing to read through it`);
    throw error;
  }
  try {
    // The checks are made on the file opened, so it cannot be swapped between check and read.
    const file = fstatSync(fd);
    if (!file.isFile()) throw new UnsafeConfigFile(`${path} is not a regular file`);
    const user = uid();
    if (user !== undefined && file.uid !== user) throw new UnsafeConfigFile(`${path} belongs to another user (uid ${file.uid}): refusing to read it`);
    if (user !== undefined && (file.mode & 0o077) !== 0) throw new UnsafeConfigFile(`${path} is readable or writable by others (mode ${octal(file.mode)}): refusing to use it`);
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

/** Replaces `path` with `text` atomically, mode 0600, in its private directory (made or checked). */
export function writePrivateFile(path: string, text: string): void {
  privateDirectory(dirname(path));
  const temporary = `${path}.${randomBytes(12).toString('hex')}.tmp`;
  // 'wx': created here or not at all (never an existing file or link's target); mode 0600 from the start.
  const fd = openSync(temporary, 'wx', 0o600);
  try {
    try {
      writeFileSync(fd, text);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, path);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw error;
  }
}

function octal(mode: number): string {
  return (mode & 0o777).toString(8).padStart(4, '0');
}
