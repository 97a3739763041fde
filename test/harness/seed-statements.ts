import { readFileSync } from 'node:fs';
import path from 'node:path';

const FILE = path.join(import.meta.dirname, '..', 'fixtures', 'seed-statements.sql');

/** The seeds' statements of test/fixtures/seed-statements.sql, by name, verbatim. */
const statements = new Map(
  readFileSync(FILE, 'utf8')
    .split(/^-- name: /m)
    .slice(1)
    .map((section) => {
      const [heading = '', ...lines] = section.split('\n');
      return [heading.split(' ')[0]!, `\n${lines.join('\n').trim()}`] as const;
    }),
);

/** One of the seeds' statements, as the seed writes it; an unknown name is a mistake of the test. */
export function seedStatement(name: string): string {
  const text = statements.get(name);
  if (text === undefined) throw new Error(`no statement "${name}" in ${FILE}`);
  return text;
}
