/** `sluice login`, `sluice logout`, `sluice whoami`. */
import { createClient, LogInDocument, LogOutDocument, ViewerDocument } from '../../sdk/index.js';
import { CliError, EXIT, type Cli, type Command } from '../cli.js';
import { credentialsPath, forgetLogin, writeLogin } from '../credentials.js';
import { askLine, askSecret, readAllStdin } from '../prompt.js';

export const login: Command = {
  name: 'login',
  summary: 'sign in to a Sluice server and keep the session',
  usage: '[--url <url>] [--email <email>] [--password-stdin] [--tenant <slug>] | --api-key-stdin',
  help: `Signs in with an email and password (asked for at a terminal, or read from stdin with
--password-stdin) and stores the session's tokens, never the password, in
${credentialsPath()} (mode 0600). With --api-key-stdin, stores an API key instead (check it
works first). --tenant picks one of your tenants. Later commands use this login for the
same --url; SLUICE_API_KEY in the environment takes precedence over it.`,
  options: {
    email: { type: 'string' },
    'password-stdin': { type: 'boolean' },
    tenant: { type: 'string' },
    'api-key-stdin': { type: 'boolean' },
  },
  async run(cli, _args, values) {
    if (values['api-key-stdin']) {
      const apiKey = (await readAllStdin(cli.stdin)).trim();
      if (!apiKey) throw new CliError('no API key on stdin', EXIT.usage);
      const { viewer } = await createClient({ url: cli.url, timeoutMs: cli.timeoutMs, apiKey }).query(ViewerDocument);
      writeLogin({ url: cli.url, apiKey, tenant: viewer.tenant?.slug }, cli.env);
      cli.print(`Logged in to ${cli.url} with API key ${viewer.apiKey?.name ?? ''} (tenant ${viewer.tenant?.slug}, scopes ${viewer.scopes.join(', ')})`, {
        url: cli.url,
        kind: viewer.kind,
        tenant: viewer.tenant?.slug ?? null,
        scopes: viewer.scopes,
      });
      return;
    }
    const interactive = Boolean((cli.stdin as NodeJS.ReadStream).isTTY);
    const email = (values.email as string | undefined) ?? (interactive ? await askLine('Email: ', cli.stdin, cli.stderr) : undefined);
    if (!email) throw new CliError('--email is required (or run at a terminal to be asked)', EXIT.usage);
    let password: string;
    if (values['password-stdin']) password = await readAllStdin(cli.stdin);
    else if (interactive) password = await askSecret('Password: ', cli.stdin as NodeJS.ReadStream, cli.stderr);
    else throw new CliError('give the password on stdin with --password-stdin (or run at a terminal to be asked)', EXIT.usage);
    const { logIn } = await createClient({ url: cli.url, timeoutMs: cli.timeoutMs }).mutate(LogInDocument, { input: { email, password, tenant: values.tenant as string | undefined } });
    writeLogin(
      { url: cli.url, email: logIn.user.email, tenant: logIn.tenant?.slug, session: { accessToken: logIn.accessToken, refreshToken: logIn.refreshToken, expiresAt: Date.parse(logIn.expiresAt) } },
      cli.env,
    );
    cli.print(`Logged in to ${cli.url} as ${logIn.user.email} (tenant ${logIn.tenant?.slug}, ${logIn.role})`, {
      url: cli.url,
      email: logIn.user.email,
      tenant: logIn.tenant?.slug ?? null,
      role: logIn.role,
    });
  },
};

export const logout: Command = {
  name: 'logout',
  summary: 'end the stored session and forget it',
  usage: '',
  help: `Ends the session on the server (its tokens stop working) and deletes ${credentialsPath()}.
A stored API key is only forgotten here; revoke it with \`sluice keys revoke\`. Over plain http
to another host (without --insecure-http) the login is forgotten but the server is not told.`,
  defersPlainHttpRefusal: true,
  async run(cli) {
    const { stored } = cli;
    if (!stored) {
      cli.print('Not logged in', { loggedOut: false });
      return;
    }
    if (stored === 'unreadable') {
      forgetLogin(cli.env);
      cli.print(`Removed the unreadable ${credentialsPath(cli.env)}`, { loggedOut: true, sessionEnded: false });
      return;
    }
    // The local copy goes whatever the server says: logging out must not depend on reaching it,
    // nor on sending the session's token in the clear (then the server is not told).
    const told = stored.session && !cli.plainHttpRefusal;
    const ended = told ? await cli.client().mutate(LogOutDocument).then(() => true, () => false) : false;
    forgetLogin(cli.env);
    const untold = cli.plainHttpRefusal
      ? ' (the server was not told: its session token would cross the network unencrypted; the session ends when it expires)'
      : ' (the server could not be told; the session ends when it expires)';
    cli.print(`Logged out of ${stored.url}${stored.session && !ended ? untold : ''}`, {
      loggedOut: true,
      sessionEnded: ended,
    });
  },
};

export const whoami: Command = {
  name: 'whoami',
  summary: 'who the CLI is signed in as',
  usage: '',
  help: 'Shows the signed-in user or API key, its tenant, role and scopes.',
  async run(cli: Cli) {
    const { viewer } = await cli.client().query(ViewerDocument);
    if (viewer.kind === 'ANONYMOUS') throw new CliError(`Not logged in to ${cli.url} (run \`sluice login\`)`, EXIT.unauthenticated);
    const who = viewer.kind === 'API_KEY' ? `API key ${viewer.apiKey?.name}` : (viewer.email ?? viewer.kind);
    cli.print(`${who} on ${cli.url}: tenant ${viewer.tenant?.slug ?? '-'}, role ${viewer.role ?? '-'}, scopes ${viewer.scopes.join(', ') || '-'}`, {
      url: cli.url,
      kind: viewer.kind,
      email: viewer.email ?? null,
      tenant: viewer.tenant?.slug ?? null,
      role: viewer.role ?? null,
      scopes: viewer.scopes,
    });
  },
};
