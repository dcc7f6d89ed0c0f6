/**
 * The map of src/ holds (ARCHITECTURE "Layers and who may import whom", issue 18 "Done
 * means"): the import rules of .dependency-cruiser.cjs (`npm run lint:layers` prints the same
 * for a person), no circle between domain folders, the tenant session bound only under
 * src/db/, no loose file in src/ beyond the entry points and configuration, and no two files
 * named alike for different things. Reads files only: no database, a few seconds.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cruise, type ICruiseResult, type IFlattenedRuleSet, type IViolation } from 'dependency-cruiser';
import extractDepcruiseOptions from 'dependency-cruiser/config-utl/extract-depcruise-options';
import extractTSConfig from 'dependency-cruiser/config-utl/extract-ts-config';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Every file under src/, as a repository-relative path with forward slashes, sorted. */
function sourceFiles(dir = join(ROOT, 'src')): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => (entry.isDirectory() ? sourceFiles(join(dir, entry.name)) : [join(dir, entry.name)]))
    .map((file) => (file.startsWith(ROOT) ? relative(ROOT, file).split(sep).join('/') : file))
    .sort();
}

const CODE = /\.(ts|tsx|js|mjs|cjs|mts|cts)$/;

describe('layers (ARCHITECTURE "Layers and who may import whom")', () => {
  let result: ICruiseResult;
  let rules: NonNullable<IFlattenedRuleSet['forbidden']>;

  beforeAll(async () => {
    const options = await extractDepcruiseOptions(join(ROOT, '.dependency-cruiser.cjs'));
    rules = options.ruleSet?.forbidden ?? [];
    const tsConfig = extractTSConfig(join(ROOT, 'tsconfig.json'));
    const cruised = await cruise(['src'], { ...options, baseDir: ROOT, validate: true, outputType: 'json' }, {}, { tsConfig });
    result = typeof cruised.output === 'string' ? (JSON.parse(cruised.output) as ICruiseResult) : cruised.output;
  }, 60_000);

  it('the cruise sees the source graph (a vacuous graph would pass every rule)', () => {
    const modules = result.modules.filter((module) => module.source.startsWith('src/'));
    expect(modules.length).toBeGreaterThan(150);
    const schemaToDomains = modules.some(
      (module) => module.source.startsWith('src/schema/') && module.dependencies.some((d) => d.resolved.startsWith('src/domains/')),
    );
    expect(schemaToDomains, 'src/schema/ -> src/domains/ imports resolved (`./x.js` -> x.ts)').toBe(true);
  });

  /** One line per violation: `from -> to`, or the whole circle. */
  function describeViolation(violation: IViolation): string {
    if (violation.cycle?.length) return [violation.from, ...violation.cycle.map((step) => step.name)].join(' -> ');
    const typeOnly = violation.dependencyTypes?.includes('type-only') ? ' (import type)' : '';
    return `${violation.from} -> ${violation.to}${typeOnly}`;
  }

  // The folder-scope rule is left to the stricter check below, which counts a domain's
  // sub-folders (models/providers, ...) as the domain itself.
  const MODULE_RULES = [
    'domains-not-to-outer-layers',
    'platform-not-to-app-layers',
    'db-not-to-upper-layers',
    'schema-not-to-db',
    'schema-not-to-plugins',
    'plugins-not-to-schema',
    'routes-not-to-db',
    'sdk-standalone',
    'cli-only-sdk',
    'console-only-sdk',
    'no-circular',
    'not-to-unresolvable',
  ];

  it('every rule of .dependency-cruiser.cjs is checked here', () => {
    expect(rules.map((rule) => rule.name).sort()).toEqual([...MODULE_RULES, 'no-circular-domain-folders'].sort());
  });

  for (const name of MODULE_RULES) {
    it(name, () => {
      const rule = rules.find((candidate) => candidate.name === name);
      const violations = result.summary.violations
        .filter((violation) => violation.rule.name === name)
        .map(describeViolation)
        .sort();
      expect(violations, `${name}: ${rule?.comment ?? ''}\n  ${violations.join('\n  ')}\n`).toEqual([]);
    });
  }

  it('no circle between domain folders (a domain folder with its sub-folders is one node)', () => {
    // Node of a file: its domain folder (src/domains/<name>/...). The loose files beside the
    // folders (actor.ts, errors.ts, service-context.ts, services.ts, ...) are the shared kernel
    // and the composition, not a domain; their circles are file circles (no-circular above).
    const nodeOf = (path: string) => /^src\/domains\/([^/]+)\//.exec(path)?.[1];
    const edges = new Map<string, Map<string, string[]>>();
    for (const module of result.modules) {
      const from = nodeOf(module.source);
      if (!from) continue;
      for (const dependency of module.dependencies) {
        const to = nodeOf(dependency.resolved);
        if (!to || to === from) continue;
        const targets = edges.get(from) ?? edges.set(from, new Map()).get(from)!;
        targets.set(to, [...(targets.get(to) ?? []), `${module.source} -> ${dependency.resolved}`]);
      }
    }
    const circles = stronglyConnected(edges).filter((component) => component.length > 1);
    const report = circles.map((component) => {
      const inside = component.flatMap((from) =>
        [...(edges.get(from) ?? [])]
          .filter(([to]) => component.includes(to))
          .map(([to, imports]) => `    ${from} -> ${to}: ${imports.sort()[0]}${imports.length > 1 ? ` (+${imports.length - 1} more)` : ''}`),
      );
      const twoWay = component.flatMap((a) => component.filter((b) => a < b && edges.get(a)?.has(b) && edges.get(b)?.has(a)).map((b) => `${a} <-> ${b}`));
      return `  circle among ${component.join(', ')} (two-way: ${twoWay.join(', ') || 'none'}):\n${inside.sort().join('\n')}`;
    });
    expect(report, `domain folders import each other in circles:\n${report.join('\n')}\n`).toEqual([]);
  });
});

/** Tarjan's strongly connected components; each sorted, and the list sorted, for a stable report. */
function stronglyConnected(edges: Map<string, Map<string, string[]>>): string[][] {
  const nodes = [...new Set([...edges.keys(), ...[...edges.values()].flatMap((targets) => [...targets.keys()])])].sort();
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const components: string[][] = [];
  const visit = (node: string) => {
    index.set(node, index.size);
    low.set(node, index.get(node)!);
    stack.push(node);
    for (const next of [...(edges.get(node)?.keys() ?? [])].sort()) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (stack.includes(next)) low.set(node, Math.min(low.get(node)!, index.get(next)!));
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        component.push(member);
      } while (member !== node);
      components.push(component.sort());
    }
  };
  for (const node of nodes) if (!index.has(node)) visit(node);
  return components.sort((a, b) => a[0]!.localeCompare(b[0]!));
}

describe('the tenant session is bound only under src/db/ (issue 18 "Done means")', () => {
  // Binding = setting the ORM filter parameters or the RLS settings of a transaction, by any
  // name. Reading the session (tenantSessionOf) or declaring an entity's filter (tenantFilter)
  // is not binding.
  const BINDING = [
    /\bbindTenantSession\b/,
    /\benterSession\b/,
    /\.setFilterParams\s*\(/,
    /set_config\s*\(\s*['"`]app\.(tenant_id|user_id)/i,
    /\bset\s+(local\s+)?app\.(tenant_id|user_id)\b/i,
  ];

  it('no file outside src/db/ names a binding function or sets app.tenant_id', () => {
    const found: string[] = [];
    for (const file of sourceFiles().filter((path) => CODE.test(path) && !path.startsWith('src/db/'))) {
      readFileSync(join(ROOT, file), 'utf8')
        .split('\n')
        .forEach((line, at) => {
          // Comments may say what the scope does; code may not do it.
          if (/^\s*(\/\/|\/?\*)/.test(line)) return;
          if (BINDING.some((pattern) => pattern.test(line))) found.push(`${file}:${at + 1}: ${line.trim()}`);
        });
    }
    expect(found, `tenant session bound outside src/db/:\n  ${found.join('\n  ')}\n`).toEqual([]);
  });
});

describe('src/ says what each file holds (issue 18 "Done means")', () => {
  it('no loose file in src/ beyond the entry points, the server composition and the configuration', () => {
    // The configuration is config-*.ts: its schema (env), types, assembly and production's secret checks.
    const allowed = ['config-env.ts', 'config-secrets.ts', 'config-types.ts', 'config.ts', 'entry.ts', 'main.ts', 'server.ts'];
    const loose = sourceFiles()
      .filter((path) => /^src\/[^/]+$/.test(path) && CODE.test(path))
      .filter((path) => !allowed.includes(basename(path)));
    expect(loose, `loose files in src/ (move each into the layer it belongs to):\n  ${loose.join('\n  ')}\n`).toEqual([]);
  });

  /**
   * Names that may repeat, and why. Beyond these, a name is used once in the server code and
   * once in the client code (sdk/, cli/, console/: another program, which imports none of the
   * server, so `cli/commands/audit.ts` is no rival of `plugins/audit.ts`).
   */
  const SHARED_NAMES: Record<string, string> = {
    'index.ts': "a folder's entry point: the folder names it",
  };
  /** schema/ holds one file per domain concept, named after it (STYLE: Pothos's app layout). */
  const MIRRORS = /^src\/schema\//;
  const CLIENT = /^src\/(sdk|cli|console)\//;

  it('no two files share a name for different things', () => {
    const byName = new Map<string, string[]>();
    for (const path of sourceFiles().filter((file) => CODE.test(file))) {
      const key = `${CLIENT.test(path) ? 'client' : 'server'}:${basename(path)}`;
      byName.set(key, [...(byName.get(key) ?? []), path]);
    }
    const clashes = [...byName]
      .filter(([key]) => !(key.split(':')[1]! in SHARED_NAMES))
      .filter(([, paths]) => paths.filter((path) => !MIRRORS.test(path)).length > 1)
      .map(([, paths]) => paths.join('  '));
    expect(clashes, `files named alike for different things (rename so each name says which):\n  ${clashes.join('\n  ')}\n`).toEqual([]);
  });
});
