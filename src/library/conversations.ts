// The conversations namespace of the package (src/index.ts).
export { appendTurn, endConversation, getConversation, startConversation } from '../core/conversations.ts';
export type { Conversation, ConversationWithMessages, Ending, NewConversation } from '../core/conversations.ts';
