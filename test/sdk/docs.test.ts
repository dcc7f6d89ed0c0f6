/**
 * docs/sdk.md's examples compile (issue 22, item 5): every TypeScript block is written to a
 * folder of its own, its `.graphql` blocks are generated into typed documents with the
 * configuration the page tells readers to use (`operationsCodegen`, run by the real GraphQL
 * Code Generator), and `tsc` checks the lot against the SDK's sources, imported as the
 * package name the page uses. The type test of required variables is compiled in the same
 * run: a call that should be refused and compiles fails it.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { generate } from '@graphql-codegen/cli';
import { afterAll, expect, it } from 'vitest';
import { operationsCodegen } from '../../src/sdk/codegen.js';

const folder = resolve('dist', `sdk-docs-${process.pid}`);
afterAll(() => rmSync(folder, { recursive: true, force: true }));

interface Block {
  language: string;
  file: string | undefined;
  code: string;
}

/** The fenced blocks of a Markdown page, with the file a `// file:` or `# file:` first line names. */
function blocksOf(markdown: string): Block[] {
  return [...markdown.matchAll(/^```(\w+)\n([\s\S]*?)^```$/gm)].map(([, language, code]) => ({
    language: language!,
    file: /^(?:\/\/|#) file: (\S+)\n/.exec(code!)?.[1],
    code: code!,
  }));
}

// tsc over the SDK's sources takes its time: over 30 s on a machine at load 8.
const COMPILING = { timeout: 180_000 };

it('compiles every TypeScript example of docs/sdk.md, with its own operations generated as the page says', COMPILING, async () => {
  const blocks = blocksOf(readFileSync('docs/sdk.md', 'utf8'));
  const typescript = blocks.filter((block) => block.language === 'ts');
  expect(typescript.length).toBeGreaterThanOrEqual(3);
  rmSync(folder, { recursive: true, force: true });
  for (const [index, block] of blocks.entries()) {
    if (block.language !== 'ts' && block.language !== 'graphql') continue;
    const file = join(folder, block.file ?? `block-${index}.${block.language}`);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, block.code);
  }
  // What `npx graphql-codegen` does with the page's codegen.ts, here with the checkout's schema.
  const config = operationsCodegen({ schema: 'schema.graphql', documents: join(folder, 'operations/**/*.graphql'), output: `${join(folder, 'generated')}/` });
  await generate({ ...config, silent: true }, true);
  const sdk = relative(folder, resolve('src/sdk'));
  writeFileSync(
    join(folder, 'tsconfig.json'),
    JSON.stringify({
      extends: relative(folder, resolve('tsconfig.json')),
      compilerOptions: {
        noEmit: true,
        lib: ['ES2023', 'DOM'],
        // The page imports the package by its published name; here it is the sources.
        paths: { '@sluice/sdk': [`${sdk}/index.ts`], '@sluice/sdk/codegen': [`${sdk}/codegen.ts`] },
      },
      include: ['**/*.ts', relative(folder, resolve('test/sdk/types/required-variables.ts'))],
      exclude: [],
    }),
  );
  const tsc = await promisify(execFile)(process.execPath, [resolve('node_modules/typescript/bin/tsc'), '-p', join(folder, 'tsconfig.json')]).then(
    () => '',
    (error: { stdout?: string }) => error.stdout ?? String(error),
  );
  expect(tsc).toBe('');
});

it('refuses a call without its required variables (the type test fails when it compiles)', COMPILING, async () => {
  const probe = join(folder, 'probe');
  mkdirSync(probe, { recursive: true });
  writeFileSync(
    join(probe, 'missing.ts'),
    `import { createClient, CreateDatasetDocument } from '${relative(probe, resolve('src/sdk/index.js'))}';\nawait createClient({ url: 'http://localhost' }).mutate(CreateDatasetDocument);\n`,
  );
  writeFileSync(join(probe, 'tsconfig.json'), JSON.stringify({ extends: relative(probe, resolve('tsconfig.json')), compilerOptions: { noEmit: true }, include: ['*.ts'], exclude: [] }));
  const output = await promisify(execFile)(process.execPath, [resolve('node_modules/typescript/bin/tsc'), '-p', join(probe, 'tsconfig.json')]).then(
    () => '',
    (error: { stdout?: string }) => error.stdout ?? '',
  );
  expect(output).toMatch(/missing\.ts\(2,\d+\): error TS2554: Expected 2(-3)? arguments, but got 1\./);
});
