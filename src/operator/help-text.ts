/** The help text of `sluice`; the client commands' part loads the CLI, which serving never needs. */
export async function usage(): Promise<string> {
  const { clientUsage } = await import('../cli/index.js');
  return `Usage: sluice <command>

Client commands (talk to a running Sluice; \`sluice <command> --help\` for each):
${clientUsage()}

${OPERATOR_USAGE}

Also:
  --version print the version
  completion bash|zsh
            print a shell completion script (see docs/cli.md)

Configuration comes from the environment; see README.md.`;
}

/** The operator commands and their options, for `sluice completion` (keep in step with the text below). */
export const OPERATOR_COMMANDS: { name: string; options: string[] }[] = [
  { name: 'serve', options: ['help'] },
  { name: 'worker', options: ['metrics-port', 'help'] },
  { name: 'migrate', options: ['json', 'help'] },
  { name: 'rotate-master-key', options: ['json', 'help'] },
  { name: 'audit verify', options: ['tenant', 'json', 'help'] },
  { name: 'retention', options: ['json', 'help'] },
  { name: 'keys create', options: ['tenant', 'name', 'scopes', 'expires-in-days', 'no-expiry', 'json', 'help'] },
];

const OPERATOR_USAGE = `Operator commands (run Sluice against its database):
  serve     run the API (default): migrates, then serves /graphql, /healthz, /readyz,
            and runs ingestion jobs too unless SLUICE_WORKER=off
  worker [--metrics-port <port>]
            run ingestion jobs only (scale out with more of these; set REDIS_URL so
            API processes hear their progress at once); --metrics-port (or
            SLUICE_WORKER_METRICS_PORT) serves its /metrics and /healthz on 127.0.0.1
  migrate   apply pending database migrations and exit
  rotate-master-key
            re-encrypt stored secrets (model API keys) under SLUICE_MASTER_KEY; set the
            old key in SLUICE_MASTER_KEY_PREVIOUS first, drop it once this reports done
            and the audit events digested under it have expired (audit verify needs it)
  audit verify [--tenant <slug>]
            recompute the audit hash chains (every tenant's, or one) and report the first
            broken link of each; exit code 1 if any chain is broken
  retention apply expired-data retention now (the worker does it daily)
  keys create --tenant <slug> --name <name> --scopes read,write[,admin]
            [--expires-in-days <n> | --no-expiry]
            mint an API key for a tenant; prints the key (shown once) on stdout

One-shot commands print their answer on stdout and logs on stderr; --json prints the
answer as one JSON document. In development they share the embedded PostgreSQL of a
running \`sluice serve\` on the same SLUICE_DATA_DIR.`;
