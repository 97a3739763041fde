// The package's public surface is deliberate: every name a user can import (the entry points and their namespaces)
// is documented where it is declared, and nothing internal (input schemas, benchmark hooks, error-mapping helpers)
// leaks through an `export *`.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import ts from 'typescript';

const root = path.join(import.meta.dirname, '..');
const ENTRY_POINTS = ['src/index.ts', 'src/langchain.ts'];

const program = ts.createProgram(
  ENTRY_POINTS.map((file) => path.join(root, file)),
  {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    allowImportingTsExtensions: true,
    noEmit: true,
    strict: true,
  },
);
const checker = program.getTypeChecker();

/** Every exported name of an entry point, namespaces' members as "namespace.member", with whether it is documented. */
function publicNames(entry: string): Map<string, boolean> {
  const source = program.getSourceFile(path.join(root, entry));
  assert.ok(source, entry);
  const names = new Map<string, boolean>();
  const visit = (symbol: ts.Symbol, prefix: string) => {
    for (const exported of checker.getExportsOfModule(symbol)) {
      const target = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
      const name = `${prefix}${exported.getName()}`;
      if (target.flags & ts.SymbolFlags.ValueModule && target.declarations?.some(ts.isSourceFile)) {
        visit(target, `${name}.`);
        continue;
      }
      names.set(name, target.getDocumentationComment(checker).length > 0);
    }
  };
  visit(checker.getSymbolAtLocation(source)!, '');
  return names;
}

const surface = new Map(ENTRY_POINTS.flatMap((entry) => [...publicNames(entry)].map(([name, documented]) => [`${entry}: ${name}`, documented] as const)));

test('every name the package exports has a doc comment where it is declared', () => {
  assert.ok(surface.size > 100, `the surface was read (${surface.size} names)`);
  assert.deepEqual(
    [...surface].filter(([, documented]) => !documented).map(([name]) => name),
    [],
  );
});

test('no benchmark hook, input schema or error-mapping helper is exported', () => {
  const internal = [
    'messages.compileAppend',
    'messages.HISTORY_SQL',
    'messages.userHistoryStatement',
    'messages.newMessage',
    'users.newUser',
    'mapDatabaseError',
    'describeConstraints',
  ];
  for (const name of internal) assert.ok(!surface.has(`src/index.ts: ${name}`), `${name} is internal`);
  assert.ok(surface.has('src/index.ts: messages.appendMessages') && surface.has('src/index.ts: MordomoError'), 'the public names are seen');
});
