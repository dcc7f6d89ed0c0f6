/**
 * What `bin/sluice.js` runs. Each path loads only what it needs, so the quick ones stay quick
 * (issue 22): `--version`, `--help` and `completion` load no server and no SDK; client commands
 * load the CLI and the SDK; operator commands (src/main.ts) load the server and not the CLI.
 */
const argv = process.argv.slice(2);
const [first] = argv;

/** Always operator commands (src/main.ts); `keys create --tenant` and `audit verify` are told apart by the CLI. */
const OPERATOR_ONLY = new Set([undefined, 'serve', 'worker', 'migrate', 'rotate-master-key', 'retention']);

if (first === '--version' || first === '-V' || first === 'version') {
  const { packageVersion } = await import('./cli/version.js');
  process.stdout.write(`${packageVersion()}\n`);
} else if (first === '--help' || first === '-h' || first === 'help') {
  const { usage } = await import('./operator/help-text.js');
  process.stdout.write(`${await usage()}\n`);
} else if (first === 'completion') {
  process.exitCode = await printCompletion(argv[1]);
} else if (OPERATOR_ONLY.has(first)) {
  await import('./main.js');
} else {
  const { isClientCommand, runCli } = await import('./cli/index.js');
  if (isClientCommand(argv)) process.exitCode = await runCli(argv);
  else await import('./main.js');
}

async function printCompletion(shell: string | undefined): Promise<number> {
  const [{ completionScript, SHELLS }, { clientCompletion }, { OPERATOR_COMMANDS }] = await Promise.all([
    import('./cli/completion.js'),
    import('./cli/index.js'),
    import('./operator/help-text.js'),
  ]);
  const known = SHELLS.find((name) => name === shell);
  if (!known) {
    process.stderr.write(`sluice completion: ${shell ? `"${shell}" is not a shell it knows` : 'which shell?'}: use ${SHELLS.join(' or ')}\nUsage: sluice completion bash|zsh\n`);
    return 2;
  }
  process.stdout.write(completionScript(known, [...clientCompletion(), ...OPERATOR_COMMANDS]));
  return 0;
}
