/**
 * Writes src/6-emit/apiText.ts from src/6-emit/api.ts (run by `npm run gen`; `--check`
 * fails instead when the file is out of date).
 *
 * Guarantees: each block of API_BLOCKS becomes one string, the source text from the doc
 * comment of its first declaration to the end of its last, with every type parameter
 * list of a declaration and every type argument list of a reference to one of those
 * generic declarations removed, found with the TypeScript parser (no pattern matching on
 * text). So the emitted module declares `interface FitOptions { ... params?: Params ... }`
 * over its own `Params`, while the loader reads `FitOptions<Params, Sample>` from api.ts.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/** Each block: the declarations it holds, in source order (written where the emitter puts them). */
export const API_BLOCKS = {
  fit: ['FitOptions', 'Metrics', 'EpochRecord', 'FitResult'],
  optimizer: ['Schedule', 'OptimizerCommon', 'SgdOptions', 'MomentumOptions', 'AdamOptions', 'AdamWOptions', 'RmspropOptions', 'OptimizerOptions', 'OptimizerState'],
  saved: ['SavedArray', 'SavedOptimizer', 'SavedParams'],
} as const;

const SOURCE = fileURLToPath(new URL('../src/6-emit/api.ts', import.meta.url));
const TARGET = fileURLToPath(new URL('../src/6-emit/apiText.ts', import.meta.url));

type Declaration = ts.InterfaceDeclaration | ts.TypeAliasDeclaration;

/** The text of src/6-emit/apiText.ts for the given api.ts source. */
export function apiTextModule(source: string): string {
  const file = ts.createSourceFile('api.ts', source, ts.ScriptTarget.ES2022, true);
  const declarations = new Map<string, Declaration>();
  for (const s of file.statements) {
    if (ts.isInterfaceDeclaration(s) || ts.isTypeAliasDeclaration(s)) declarations.set(s.name.text, s);
  }
  const generic = new Set([...declarations].filter(([, d]) => d.typeParameters).map(([n]) => n));
  // Ranges [start, end) to cut: `<...>` after a generic declaration's name and after a reference to one.
  const cuts: [number, number][] = [];
  const visit = (n: ts.Node): void => {
    if ((ts.isInterfaceDeclaration(n) || ts.isTypeAliasDeclaration(n)) && n.typeParameters) {
      cuts.push([n.name.end, source.indexOf('>', n.typeParameters.end) + 1]);
    }
    if (ts.isTypeReferenceNode(n) && n.typeArguments && ts.isIdentifier(n.typeName) && generic.has(n.typeName.text)) {
      cuts.push([n.typeName.end, n.end]);
    }
    ts.forEachChild(n, visit);
  };
  visit(file);
  const blocks = Object.entries(API_BLOCKS).map(([block, names]) => {
    const first = declarations.get(names[0]);
    const last = declarations.get(names[names.length - 1]);
    if (!first || !last) throw new Error(`api.ts has no declaration ${first ? names[names.length - 1] : names[0]}`);
    const docs = ts.getLeadingCommentRanges(source, first.pos) ?? [];
    const start = docs.length > 0 ? docs[docs.length - 1].pos : first.getStart(file);
    const end = last.end;
    let text = '';
    let at = start;
    for (const [a, b] of cuts.filter(([a]) => a >= start && a < end).sort((x, y) => x[0] - y[0])) {
      text += source.slice(at, a);
      at = b;
    }
    text += source.slice(at, end);
    return `  ${block}: ${JSON.stringify(text)},`;
  });
  return `// Generated from src/6-emit/api.ts by scripts/apiText.ts (npm run gen). Do not edit.
/**
 * The generated module's model-independent API declarations, as the emitter writes them
 * (see src/6-emit/api.ts, their one source).
 */
export const API_TEXT = {
${blocks.join('\n')}
} as const;
`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const text = apiTextModule(readFileSync(SOURCE, 'utf8'));
  if (process.argv.includes('--check')) {
    if (readFileSync(TARGET, 'utf8') !== text) {
      console.error('src/6-emit/apiText.ts is out of date: run npm run gen');
      process.exit(1);
    }
  } else {
    writeFileSync(TARGET, text);
    console.log('wrote src/6-emit/apiText.ts');
  }
}
