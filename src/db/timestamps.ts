import pg from 'pg';

const parseAnyTimestamptz = pg.types.getTypeParser(pg.types.builtins.TIMESTAMPTZ, 'text') as (value: string) => Date;

const digits = (text: string, from: number, count: number): number => {
  let value = 0;
  for (let i = from; i < from + count; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return Number.NaN;
    value = value * 10 + digit;
  }
  return value;
};

/**
 * A timestamptz as PostgreSQL writes it with DateStyle ISO ("2026-12-07 02:11:04.123+00", the offset ±HH or
 * ±HH:MM), parsed by position instead of by postgres-date's regular expressions: reading a conversation decodes
 * one per message, and this was the largest single cost of decoding a row in the history benchmark. Anything else
 * (years before 1000 or after 9999, BC, infinity, an offset with seconds) goes to postgres-date, whose results
 * this matches to the millisecond (test/db/timestamps.test.ts).
 */
export function parseTimestamptz(text: string): Date {
  if (text.length < 22 || text.charCodeAt(4) !== 45 || text.charCodeAt(10) !== 32 || text.endsWith(' BC')) return parseAnyTimestamptz(text);
  const year = digits(text, 0, 4);
  let at = 19;
  let ms = 0;
  if (text.charCodeAt(at) === 46) {
    // Milliseconds are the fraction's first three digits (a Date holds no more), the rest skipped.
    let scale = 100;
    for (at++; at < text.length; at++) {
      const digit = text.charCodeAt(at) - 48;
      if (digit < 0 || digit > 9) break;
      ms += digit * scale;
      scale /= 10;
    }
    ms = Math.trunc(ms);
  }
  const sign = text.charCodeAt(at) === 43 ? 1 : text.charCodeAt(at) === 45 ? -1 : 0;
  const rest = text.length - at;
  if (year < 1000 || sign === 0 || (rest !== 3 && rest !== 6) || (rest === 6 && text.charCodeAt(at + 3) !== 58)) return parseAnyTimestamptz(text);
  const offsetMinutes = digits(text, at + 1, 2) * 60 + (rest === 6 ? digits(text, at + 4, 2) : 0);
  const utc = Date.UTC(year, digits(text, 5, 2) - 1, digits(text, 8, 2), digits(text, 11, 2), digits(text, 14, 2), digits(text, 17, 2), ms);
  const date = new Date(utc - sign * offsetMinutes * 60_000);
  return Number.isNaN(date.getTime()) ? parseAnyTimestamptz(text) : date;
}
