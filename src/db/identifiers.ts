/**
 * Quotes an identifier for SQL text, for the statements that cannot take one as a parameter (COPY, VACUUM, DDL).
 * Identifiers come from code (the modules' table lists) or the catalog, or from a backup's own header, a file: so
 * they are escaped as well as quoted. Quoting also keeps a column named `timestamp` valid.
 */
export function quoteIdentifier(identifier: string): string {
  return `"${identifier.replace(/"/g, '""')}"`;
}
