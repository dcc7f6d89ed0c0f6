/**
 * A quiet, safe install (issue 22, item 7). `npm ci` prints an EBADENGINE warning for every
 * locked package whose `engines.node` the supported Node does not satisfy, so the lockfile
 * itself is checked against the lowest Node that package.json promises: a dependency bump
 * that wants a newer Node fails here, not on a user's terminal. And the package that carries
 * the `sluice` command can never be swapped for a stranger's from the public registry.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import semver from 'semver';
import { expect, it } from 'vitest';

const manifest = JSON.parse(readFileSync('package.json', 'utf8')) as { name: string; private?: boolean; engines: { node: string }; bin: Record<string, string> };
const lock = JSON.parse(readFileSync('package-lock.json', 'utf8')) as { name: string; packages: Record<string, { version?: string; engines?: { node?: string } | string[] }> };

it('locks no package that wants a newer Node than the lowest one package.json supports', () => {
  const lowest = semver.minVersion(manifest.engines.node)!.version;
  expect(lowest).toBe('20.19.0');
  const wanting = Object.entries(lock.packages)
    .filter(([, locked]) => !Array.isArray(locked.engines) && locked.engines?.node && !semver.satisfies(lowest, locked.engines.node))
    .map(([path, locked]) => `${path}@${locked.version} wants node ${(locked.engines as { node: string }).node}`);
  expect(wanting).toEqual([]);
});

it('names the CLI package in a scope and keeps it unpublishable', () => {
  expect(manifest).toMatchObject({ name: '@sluice/platform', private: true, bin: { sluice: 'bin/sluice.js' } });
  expect(lock.name).toBe(manifest.name);
});

it('never tells a reader to run the CLI through npx by its bare name', () => {
  const markdown = ['README.md', ...readdirSync('docs').filter((file) => file.endsWith('.md')).map((file) => join('docs', file))];
  const telling = markdown.filter((file) => /npx\s+sluice\b/.test(readFileSync(file, 'utf8')));
  expect(telling).toEqual([]);
});
