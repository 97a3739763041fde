import type { Command } from 'commander';
import { InvalidInputError } from '../errors.ts';
import type { CliContext } from './backup.ts';
import { print } from './output.ts';

/** Commands over the assistant's data: search, and the person-level rights of LGPD. */
export function registerDataCommands(program: Command, { databaseAction }: CliContext): void {
  program
    .command('search <query>')
    .description('search messages in Portuguese: accents ignored, words stemmed, "quotes", -word, or; typos fall back to similarity')
    .option('--user <id>', "only this user's conversations")
    .option('--role <role>', 'user, assistant or system')
    .option('--limit <n>', 'results (1-100)', '20')
    .option('--json', 'machine-readable output')
    .action(
      databaseAction(async (database, _config, _logger, options) => {
        const { searchMessages } = await import('../core/search.ts');
        const limit = Number(options.limit);
        const result = await searchMessages(database.owner.db, String(options.query), {
          user_id: options.user as string | undefined,
          role: options.role as 'user' | undefined,
          limit: Number.isFinite(limit) ? limit : -1,
        });
        const note = result.mode === 'similar' ? 'nothing matched exactly; similar spellings:\n' : '';
        const lines = result.items.map((hit) => `${hit.timestamp.toISOString()}  ${hit.role.padEnd(9)} ${hit.snippet.replace(/\s+/g, ' ')}`);
        print(Boolean(options.json), result, result.items.length ? `${note}${lines.join('\n')}` : (result.reason ?? 'no messages found'));
      }),
    );

  const user = program.command('user').description("one person's data (LGPD): export it, erase it");
  user
    .command('export <id>')
    .description('print everything stored about a user (profile, conversations, messages, actions, reminders, log lines) as one JSON document')
    .action(
      databaseAction(async (database, _config, _logger, options) => {
        const { exportUser } = await import('../core/privacy.ts');
        process.stdout.write(`${JSON.stringify(await exportUser(database.owner.db, String(options.id)), null, 2)}\n`);
      }),
    );
  user
    .command('erase <id>')
    .description('remove a user and everything about them in one transaction; an audit line records counts only')
    .option('--yes', 'confirm: this cannot be undone (backups keep the data until they age out)')
    .action(
      databaseAction(async (database, _config, _logger, options) => {
        if (!options.yes) throw new InvalidInputError('erasing cannot be undone: run again with --yes to confirm');
        const { eraseUser } = await import('../core/privacy.ts');
        const erased = await eraseUser(database.owner.db, String(options.id));
        process.stdout.write(
          `erased: ${erased.conversations} conversations, ${erased.messages} messages, ${erased.actions} actions, ${erased.reminders} reminders, ${erased.log_lines} log lines\n`,
        );
      }),
    );
}
