import { conversations, createLogger, loadConfig, messages, migrate, openDatabase, users } from 'mordomo-db';

const settings = loadConfig(); // every setting, from the environment (docs/configuration.md)
const logger = createLogger(settings.logLevel); // MORDOMO_LOG_LEVEL, or info
const database = await openDatabase(settings, logger); // the embedded server, or DATABASE_URL
await migrate(database.owner.pool, settings.modules, logger); // schema changes run as the owner
const { db } = database; // Kysely<DB> as the runtime role, typed from the migrations

const ana = (await users.findUserByEmail(db, 'ana@example.com')) ?? (await users.createUser(db, { name: 'Ana', email: 'ana@example.com' }));
const talk = await conversations.startConversation(db, { user_id: ana.id });
await conversations.appendTurn(db, talk.id, { content: 'Liga a luz da sala', intent: 'iot_control' }, { content: 'Pronto!' });
const last50 = await messages.conversationHistory(db, talk.id, { limit: 50 }); // oldest first
const week = await messages.userHistory(db, ana.id, { days: 7, limit: 50 }); // the seed's Prisma query, newest first
logger.info({ conversation: talk.id, messages: last50.length, thisWeek: week.length }, 'turn stored');
await database.close();
