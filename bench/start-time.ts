/**
 * Start-up times (issue 22): how long `sluice --help`, `--version`, `completion bash` and a
 * client command's `--help` take to exit, and how long `sluice serve` on an existing data
 * directory takes until it logs that it is listening, with where that time goes (from its log
 * lines' timestamps). Each is run several times; medians are printed as a markdown table.
 *
 *   node --import tsx bench/start-time.ts [runs] [reference checkout]
 *
 * With a reference checkout (e.g. /work/main), the same commands run there too, in the same
 * run, as that checkout runs them (its own bin/sluice.js), for a before/after comparison.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

const RUNS = Number(process.argv[2] ?? 5);
const REFERENCE = process.argv[3] ? resolve(process.argv[3]) : undefined;
const CLI_COMMANDS = [['--help'], ['--version'], ['completion', 'bash'], ['whoami', '--help']];

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Milliseconds from spawning `node bin/sluice.js …args` in `checkout` to its exit. */
async function timeToExit(checkout: string, args: string[]): Promise<number> {
  const started = performance.now();
  const child = spawn(process.execPath, ['bin/sluice.js', ...args], { cwd: checkout, stdio: 'ignore' });
  const code = await new Promise<number | null>((done) => child.on('close', done));
  // A reference from before issue 22 refuses `--version` and `completion`: the time to refuse is what it had.
  if (code !== 0 && checkout !== REFERENCE) throw new Error(`sluice ${args.join(' ')} exited with ${code} in ${checkout}`);
  return performance.now() - started;
}

interface StartPhases {
  /** Spawn to the first log line: loading the code and the configuration. */
  load: number;
  /** To "embedded PostgreSQL started": the database server's start. */
  database: number;
  /** To "Sluice is listening": migrations check, ORM, worker, schema and server (the server's code loads during the database's start). */
  rest: number;
  total: number;
}

/** `sluice serve` in `checkout` on `dataDir` until it listens; then Ctrl-C and its exit. */
async function timeToListen(checkout: string, dataDir: string, port: number): Promise<StartPhases> {
  const spawnedAt = Date.now();
  const started = performance.now();
  const child = spawn(process.execPath, ['bin/sluice.js', 'serve'], {
    cwd: checkout,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'development', SLUICE_DATA_DIR: dataDir, PORT: String(port), LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | null>((done) => child.on('close', done));
  let firstLine: number | undefined;
  let databaseUp: number | undefined;
  const total = await new Promise<number>((done, fail) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let entry: { time?: string; msg?: string };
      try {
        entry = JSON.parse(line);
      } catch {
        return;
      }
      const at = Date.parse(entry.time ?? '') - spawnedAt;
      firstLine ??= at;
      // Its "started" line (not the "stopped" one at the end).
      if (entry.msg?.startsWith('embedded PostgreSQL') && !entry.msg.includes('stopped')) databaseUp ??= at;
      if (entry.msg?.startsWith('Sluice is listening')) done(performance.now() - started);
    });
    void exited.then((code) => fail(new Error(`serve exited with ${code} before listening`)));
  });
  child.kill('SIGINT');
  await exited;
  // Log times are wall-clock milliseconds since the spawn; `total` is when the line arrived here.
  return { load: firstLine ?? NaN, database: (databaseUp ?? NaN) - (firstLine ?? NaN), rest: total - (databaseUp ?? NaN), total };
}

async function measure(label: string, checkout: string, port: number) {
  const rows: string[] = [];
  for (const args of CLI_COMMANDS) {
    const times: number[] = [];
    for (let run = 0; run < RUNS; run++) times.push(await timeToExit(checkout, args));
    rows.push(`| ${label} | \`sluice ${args.join(' ')}\` | ${Math.round(median(times))} ms | |`);
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'sluice-start-'));
  try {
    await timeToListen(checkout, dataDir, port); // the first start creates the database: not measured
    const starts: StartPhases[] = [];
    for (let run = 0; run < RUNS; run++) starts.push(await timeToListen(checkout, dataDir, port));
    // The phases of the run whose total is the median: medians taken phase by phase need not add up.
    const middle = [...starts].sort((a, b) => a.total - b.total)[Math.floor(starts.length / 2)]!;
    const ms = (value: number) => `${Math.round(value)} ms`;
    rows.push(
      `| ${label} | \`sluice serve\`, existing data directory, until listening | ${ms(middle.total)} | to the first log line (code and configuration loaded) ${ms(middle.load)}, to "embedded PostgreSQL started" ${ms(middle.database)} more, to listening ${ms(middle.rest)} more |`,
    );
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
  return rows;
}

const rows = [...(REFERENCE ? await measure(`reference (${REFERENCE})`, REFERENCE, 4873) : []), ...(await measure('this checkout', process.cwd(), 4872))];
console.log(`| checkout | command | median of ${RUNS} | where the time goes |\n|---|---|---|---|\n${rows.join('\n')}`);
