import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { HSTS } from './tls.ts';

/**
 * Framing is refused everywhere: the dashboard and /docs are the only pages, and neither is meant to be embedded.
 * The pages' own Content-Security-Policy ends with this too, so the two headers never disagree.
 */
export const FRAME_ANCESTORS = "frame-ancestors 'none'";

/** What an answer that is not a page may load: nothing (a JSON body, the metrics text). Pages set their own. */
const DEFAULT_POLICY = `default-src 'none'; ${FRAME_ANCESTORS}`;

/**
 * The headers every answer carries, whatever its status and whoever writes it: no MIME sniffing, no referrer
 * leaking a URL's ids, no framing, and over HTTPS, HSTS.
 */
export function securityHeaders(tls: boolean): Record<string, string> {
  return {
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
    'content-security-policy': DEFAULT_POLICY,
    ...(tls ? { 'strict-transport-security': HSTS } : {}),
  };
}

/**
 * Sets the headers on the raw response before Fastify sees the request, so they reach what Fastify writes itself
 * (its 503 while closing), hijacked replies (the reminder stream) and every route's reply: Node merges them into
 * the status line's headers, a route's own value (a page's policy) taking precedence.
 */
export function sendSecurityHeaders(server: Server, tls: boolean): void {
  const headers = Object.entries(securityHeaders(tls));
  server.prependListener('request', (_request: IncomingMessage, response: ServerResponse) => {
    for (const [name, value] of headers) response.setHeader(name, value);
  });
}

/** The raw header lines of `securityHeaders`, for answers written straight to the socket. */
export function securityHeaderLines(tls: boolean): string {
  return Object.entries(securityHeaders(tls))
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
}
