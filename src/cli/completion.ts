/**
 * `sluice completion bash|zsh`: a shell script that completes sluice's commands, subcommands and
 * options. It is generated from the command lists themselves, so a new command or option is
 * completed without anyone remembering to edit a script. docs/cli.md says how to install it.
 */

/** One completable command: `keys create` with all its options (without the leading `--`). */
export interface CompletableCommand {
  name: string;
  options: string[];
}

export const SHELLS = ['bash', 'zsh'] as const;
export type Shell = (typeof SHELLS)[number];

/**
 * For each command path typed so far ('' for none, 'keys', 'keys create'): the words that may
 * come next, and the options it takes. Paths merge: `keys create` is both a client and an
 * operator command, and completes the options of both.
 */
function completionTable(commands: CompletableCommand[]) {
  const next = new Map<string, Set<string>>([['', new Set(['help', 'completion'])]]);
  const options = new Map<string, Set<string>>([['', new Set(['--help', '--version'])]]);
  next.set('completion', new Set(SHELLS));
  for (const command of commands) {
    const words = command.name.split(' ');
    words.forEach((word, index) => {
      const before = words.slice(0, index).join(' ');
      if (!next.has(before)) next.set(before, new Set());
      next.get(before)!.add(word);
    });
    const own = options.get(command.name) ?? new Set<string>();
    for (const option of command.options) own.add(`--${option}`);
    options.set(command.name, own);
  }
  const sorted = (map: Map<string, Set<string>>) => [...map].sort(([a], [b]) => a.localeCompare(b)).map(([path, words]) => [path, [...words].sort().join(' ')] as const);
  return { next: sorted(next), options: sorted(options), paths: [...next.keys(), ...options.keys()].filter((path) => path !== '') };
}

/** Command names and options are plain words; anything else would break out of the quotes. */
function quoted(words: string): string {
  if (!/^[\w ,.-]*$/.test(words)) throw new Error(`completion: "${words}" is not a plain word list`);
  return `'${words}'`;
}

export function completionScript(shell: Shell, commands: CompletableCommand[]): string {
  const table = completionTable(commands);
  const knownPaths = [...new Set(table.paths)].sort().map(quoted).join('|');
  const cases = (rows: readonly (readonly [string, string])[], reply: (words: string) => string) => rows.map(([path, words]) => `      ${quoted(path)}) ${reply(words)} ;;`).join('\n');
  if (shell === 'bash') {
    return `# sluice completion for bash. Load it in ~/.bashrc:  source <(sluice completion bash)
_sluice() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" cmd="" word i
  # The command path typed so far (e.g. "keys create"); option values and files are skipped.
  for ((i = 1; i < COMP_CWORD; i++)); do
    word="\${COMP_WORDS[i]}"
    case "\${cmd:+$cmd }$word" in
      ${knownPaths}) cmd="\${cmd:+$cmd }$word" ;;
    esac
  done
  if [[ "$cur" == -* ]]; then
    case "$cmd" in
${cases(table.options, (words) => `COMPREPLY=($(compgen -W ${quoted(words)} -- "$cur"))`)}
    esac
  else
    case "$cmd" in
${cases(table.next, (words) => `COMPREPLY=($(compgen -W ${quoted(words)} -- "$cur"))`)}
    esac
  fi
}
complete -o default -F _sluice sluice
`;
  }
  return `#compdef sluice
# sluice completion for zsh. Load it in ~/.zshrc (after compinit):  source <(sluice completion zsh)
_sluice() {
  local cmd="" word
  local -i i
  # The command path typed so far (e.g. "keys create"); option values and files are skipped.
  for (( i = 2; i < CURRENT; i++ )); do
    word="\${words[i]}"
    case "\${cmd:+$cmd }$word" in
      (${knownPaths}) cmd="\${cmd:+$cmd }$word" ;;
    esac
  done
  local -a candidates
  if [[ "\${words[CURRENT]}" == -* ]]; then
    case "$cmd" in
${cases(table.options, (words) => `candidates=(${quoted(words).slice(1, -1)})`)}
    esac
  else
    case "$cmd" in
${cases(table.next, (words) => `candidates=(${quoted(words).slice(1, -1)})`)}
    esac
  fi
  if (( \${#candidates} )); then
    compadd -- "\${candidates[@]}"
  else
    _files
  fi
}
if [[ "\${zsh_eval_context[-1]}" == loadautofunc ]]; then
  _sluice "$@"
else
  compdef _sluice sluice
fi
`;
}
