// What a backup's row refused by COPY is reported as: its place and reason, never its value.

export interface PgLoadError {
  code?: string;
  where?: string;
  column?: string;
}

/** What a row's failure says of itself, without its value (PostgreSQL's message and context quote the field). */
const LOAD_FAILURES: Record<string, string> = {
  '22P02': "a value the column's type cannot take",
  '22001': 'a value too long for the column',
  '22003': "a number out of the column's range",
  '22007': 'a malformed date or time',
  '22008': 'a date or time out of range',
  '22021': 'bytes that are not valid text',
  '22P04': 'a malformed COPY line',
  '22P05': 'text PostgreSQL cannot store',
  '23502': 'no value where the column requires one',
  '23503': 'a reference to a row that is not there',
  '23505': 'a duplicate of a key',
  '23514': 'a value a check constraint refuses',
};

/**
 * Where and why a COPY of a backup's table failed — line and column from the error's context, the reason from its
 * SQLSTATE — and never the value: a backup holds people's conversations, and the message reaches the terminal.
 */
export function whereLoadFailed(error: PgLoadError): string {
  const at = /line (\d+)(?:, column ([^:\s]+))?/.exec(error.where ?? '');
  const place = at ? `line ${at[1]}${at[2] ? `, column ${at[2]}` : ''}` : 'a row';
  return `${place}: ${LOAD_FAILURES[error.code ?? ''] ?? `refused (SQLSTATE ${error.code})`}`;
}
