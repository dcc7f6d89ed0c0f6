/**
 * The CLI's files in its config directory (the login's tokens, `ingest --watch`'s state) are kept
 * as ssh keeps its own. Before: `sluice login` wrote `credentials.json.<pid>.tmp` following
 * whatever link was planted there (it overwrote the file linked to), kept credentials in a
 * directory anyone could write, and read a credentials.json that was a link, another user's, or
 * world-readable; the watch state did the same with `<state>.json.tmp`. The compiled CLI in a
 * child process against the real server, each case in a temporary directory of its own.
 */
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliUser, expectFailure } from '../support/cli.js';
import { must } from '../support/endpoints.js';
import { createApiKey, signUp, type SignedUp } from '../support/identity.js';
import { childEnv, type NodeRun } from '../support/process.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
let owner: SignedUp;
beforeAll(async () => {
  server = await startTestServer();
  owner = await signUp(server);
});
afterAll(() => server?.close());

/** Another user's uid, for files and directories that are not ours: only root can make them. */
const asRoot = process.getuid?.() === 0;
const NOBODY = 65534;

/** A victim file the attacker wants overwritten, and its content. */
function victim(home: string): { path: string; content: string } {
  const path = join(home, 'victim.txt');
  writeFileSync(path, 'the victim file\n');
  return { path, content: 'the victim file\n' };
}

// Each command is a child process (the compiled CLI): most of a second each on a busy machine.
describe('sluice config files', { timeout: 300_000 }, () => {
  it('login writes through no planted link: its temporary file has a name no one can guess', async () => {
    const user = cliUser('config-link-tmp');
    const config = join(user.home, 'config');
    mkdirSync(config, { mode: 0o700 });
    const target = victim(user.home);
    // `sluice login` reads the password to the end of stdin: the link is planted meanwhile, at
    // the name its process id made.
    const child = spawn(process.execPath, ['bin/sluice.js', 'login', '--url', server.url, '--email', owner.email, '--password-stdin'], {
      env: childEnv({ HOME: user.home, SLUICE_CONFIG_DIR: config }),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const planted = join(config, `credentials.json.${child.pid}.tmp`);
    symlinkSync(target.path, planted);
    const run = await finished(child, `${owner.password}\n`);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(readFileSync(target.path, 'utf8')).toBe(target.content);
    expect(readlinkSync(planted)).toBe(target.path);
    const file = lstatSync(join(config, 'credentials.json'));
    expect({ regular: file.isFile(), mode: file.mode & 0o777 }).toEqual({ regular: true, mode: 0o600 });
    expect(JSON.parse(readFileSync(join(config, 'credentials.json'), 'utf8'))).toMatchObject({ email: owner.email });
  });

  it('refuses to keep credentials in a directory others can write, or in another user\'s', async () => {
    const user = cliUser('config-dir');
    const config = join(user.home, 'config');
    mkdirSync(config);
    chmodSync(config, 0o777);
    const login = () => user.sluice(['login', '--url', server.url, '--email', owner.email, '--password-stdin'], { input: `${owner.password}\n` });
    expectFailure(await login(), 1, new RegExp(`^sluice login: ${config}/? is writable by others \\(mode 0777\\): refusing to keep the CLI's files there; run \`chmod 700 ${config}\`\\n$`));
    expect(readdirSync(config)).toEqual([]);
    if (asRoot) {
      chmodSync(config, 0o700);
      chownSync(config, NOBODY, NOBODY);
      expectFailure(await login(), 1, /^sluice login: .* belongs to another user \(uid 65534\): refusing to keep the CLI's files there/);
      expect(readdirSync(config)).toEqual([]);
      chownSync(config, 0, 0);
    }
    // Once fixed, the same login is kept.
    chmodSync(config, 0o700);
    expect(await login()).toMatchObject({ code: 0, stderr: '' });
  });

  it('refuses to read credentials through a link, from another user\'s file or from one others can read (exit 3)', async () => {
    const user = cliUser('config-read');
    await user.logIn(server.url, owner);
    const config = join(user.home, 'config');
    const file = join(config, 'credentials.json');
    const stored = readFileSync(file, 'utf8');

    // A link to a login someone else prepared (its server, its tokens).
    const elsewhere = join(user.home, 'planted.json');
    writeFileSync(elsewhere, stored, { mode: 0o600 });
    rmAndLink(file, elsewhere);
    expectFailure(await user.sluice(['whoami']), 3, new RegExp(`^sluice whoami: ${file} is a symbolic link: refusing to read through it; run \`sluice logout\` and log in again\\n$`));
    // logout removes the link, not what it points to.
    expect((await user.sluice(['logout'])).code).toBe(0);
    expect(readFileSync(elsewhere, 'utf8')).toBe(stored);

    writeFileSync(file, stored, { mode: 0o644 });
    chmodSync(file, 0o644);
    expectFailure(await user.sluice(['whoami']), 3, new RegExp(`^sluice whoami: ${file} is readable or writable by others \\(mode 0644\\): refusing to use it; run \`sluice logout\``));
    if (asRoot) {
      chmodSync(file, 0o600);
      chownSync(file, NOBODY, NOBODY);
      expectFailure(await user.sluice(['whoami']), 3, /^sluice whoami: .*credentials\.json belongs to another user \(uid 65534\): refusing to read it/);
      chownSync(file, 0, 0);
    }
    chmodSync(file, 0o600);
    expect((await user.sluice(['whoami'])).code).toBe(0);
  });

  it('ingest --watch keeps its state the same way: no planted link written through, none read', async () => {
    const user = cliUser('config-watch');
    const folder = join(user.home, 'notes');
    mkdirSync(folder);
    writeFileSync(join(folder, 'tides.md'), '# Tides\n\nThe tide turns the mill wheel twice a day.\n');
    const slug = `watched-${process.pid}`;
    await must(server, owner.accessToken, 'mutation($input: CreateDatasetInput!) { createDataset(input: $input) { id } }', { input: { name: 'Watched', slug } });
    const key = (await createApiKey(server, owner.accessToken, { name: 'watcher', scopes: ['READ', 'WRITE'] })).body.data.createApiKey.secret;
    const watch = () => watchOneRound(user.home, key, slug, folder);

    expect(await watch()).toMatchObject({ code: 0, rounds: 1 });
    const watchDir = join(user.home, 'config', 'watch');
    const [stateName] = readdirSync(watchDir);
    const state = join(watchDir, stateName!);
    expect(statSync(watchDir).mode & 0o777).toBe(0o700);

    // The temporary name it used to write: a link there must not be followed.
    const target = victim(user.home);
    symlinkSync(target.path, `${state}.tmp`);
    expect(await watch()).toMatchObject({ code: 0, rounds: 1 });
    expect(readFileSync(target.path, 'utf8')).toBe(target.content);
    const written = lstatSync(state);
    expect({ regular: written.isFile(), mode: written.mode & 0o777 }).toEqual({ regular: true, mode: 0o600 });

    // A state that is a link (it names the documents a removal deletes) is refused, not read.
    const planted = join(user.home, 'planted-state.json');
    writeFileSync(planted, readFileSync(state), { mode: 0o600 });
    rmAndLink(state, planted);
    const refused = await watch();
    expect({ code: refused.code, rounds: refused.rounds }).toEqual({ code: 1, rounds: 0 });
    expect(refused.stderr).toContain(`sluice ingest: ${state} is a symbolic link: refusing to read through it; delete it to start this watch afresh\n`);
  });
});

/** `path` replaced by a link to `target`, as someone who could write its directory would. */
function rmAndLink(path: string, target: string): void {
  rmSync(path);
  symlinkSync(target, path);
}

function finished(child: ReturnType<typeof spawn>, input: string): Promise<NodeRun> {
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk) => (stdout += String(chunk)));
  child.stderr!.on('data', (chunk) => (stderr += String(chunk)));
  child.stdin!.end(input);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * `sluice ingest --watch --json` until its first round is printed, then Ctrl-C; or until it
 * exits by itself. The rounds printed, its exit code and stderr.
 */
async function watchOneRound(home: string, apiKey: string, slug: string, folder: string): Promise<{ code: number | null; rounds: number; stderr: string }> {
  const child = spawn(process.execPath, ['bin/sluice.js', 'ingest', slug, folder, '--watch', '--interval', '60', '--json', '--url', server.url], {
    env: childEnv({ HOME: home, SLUICE_CONFIG_DIR: join(home, 'config'), SLUICE_API_KEY: apiKey }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let rounds = 0;
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += String(chunk)));
  child.stdout.on('data', (chunk) => {
    rounds += String(chunk).split('\n').filter(Boolean).length;
    if (rounds > 0) child.kill('SIGINT');
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  return { code, rounds, stderr };
}
