// The actions namespace of the package (src/index.ts).
export { getAction, recordAction, transitionAction } from '../core/actions.ts';
export type { Action, ActionOutcome, ActionStatus, NewAction } from '../core/actions.ts';
