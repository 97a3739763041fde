// bench/search: recall@20 and precision of the search on the evaluation set (cases.ts), for plain Snowball, Snowball
// after unaccent and this project's search, with the search's time per query on this small set; then the same for
// the misspelling set (misspellings.ts, by spelling rule), loaded beside it. The time at 10M messages is
// bench:scale's (the same queries over its data).
// Usage: npm run bench:search [-- --verbose]
import { parseArgs } from 'node:util';
import { benchDatabase, machine } from '../harness.ts';
import { SEARCH_CASES } from './cases.ts';
import { evaluate, loadCases, METHODS, type Score } from './evaluate.ts';
import { MISSPELLING_CASES } from './misspellings.ts';

const { values } = parseArgs({ options: { verbose: { type: 'boolean', default: false } } });
const percent = (value: number) => `${(value * 100).toFixed(1)}%`;
const percentile = (samples: number[], p: number) => [...samples].sort((a, b) => a - b)[Math.min(samples.length - 1, Math.floor((p / 100) * samples.length))]!;

const { database, cleanup } = await benchDatabase(4);
try {
  const conversations = await loadCases(database.db, SEARCH_CASES);
  const misspeltConversations = await loadCases(database.db, MISSPELLING_CASES);
  const scores = new Map<string, Score>();
  for (const method of METHODS) scores.set(method, await evaluate(database.db, SEARCH_CASES, conversations, method));
  const misspelt = new Map<string, Score>();
  for (const method of METHODS) misspelt.set(method, await evaluate(database.db, MISSPELLING_CASES, misspeltConversations, method));
  const rules = [...new Set(MISSPELLING_CASES.map((c) => c.rule))];
  const ruleOf = (score: Score, rule: string) => {
    const cases = MISSPELLING_CASES.filter((c) => c.rule === rule);
    return `${cases.length - score.missed.filter((c) => cases.includes(c as (typeof cases)[number])).length}/${cases.length}`;
  };
  const misspeltProject = misspelt.get('mordomo-db search')!;
  const snowball = scores.get('Snowball (portuguese)')!;
  const project = scores.get('mordomo-db search')!;
  const kinds = [...new Set(SEARCH_CASES.map((c) => c.kind))];
  const pairs = SEARCH_CASES.reduce((sum, c) => sum + c.relevant.length, 0);
  const recallOf = (score: Score, kind: string) => {
    const cases = SEARCH_CASES.filter((c) => c.kind === kind);
    const missed = score.missed.filter((c) => c.kind === kind).length;
    return `${cases.length - missed}/${cases.length}`;
  };
  process.stdout.write(
    `\nsearch: ${SEARCH_CASES.length} queries, ${pairs} relevant utterance/query pairs; ${machine()}\n\n` +
      `| method | recall@20 | precision | ${kinds.map((kind) => `${kind}: cases found in full`).join(' | ')} | p50 / p95 per query |\n` +
      `|---|---:|---:|${kinds.map(() => '---:|').join('')}---:|\n` +
      [...scores]
        .map(
          ([method, score]) =>
            `| ${method} | ${percent(score.recall)} | ${percent(score.precision)} | ${kinds.map((kind) => recallOf(score, kind)).join(' | ')} | ` +
            `${percentile(score.times, 50).toFixed(1)} / ${percentile(score.times, 95).toFixed(1)} ms |`,
        )
        .join('\n') +
      `\n\nTargets: recall ≥ 95% (${percent(project.recall)}); precision ≥ 97% and no worse than plain Snowball's ` +
      `(${percent(project.precision)} against ${percent(snowball.precision)}).\n` +
      (values.verbose || project.missed.length ? `Missed by mordomo-db search: ${project.missed.map((c) => `"${c.query}"`).join(', ') || 'none'}\n` : '') +
      `\nmisspellings: ${MISSPELLING_CASES.length} query words misspelt the way Portuguese spelling invites, one utterance each\n\n` +
      `| method | recall@20 | ${rules.map((rule) => `${rule}: found`).join(' | ')} | p50 / p95 per query |\n` +
      `|---|---:|${rules.map(() => '---:|').join('')}---:|\n` +
      [...misspelt]
        .map(
          ([method, score]) =>
            `| ${method} | ${percent(score.recall)} | ${rules.map((rule) => ruleOf(score, rule)).join(' | ')} | ` +
            `${percentile(score.times, 50).toFixed(1)} / ${percentile(score.times, 95).toFixed(1)} ms |`,
        )
        .join('\n') +
      `\n\nTarget: recall ≥ 95% (${percent(misspeltProject.recall)}).\n` +
      (values.verbose || misspeltProject.missed.length
        ? `Missed by mordomo-db search: ${misspeltProject.missed.map((c) => `"${c.query}"`).join(', ') || 'none'}\n`
        : ''),
  );
} finally {
  await cleanup();
}
