// The reports namespace of the package (src/index.ts).
export {
  actionSuccessByType,
  activeUsers,
  conversationLengths,
  latencyBySource,
  latencyPercentiles,
  messagesPer,
  overdueReminders,
  SEED_REPORT_SQL,
  satisfactionByWeek,
  topIntents,
} from '../core/reports.ts';
export type { ActiveUser, IntentCount, SourceLatency } from '../core/reports.ts';
