/**
 * The cross-folder import graph of src/: who imports whom, and the layering rules it must keep.
 *
 *   npm run imports        prints the table (from -> to, count by kind) and any broken rule
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
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'src');

/** The phases, in pipeline order. */
export const PHASES = ['1-parse', '2-build', '3-diff', '4-simplify', '5-lower', '6-emit'] as const;
/** Top-level files that belong to no phase and that any unit may import. */
const CORE_FILES = new Set(['model.ts', 'naming.ts', 'errors.ts', 'options.ts', 'debug.ts', 'rng.ts']);

/** How a file refers to another: a value import, a type-only import, `import()`, or `export ... from`. */
export type ImportKind = 'value' | 'type' | 'dynamic' | 'reexport';
const KINDS: readonly ImportKind[] = ['value', 'type', 'dynamic', 'reexport'];

export interface Edge {
  readonly from: string;
  readonly to: string;
  /** How many imports of each kind. */
  readonly count: Readonly<Record<ImportKind, number>>;
  /** `from-file -> to-file (kind)`, one per import. */
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

/** Whether an import declaration brings in types only (`import type`, or every name `type`). */
function typeOnly(n: ts.ImportDeclaration): boolean {
  const c = n.importClause;
  if (!c) return false;
  if (c.isTypeOnly) return true;
  const b = c.namedBindings;
  return !c.name && b !== undefined && ts.isNamedImports(b) && b.elements.length > 0 && b.elements.every((e) => e.isTypeOnly);
}

/** The relative specifiers `file` refers to, each with how. */
function specifiers(file: string): { spec: string; kind: ImportKind }[] {
  const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  const out: { spec: string; kind: ImportKind }[] = [];
  const stack: ts.Node[] = [sf];
  while (stack.length) {
    const n = stack.pop()!;
    if (ts.isImportDeclaration(n) && ts.isStringLiteral(n.moduleSpecifier)) out.push({ spec: n.moduleSpecifier.text, kind: typeOnly(n) ? 'type' : 'value' });
    else if (ts.isExportDeclaration(n) && n.moduleSpecifier && ts.isStringLiteral(n.moduleSpecifier)) out.push({ spec: n.moduleSpecifier.text, kind: 'reexport' });
    else if (ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.ImportKeyword && n.arguments[0] && ts.isStringLiteral(n.arguments[0])) out.push({ spec: n.arguments[0].text, kind: 'dynamic' });
    else if (ts.isImportTypeNode(n) && ts.isLiteralTypeNode(n.argument) && ts.isStringLiteral(n.argument.literal)) out.push({ spec: n.argument.literal.text, kind: 'type' });
    stack.push(...n.getChildren(sf));
  }
  return out.filter((s) => s.spec.startsWith('.'));
}

/** Every import of one file of src/ by another, with absolute paths. */
export function fileImports(): { file: string; target: string; kind: ImportKind }[] {
  const out: { file: string; target: string; kind: ImportKind }[] = [];
  for (const file of sourceFiles(SRC)) {
    for (const { spec, kind } of specifiers(file)) {
      const target = resolve(dirname(file), spec.replace(/\.js$/, '.ts'));
      if (target.startsWith(SRC + sep)) out.push({ file, target, kind }); // not package.json and the like
    }
  }
  return out;
}

/** Every cross-unit edge of src/, sorted by from, then to. */
export function importEdges(): Edge[] {
  const edges = new Map<string, { from: string; to: string; count: Record<ImportKind, number>; files: string[] }>();
  for (const { file, target, kind } of fileImports()) {
    const from = unitOf(file);
    const to = unitOf(target);
    if (to === from) continue;
    const key = `${from}\0${to}`;
    const e = edges.get(key) ?? { from, to, count: { value: 0, type: 0, dynamic: 0, reexport: 0 }, files: [] };
    e.count[kind]++;
    e.files.push(`${relative(SRC, file)} -> ${relative(SRC, target)} (${kind})`);
    edges.set(key, e);
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
 * - inspect/, cli/ and plugin/ never import a phase: they go through pipeline.ts;
 * - index (the public entry) uses inspect/ and cli/ only to hand them on (re-exports,
 *   types, the lazily loaded report), never to compute anything of the pipeline.
 * Within a unit: no CLI command imports another command (commandImports).
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
    if (edge.from === 'index' && SIDE_TOOLS.has(edge.to) && edge.count.value > 0) out.push({ edge, why: `index imports values from ${edge.to} (only re-exports, types and lazy loads are allowed)` });
  }
  return out;
}

/** Imports of one CLI command by another (`cli/commands/x.ts -> cli/commands/y.ts`; the registry index.ts excepted). */
export function commandImports(): string[] {
  const commands = join(SRC, 'cli', 'commands') + sep;
  return fileImports()
    .filter(({ file, target }) => file.startsWith(commands) && target.startsWith(commands) && !file.endsWith(`${sep}index.ts`))
    .map(({ file, target }) => `${relative(SRC, file)} -> ${relative(SRC, target)}`);
}

/** The table as Markdown: from, to, the total, then the count of each kind. */
export function edgeTable(edges: readonly Edge[] = importEdges()): string {
  const total = (e: Edge) => KINDS.reduce((n, k) => n + e.count[k], 0);
  const rows = edges.map((e) => `| ${e.from} | ${e.to} | ${total(e)} | ${KINDS.map((k) => e.count[k]).join(' | ')} |`);
  return [`| from | to | count | ${KINDS.join(' | ')} |`, `|---|---|---|${KINDS.map(() => '---').join('|')}|`, ...rows].join('\n');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const edges = importEdges();
  console.log(edgeTable(edges));
  const breaks = [...ruleBreaks(edges).map((b) => `${b.why}: ${b.edge.files.join(', ')}`), ...commandImports().map((f) => `a command imports another: ${f}`)];
  if (breaks.length) {
    console.log(`\n${breaks.length} broken rule(s):`);
    for (const b of breaks) console.log(`- ${b}`);
    process.exitCode = 1;
  } else console.log('\nno broken rules');
}
