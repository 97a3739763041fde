/**
 * What the client scenario ends with, from TypeScript (test/client/scenario.ts) and from Python
 * (examples/python/scenario.py) alike: three turns read back in two pages of four, the utterance and the answer
 * found by search, the action done, the reminder pending, a typed 404, the call transferred after two messages.
 */
export const SCENARIO_OUTCOME = {
  turns: 3,
  historyPages: 2,
  found: 2,
  actionStatus: 'success',
  reminderStatus: 'pending',
  missingUserCode: 'not_found',
  transferredTo: '2001',
  documentHits: 1,
  callMessages: 2,
};
