// Whether this Node.js satisfies package.json's "engines". Plain JavaScript that any Node since 12 parses, and
// imported before anything else, so an older Node gets one line and exit 78 (configuration) instead of a stack
// trace from syntax or an API it lacks. It reads the range from package.json, so it follows what CI tests.
import { readFileSync } from 'node:fs';

function parts(version) {
  const [major = 0, minor = 0, patch = 0] = String(version)
    .replace(/^v/, '')
    .split('-')[0]
    .split('.')
    .map((n) => Number.parseInt(n, 10) || 0);
  return [major, minor, patch];
}

function compare(a, b) {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  return 0;
}

function satisfiesComparator(version, comparator) {
  const match = /^(>=|<=|>|<|=|\^|~)?v?(\d+(?:\.\d+){0,2})(?:\.x)?$/.exec(comparator);
  // A form this small check does not know is not held against the user.
  if (!match) return true;
  const [, operator = '=', bound] = match;
  const given = bound.split('.').length;
  const low = parts(bound);
  const c = compare(version, low);
  if (operator === '>=') return c >= 0;
  if (operator === '>') return c > 0;
  if (operator === '<') return c < 0;
  if (operator === '<=') return c <= 0;
  if (operator === '^') return c >= 0 && version[0] === low[0];
  if (operator === '~') return c >= 0 && version[0] === low[0] && (given < 2 || version[1] === low[1]);
  // "20" or "20.11": every version starting so.
  return low.slice(0, given).every((n, i) => version[i] === n);
}

/** True when `version` (e.g. "v22.12.0") is inside `range` (e.g. ">=20", "^20.19 || >=22.12"). */
export function satisfiesEngines(version, range) {
  const wanted = range?.trim();
  if (!wanted || wanted === '*') return true;
  const v = parts(version);
  return wanted.split('||').some((alternative) =>
    alternative
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .every((comparator) => satisfiesComparator(v, comparator)),
  );
}

/** The line an unsupported Node gets, or undefined when this one is supported. */
export function unsupportedNodeMessage(version, range) {
  if (satisfiesEngines(version, range)) return undefined;
  return `mordomo-db: needs Node.js ${range} (this is Node.js ${version}); install a supported version (README, "Requirements")`;
}

/** The "engines.node" range of this package. */
export function enginesRange(packageJsonUrl) {
  return JSON.parse(readFileSync(packageJsonUrl, 'utf8')).engines?.node;
}
