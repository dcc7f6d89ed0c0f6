// @ts-check
/**
 * The compiled JavaScript that `sluice` and `npm start` run (dist/). Node 20 cannot run
 * TypeScript, and compiling it on every start through tsx cost seconds (issue 22), so every
 * TypeScript file of src/ and migrations/ is turned into JavaScript by esbuild ahead of time
 * (the same transform, options and esbuild that tsx uses), one output file per source file: the
 * layout stays, so paths relative to a module (the parser thread, the migrations, the console's
 * assets) hold in dist/ too. src/'s other files (the web console's .html/.css/.js) are copied.
 *
 * Built by `npm install` / `npm ci` (the `prepare` script) and `npm run build`. bin/sluice.js
 * checks the fingerprint below on every start (a few milliseconds) and rebuilds when a source
 * changed since, so a checkout never runs code older than its sources.
 *
 * This file is plain JavaScript because bin/sluice.js loads it before anything can compile.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The checkout: this file's parent folder. */
export const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
export const DIST = join(ROOT, 'dist');
const SOURCE_FOLDERS = ['src', 'migrations'];
/**
 * Browser sources that src/console/build.ts bundles with esbuild at run time, from beside itself:
 * copied as they are (TypeScript and all), so that bundle is the same from dist/ as from src/.
 */
const COPIED_AS_IS = ['src/console/app/'];
/** Written last, once every output file is in place: its content says which sources dist/ is from. */
const FINGERPRINT = join(DIST, '.fingerprint');

/** Every file under the source folders, relative to ROOT, sorted. */
function sourceFiles() {
  const files = [];
  for (const folder of SOURCE_FOLDERS) {
    for (const entry of readdirSync(join(ROOT, folder), { recursive: true, withFileTypes: true })) {
      if (entry.isFile()) files.push(relative(ROOT, join(entry.parentPath, entry.name)));
    }
  }
  return files.sort();
}

/**
 * The sources' path, size and modification time, hashed: any edit, checkout, added or deleted
 * file changes it. Reading file contents instead would cost ten times as long on every start.
 */
export function sourceFingerprint(files = sourceFiles()) {
  const hash = createHash('sha256');
  for (const file of files) {
    const { size, mtimeMs } = statSync(join(ROOT, file));
    hash.update(`${file}\0${size}\0${mtimeMs}\n`);
  }
  return hash.digest('hex');
}

/** Whether dist/ was built from the sources as they are now. */
export function isCompiledFresh() {
  let built;
  try {
    built = readFileSync(FINGERPRINT, 'utf8');
  } catch {
    return false;
  }
  return built === sourceFingerprint();
}

/**
 * Compiles the sources into dist/. Several processes may do this at once (tests start many
 * `sluice`s): each file is written to a temporary name and renamed, so a reader sees a whole file,
 * and all writers write the same bytes.
 */
export async function compile() {
  const started = performance.now();
  const files = sourceFiles();
  // Taken before reading: a source edited during the build leaves dist/ marked stale.
  const fingerprint = sourceFingerprint(files);
  const { build } = await import('esbuild');
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: files.filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts') && !copiedAsIs(file)),
    outdir: DIST,
    outbase: '.',
    bundle: false,
    format: 'esm',
    platform: 'node',
    target: `node${process.versions.node}`,
    // As tsx does: Pothos and the ORM read some class and function names.
    keepNames: true,
    sourcemap: 'linked',
    sourcesContent: false,
    logLevel: 'silent',
    write: false,
  });
  const outputs = new Map(result.outputFiles.map((file) => [file.path, file.contents]));
  for (const file of files.filter((name) => name.startsWith(`src/`) && (!name.endsWith('.ts') || copiedAsIs(name)))) {
    outputs.set(join(DIST, file), readFileSync(join(ROOT, file)));
  }
  for (const [path, contents] of outputs) writeWhole(path, contents);
  removeLeftovers(new Set(outputs.keys()));
  writeWhole(FINGERPRINT, fingerprint);
  return { files: outputs.size, ms: Math.round(performance.now() - started) };
}

function copiedAsIs(file) {
  return COPIED_AS_IS.some((folder) => file.startsWith(folder));
}

/** Writes `path` under a temporary name, then renames it into place. */
function writeWhole(path, contents) {
  mkdirSync(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, contents);
  renameSync(temporary, path);
}

/** Outputs of sources that no longer exist: a deleted console asset must not stay served. */
function removeLeftovers(kept) {
  for (const entry of readdirSync(DIST, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name);
    if (entry.isFile() && path !== FINGERPRINT && !path.endsWith('.tmp') && !kept.has(path)) rmSync(path, { force: true });
  }
}

// `node scripts/compile.js`: the `prepare` and `build` scripts.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { files, ms } = await compile();
  console.log(`sluice: compiled ${files} files into dist/ in ${ms} ms`);
}
