/**
 * The CLI writes to the terminal through src/cli/terminal-text.ts only (`writeText`,
 * `writeJson`, and `print` and `note`, which use them), so the server's data is cleaned of
 * escape sequences whatever a command prints: `keys create` and the progress view wrote with
 * `stream.write(...)` and cleaned some fields but not others (test/cli/cli-hostile-server.test.ts).
 * A raw write or a console call anywhere else in src/cli fails here. Reads files only.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = join(ROOT, 'src', 'cli');
/** The one file that writes to a stream itself, having cleaned what it writes. */
const WRITER = 'src/cli/terminal-text.ts';
/** A stream's write, or a console method: output that skips the cleaning. */
const RAW_OUTPUT = /\.write\s*\(|\bconsole\s*\.\s*\w+\s*\(/;

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => (entry.isDirectory() ? files(join(dir, entry.name)) : [join(dir, entry.name)]));
}

it('no file of src/cli writes to a stream or the console but terminal-text.ts', () => {
  const sources = files(CLI)
    .filter((file) => /\.tsx?$/.test(file))
    .map((file) => relative(ROOT, file).split('\\').join('/'));
  expect(sources).toContain(WRITER);
  expect(sources.length).toBeGreaterThan(20);
  const raw = sources
    .filter((file) => file !== WRITER)
    .flatMap((file) =>
      readFileSync(join(ROOT, file), 'utf8')
        .split('\n')
        .map((line, index) => ({ at: `${file}:${index + 1}`, line: line.trim() }))
        .filter(({ line }) => RAW_OUTPUT.test(line) && !line.startsWith('//') && !line.startsWith('*')),
    );
  expect(raw).toEqual([]);
});
