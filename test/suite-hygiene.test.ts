/**
 * The suite runs without per-file isolation (vitest.config.ts, `isolate: false`): a worker keeps
 * its module cache from one test file to the next. That is safe only while no test changes
 * process-wide state a later file would inherit. These are the ways a test file could, each
 * refused here by its text so that the next file to need one runs in a project of its own.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { expect, it } from 'vitest';

const LEAKING = [
  { what: 'a module mock', pattern: /\bvi\.(mock|doMock|hoisted)\(/ },
  { what: 'fake timers', pattern: /\bvi\.useFakeTimers\(/ },
  { what: 'a stubbed environment or global', pattern: /\bvi\.(stubEnv|stubGlobal)\(/ },
  { what: 'a write to process.env', pattern: /process\.env(\.\w+|\[[^\]]+\])\s*(=(?!=)|\?\?=|\|\|=)|delete process\.env/ },
  { what: 'a change of directory', pattern: /process\.chdir\(/ },
  { what: 'a global HTTP dispatcher', pattern: /setGlobalDispatcher\(/ },
];

function typescriptFiles(folder: string): string[] {
  return readdirSync(folder, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => relative(process.cwd(), join(entry.parentPath, entry.name)));
}

it('leaves no process-wide state behind a test file: no module mocks, fake timers, env writes', () => {
  const found: string[] = [];
  for (const file of typescriptFiles('test')) {
    if (file === relative(process.cwd(), import.meta.filename)) continue;
    const lines = readFileSync(file, 'utf8').split('\n');
    lines.forEach((line, index) => {
      for (const { what, pattern } of LEAKING) if (pattern.test(line)) found.push(`${file}:${index + 1}: ${what}`);
    });
  }
  expect(found).toEqual([]);
});

it('would see each of them (the patterns match what they are meant to)', () => {
  const samples = ["vi.mock('pg')", 'vi.useFakeTimers()', "vi.stubEnv('A', 'b')", 'process.env.PORT = "1"', "process.env['X'] ??= 'y'", 'delete process.env.X', "process.chdir('/')", 'setGlobalDispatcher(agent)'];
  expect(samples.map((sample) => LEAKING.some(({ pattern }) => pattern.test(sample)))).toEqual(samples.map(() => true));
  expect(LEAKING.some(({ pattern }) => pattern.test("process.env.SLUICE_REQUIRE_BROWSER === '1'"))).toBe(false);
});
