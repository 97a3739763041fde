import { describeConstraints } from '../errors.ts';

/** What the core's named constraints mean, said as the rule a caller broke (see describeConstraints). */
export const CORE_CONSTRAINTS = {
  idx_users_email: 'a user with this e-mail already exists',
  conversations_ended_after_start: 'a conversation cannot end before it started',
} as const;

describeConstraints(CORE_CONSTRAINTS);
