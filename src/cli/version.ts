/** `sluice --version`: the version in the checkout's package.json. */
import { readFileSync } from 'node:fs';

/**
 * The nearest package.json above this module: the checkout's, whether this runs from src/cli/
 * or compiled from dist/src/cli/ (scripts/compile.js), where no other package.json sits between.
 */
export function packageVersion(): string {
  for (let folder = new URL('./', import.meta.url); ; folder = new URL('../', folder)) {
    let text: string;
    try {
      text = readFileSync(new URL('package.json', folder), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT' && folder.pathname !== '/') continue;
      throw error;
    }
    return (JSON.parse(text) as { version: string }).version;
  }
}
