// The messages namespace of the package (src/index.ts); the statements the benchmarks replay stay internal.
export { appendMessages, conversationHistory, ROLES, userHistory } from '../core/messages.ts';
export type { HistoryOptions, Message, NewMessage, UserHistoryOptions } from '../core/messages.ts';
