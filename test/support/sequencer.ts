/**
 * The suite's file order: the files that take longest start first, so that neither of the two
 * workers is handed a long file near the end while the other sits idle. Vitest orders by the
 * durations it cached on an earlier run, but CI runs a clean clone with no cache, where it
 * orders by file size: the isolation sweep (a small file that sends some 10 000 requests, about
 * 150 s) then started late and ran alone at the end, about 100 s of a 640 s run (2026-12-04).
 * Listed here: the files over about 30 s in a full run, longest first (the JSON reporter's
 * per-file times). A stale entry costs only balance; a missing file is simply not moved.
 */
import { BaseSequencer, type TestSpecification } from 'vitest/node';

export const LONG_FILES = [
  'test/identity/isolation-sweep.test.ts',
  'test/cli/cli-people.test.ts',
  'test/cli/cli-product.test.ts',
  'test/lifecycle.test.ts',
  'test/startup.test.ts',
];

export class LongFilesFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (spec: TestSpecification) => {
      const index = LONG_FILES.findIndex((file) => spec.moduleId.endsWith(`/${file}`));
      return index < 0 ? LONG_FILES.length : index;
    };
    // A stable sort: the rest keep the base order (cached durations, else size).
    return [...sorted].sort((a, b) => rank(a) - rank(b));
  }
}
