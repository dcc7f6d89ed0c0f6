/**
 * What every benchmark records beside its figures: the machine, the date, the commit and the
 * command, so a number in docs/benchmarks.md can be read (and repeated) later.
 */
import { execFileSync } from 'node:child_process';
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

const REPORT = path.resolve('docs/benchmarks.md');
const HEADER = `# Benchmarks

Written by \`npm run bench\` (see bench/). Each section is one run: the machine, the date, the
commit and the command come first, then the figures, beside a reference measured in the same
run so the result reads as a ratio. Newest runs are appended at the end.
`;

/** This machine: cores, CPU, memory, Node, and the PostgreSQL the run used. */
function machine(postgres: string): string {
  const cpu = os.cpus()[0]?.model.trim() ?? 'unknown';
  return `${os.availableParallelism()} cores (${cpu}), ${Math.round(os.totalmem() / 2 ** 30)} GiB; Node ${process.version}; ${postgres}`;
}

function commit(): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    // The report itself does not count: a run's second section would call its own first one a change.
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no', '--', '.', `:!${path.relative(process.cwd(), REPORT)}`], { encoding: 'utf8' }).trim();
    return dirty ? `${sha} (with uncommitted changes)` : sha;
  } catch {
    return 'unknown';
  }
}

/**
 * Prints `body` (Markdown) and appends it to the report as one run's section: the title, the
 * run's facts (date, machine, `postgres` as the run described it, commit, command), the body.
 */
export async function appendReport(title: string, postgres: string, command: string, body: string): Promise<void> {
  console.log(`\n${body}`);
  const existing = await readFile(REPORT, 'utf8').catch(() => undefined);
  if (existing === undefined) await writeFile(REPORT, HEADER);
  const facts = [
    `- Date: ${new Date().toISOString()}`,
    `- Machine: ${machine(postgres)}`,
    `- Commit: ${commit()}`,
    `- Command: \`${command}\``,
    `- Load average (1/5/15 min) as the report was written: ${os.loadavg().map((load) => load.toFixed(2)).join(' / ')}`,
  ].join('\n');
  await appendFile(REPORT, `\n## ${title}\n\n${facts}\n\n${body.trim()}\n`);
  console.log(`\nappended to ${path.relative(process.cwd(), REPORT)}`);
}

export function table(header: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

export const mb = (bytes: number) => bytes / 1_000_000;
export const fixed = (value: number, digits = 1) => value.toFixed(digits);

/** The nearest-rank percentile `p` (0–100) of values sorted ascending; 0 for none. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
