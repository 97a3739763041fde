// The logs namespace of the package (src/index.ts).
export { LEVELS, queryLogs, writeLog, writeLogs } from '../core/logs.ts';
export type { LogLine, LogQuery, NewLogLine } from '../core/logs.ts';
