/**
 * The cross-folder import graph of src/: who imports whom, and the layering rules it must keep.
 *
 *   npx tsx scripts/imports.ts        prints the table (from -> to, count) and any broken rule
 *
 * A file's unit is its folder under src/ (`5-lower`, `inspect`, ...); the files at the top
 * of src/ are `index` (the package's public entry), `pipeline` (the one door into the
 * phases) and `core` (model.ts, naming.ts, errors.ts, options.ts, debug.ts, rng.ts: data and
 * helpers every phase may read). Every import counts: `import`, `import type`, `export ...
 * from` (a re-export, counted apart), `import('...')` and `typeof import('...')`, found by
 * the TypeScript parser, never by a regex. Guarantees: `importEdges()` lists each
 * (from, to) pair once with its counts, sorted; `ruleBreaks()` lists every edge that
 * breaks a rule in RULES with the files that make it (test/imports.test.ts asserts none).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';

const SRC = resolve(import.meta.dirname, '..', 'src');

/** The phases, in pipeline order. */
export const PHASES = ['1-parse', '2-build', '3-diff', '4-simplify', '5-lower', '6-emit'] as const;
/** Top-level files that belong to no phase and that any unit may import. */
const CORE_FILES = new Set(['model.ts', 'naming.ts', 'errors.ts', 'options.ts', 'debug.ts', 'rng.ts']);

export interface Edge {
  readonly from: string;
  readonly to: string;
  /** Imports (static, type-only and dynamic). */
  readonly imports: number;
  /** `export ... from` re-exports. */
  readonly reexports: number;
  /** `from-file -> to-file`, one per import. */
  readonly files: readonly string[];
}

/** The unit of a path under src/. */
export function unitOf(file: string): string {
  const rel = relative(SRC, file).split(sep);
  if (rel.length > 1) return rel[0];
  if (rel[0] === 'index.ts') return 'index';
  if (rel[0] === 'pipeline.ts') return 'pipeline';
  if (CORE_FILES.has(rel[0])) return 'core';
  return rel[0].replace(/\.ts$/, '');
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  const stack = [dir];
  while (stack.length) {
    const d = stack.pop()!;
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) stack.push(join(d, e.name));
      else if (e.name.endsWith('.ts')) out.push(join(d, e.name));
    }
  }
  return out.sort();
}

/** The relative specifiers `file` imports, each with whether it is a re-export. */
function specifiers(file: string): { spec: string; reexport: boolean }[] {
  const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  const out: { spec: string; reexport: boolean }[] = [];
  const stack: ts.Node[] = [sf];
  while (stack.length) {
    const n = stack.pop()!;
    if (ts.isImportDeclaration(n) && ts.isStringLiteral(n.moduleSpecifier)) out.push({ spec: n.moduleSpecifier.text, reexport: false });
    else if (ts.isExportDeclaration(n) && n.moduleSpecifier && ts.isStringLiteral(n.moduleSpecifier)) out.push({ spec: n.moduleSpecifier.text, reexport: true });
    else if (ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.ImportKeyword && n.arguments[0] && ts.isStringLiteral(n.arguments[0])) out.push({ spec: n.arguments[0].text, reexport: false });
    else if (ts.isImportTypeNode(n) && ts.isLiteralTypeNode(n.argument) && ts.isStringLiteral(n.argument.literal)) out.push({ spec: n.argument.literal.text, reexport: false });
    stack.push(...n.getChildren(sf));
  }
  return out.filter((s) => s.spec.startsWith('.'));
}

/** Every cross-unit edge of src/, sorted by from, then to. */
export function importEdges(): Edge[] {
  const edges = new Map<string, { from: string; to: string; imports: number; reexports: number; files: string[] }>();
  for (const file of sourceFiles(SRC)) {
    const from = unitOf(file);
    for (const { spec, reexport } of specifiers(file)) {
      const target = resolve(dirname(file), spec.replace(/\.js$/, '.ts'));
      if (!target.startsWith(SRC + sep)) continue; // package.json and the like
      const to = unitOf(target);
      if (to === from) continue;
      const key = `${from}\0${to}`;
      const e = edges.get(key) ?? { from, to, imports: 0, reexports: 0, files: [] };
      if (reexport) e.reexports++;
      else e.imports++;
      e.files.push(`${relative(SRC, file)} -> ${relative(SRC, target)}`);
      edges.set(key, e);
    }
  }
  return [...edges.values()].sort((a, b) => a.from.localeCompare(b.from) || a.to.localeCompare(b.to));
}

const phaseRank = (u: string): number => (PHASES as readonly string[]).indexOf(u);
const SIDE_TOOLS = new Set(['inspect', 'cli']);

/**
 * The layering, one rule per line; each returns why `from -> to` breaks it, or undefined.
 * - a phase imports only ir/, core and earlier phases (never a later phase, the pipeline,
 *   the public entry, or a tool beside the pipeline);
 * - ir/ and core import only ir/ and core;
 * - the pipeline never imports inspect/ or cli/ (they use it, not the other way round);
 * - inspect/, cli/ and plugin/ never import a phase: they go through pipeline.ts.
 */
export const RULES: readonly ((from: string, to: string) => string | undefined)[] = [
  (from, to) => phaseRank(from) >= 0 && phaseRank(to) > phaseRank(from) ? `phase ${from} imports the later phase ${to}` : undefined,
  (from, to) => phaseRank(from) >= 0 && phaseRank(to) < 0 && to !== 'ir' && to !== 'core' ? `phase ${from} imports ${to}, which is neither the IR, core nor an earlier phase` : undefined,
  (from, to) => (from === 'ir' || from === 'core') && to !== 'ir' && to !== 'core' ? `${from} imports ${to}` : undefined,
  (from, to) => from === 'pipeline' && SIDE_TOOLS.has(to) ? `the pipeline imports the side tool ${to}` : undefined,
  (from, to) => (SIDE_TOOLS.has(from) || from === 'plugin') && phaseRank(to) >= 0 ? `${from} reaches into phase ${to} (go through pipeline.ts)` : undefined,
];

/** Edges that break a rule, with the reason and the files that make them. */
export function ruleBreaks(edges: readonly Edge[] = importEdges()): { edge: Edge; why: string }[] {
  const out: { edge: Edge; why: string }[] = [];
  for (const edge of edges) {
    for (const rule of RULES) {
      const why = rule(edge.from, edge.to);
      if (why) out.push({ edge, why });
    }
  }
  return out;
}

/** The table as Markdown: | from | to | imports | re-exports |. */
export function edgeTable(edges: readonly Edge[] = importEdges()): string {
  const rows = edges.map((e) => `| ${e.from} | ${e.to} | ${e.imports} | ${e.reexports} |`);
  return ['| from | to | imports | re-exports |', '|---|---|---|---|', ...rows].join('\n');
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const edges = importEdges();
  console.log(edgeTable(edges));
  const breaks = ruleBreaks(edges);
  if (breaks.length) {
    console.log(`\n${breaks.length} broken rule(s):`);
    for (const b of breaks) console.log(`- ${b.why}: ${b.edge.files.join(', ')}`);
    process.exitCode = 1;
  } else console.log('\nno broken rules');
}
