/** Types of bin/node-version.js (plain JavaScript, so that any Node parses it) for the tests. */
export function satisfiesEngines(version: string, range: string | undefined): boolean;
export function unsupportedNodeMessage(version: string, range: string | undefined): string | undefined;
export function enginesRange(packageJsonUrl: URL): string | undefined;
