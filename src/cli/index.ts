/**
 * The end-user CLI: `sluice login`, `init`, `datasets`, `ingest`, `endpoints`, `query`, `policies`…,
 * talking to a running Sluice over its GraphQL API through the SDK (src/sdk/). The operator
 * commands (serve, worker, migrate, …) live in src/main.ts, which hands these over.
 */
import { parseArgs } from 'node:util';
import { createCli, explain, EXIT, type Command } from './cli.js';
import type { CompletableCommand } from './completion.js';
import { auditTail } from './commands/audit.js';
import { datasetsCreate, datasetsDelete, datasetsList, datasetsReembed, datasetsUpdate } from './commands/datasets.js';
import { decisions } from './commands/decisions.js';
import { documentsDelete, documentsList } from './commands/documents.js';
import { catalog, endpointsCreate, endpointsDelete, endpointsList, endpointsPublish, endpointsShow, endpointsUnpublish } from './commands/endpoints.js';
import { ingest } from './commands/ingest.js';
import { init } from './commands/init.js';
import { keysCreate, keysList, keysRevoke } from './commands/keys.js';
import { invitationsList, invitationsRevoke, membersInvite, membersList, membersRemove, membersRole } from './commands/members.js';
import { modelsCreate, modelsList, modelsTest, modelsTypes } from './commands/models.js';
import { policiesCreate, policiesDelete, policiesEdit, policiesList, policiesTypes } from './commands/policies.js';
import { query } from './commands/query.js';
import { login, logout, whoami } from './commands/session.js';
import { usage } from './commands/usage.js';
import { writeText } from './terminal-text.js';

// In the order `sluice --help` lists them: getting started, data, answering, governing, people, keys.
const COMMANDS: Command[] = [
  login,
  logout,
  whoami,
  init,
  datasetsCreate,
  datasetsList,
  datasetsUpdate,
  datasetsReembed,
  datasetsDelete,
  documentsList,
  documentsDelete,
  ingest,
  modelsCreate,
  modelsList,
  modelsTest,
  modelsTypes,
  endpointsCreate,
  endpointsList,
  endpointsShow,
  endpointsPublish,
  endpointsUnpublish,
  endpointsDelete,
  catalog,
  query,
  policiesCreate,
  policiesList,
  policiesEdit,
  policiesDelete,
  policiesTypes,
  decisions,
  usage,
  membersList,
  membersInvite,
  membersRole,
  membersRemove,
  invitationsList,
  invitationsRevoke,
  keysCreate,
  keysList,
  keysRevoke,
  auditTail,
];

const GLOBAL_OPTIONS = {
  url: { type: 'string' },
  'insecure-http': { type: 'boolean' },
  timeout: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Whether `sluice <argv>` is one of these commands rather than an operator's. */
export function isClientCommand(argv: string[]): boolean {
  const [first, second] = argv;
  if (first === 'keys') return !argv.includes('--tenant') && !argv.some((arg) => arg.startsWith('--tenant='));
  if (first === 'audit') return second !== 'verify';
  return COMMANDS.some((command) => command.name.split(' ')[0] === first);
}

/** The client commands, for `sluice --help`. */
export function clientUsage(): string {
  const width = Math.max(...COMMANDS.map((command) => command.name.length));
  return COMMANDS.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`).join('\n');
}

/** The client commands and their options, for `sluice completion`. */
export function clientCompletion(): CompletableCommand[] {
  return COMMANDS.map((command) => ({ name: command.name, options: [...Object.keys(command.options ?? {}), ...Object.keys(GLOBAL_OPTIONS)] }));
}

export interface Io {
  env: NodeJS.ProcessEnv;
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  stdin: NodeJS.ReadableStream;
}

export async function runCli(argv: string[], io: Io = { env: process.env, stdout: process.stdout, stderr: process.stderr, stdin: process.stdin }): Promise<number> {
  const [first, second] = argv;
  const command = COMMANDS.find((candidate) => candidate.name === `${first} ${second}`) ?? COMMANDS.find((candidate) => candidate.name === first);
  if (!command) {
    const group = COMMANDS.filter((candidate) => candidate.name.startsWith(`${first} `));
    const asked = argv.includes('--help') || argv.includes('-h');
    writeText(io[asked ? 'stdout' : 'stderr'], `${asked ? '' : `sluice ${first}: which one?\n\n`}${group.map(helpLine).join('\n')}\n`);
    return asked ? EXIT.ok : EXIT.usage;
  }
  const rest = argv.slice(command.name.split(' ').length);
  let parsed: { values: Record<string, string | boolean | string[] | undefined>; positionals: string[] };
  try {
    parsed = parseArgs({ args: rest, allowPositionals: true, strict: true, options: { ...GLOBAL_OPTIONS, ...command.options } });
  } catch (error) {
    writeText(io.stderr, `sluice ${command.name}: ${(error as Error).message}\nUsage: ${helpLine(command)}\n`);
    return EXIT.usage;
  }
  if (parsed.values.help) {
    writeText(
      io.stdout,
      `Usage: sluice ${command.name} ${command.usage}\n\n${command.help}\n\nEvery command takes --url <url> (else SLUICE_URL, else the server you logged in to), --timeout <s> (else SLUICE_TIMEOUT, else 120; 0: none), --json and --help, and --insecure-http to allow plain http to a host other than this machine (docs/cli.md).\n`,
    );
    return EXIT.ok;
  }
  let cli: ReturnType<typeof createCli> | undefined;
  try {
    cli = createCli({ ...io, json: Boolean(parsed.values.json), url: parsed.values.url as string | undefined, insecureHttp: Boolean(parsed.values['insecure-http']), timeout: parsed.values.timeout as string | undefined, defersPlainHttpRefusal: command.defersPlainHttpRefusal });
    return (await command.run(cli, parsed.positionals, parsed.values)) ?? EXIT.ok;
  } catch (error) {
    const { line, exitCode } = explain(error, cli, command.name);
    writeText(io.stderr, `sluice ${command.name}: ${line}\n`);
    return exitCode;
  } finally {
    await cli?.close();
  }
}

function helpLine(command: Command): string {
  return `sluice ${command.name} ${command.usage}`.trimEnd();
}
