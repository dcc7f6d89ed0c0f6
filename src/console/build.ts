/**
 * Builds the console application (src/console/app/: React, react-bootstrap, the typed SDK)
 * into one script and one stylesheet, in memory, with esbuild (a dependency, so `npm install`
 * and `npm start` need nothing else). Nothing is written to disk, so there is no build output
 * to go stale and no separate build command to forget: the server builds on the first request
 * for the console's files, once per process.
 *
 * No inline code comes out of it: the script and the stylesheet are files the console's
 * Content-Security-Policy allows as 'self' (bootstrap's CSS uses only data: images).
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export interface ConsoleBundle {
  script: Buffer;
  stylesheet: Buffer;
}

const APP_ENTRY = join(dirname(fileURLToPath(import.meta.url)), 'app', 'main.tsx');

let bundle: Promise<ConsoleBundle> | undefined;

/**
 * The bundle, built on the first call and kept for the process (every server in it serves the
 * same sources); a build that failed is forgotten, so the next call tries again.
 */
export function consoleBundle(): Promise<ConsoleBundle> {
  bundle ??= buildConsoleApp().catch((error: unknown) => {
    bundle = undefined;
    throw error;
  });
  return bundle;
}

async function buildConsoleApp(): Promise<ConsoleBundle> {
  const result = await build({
    entryPoints: { app: APP_ENTRY },
    bundle: true,
    write: false,
    outdir: 'out',
    format: 'esm',
    platform: 'browser',
    target: ['es2022', 'chrome110', 'firefox110', 'safari16'],
    jsx: 'automatic',
    minify: true,
    sourcemap: false,
    legalComments: 'none',
    // React's production build; the SDK's `graphql` reads process.env only through globalThis.
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'silent',
  });
  const file = (extension: string) => {
    const found = result.outputFiles.find((output) => output.path.endsWith(`app${extension}`));
    if (!found) throw new Error(`console build: no app${extension} in esbuild's output`);
    return Buffer.from(found.contents);
  };
  return { script: file('.js'), stylesheet: file('.css') };
}
