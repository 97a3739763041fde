import { createHash, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import type { Kysely } from 'kysely';
import type { HttpSettings } from '../config.ts';
import { ConfigError } from '../errors.ts';
import type { DB } from '../db/schema.ts';
import { domainOfApiKey } from '../ivr/api-keys.ts';
import { HttpError } from './errors.ts';
import { writeTokenFile } from '../ops/admin-token.ts';

const digest = (value: string) => createHash('sha256').update(value).digest();

/** Equal-length digests compared in constant time, so neither length nor content leaks through timing. */
function sameSecret(presented: string, expected: string): boolean {
  return timingSafeEqual(digest(presented), digest(expected));
}

/**
 * The admin bearer token: MORDOMO_ADMIN_TOKEN, else the token file, created on first start (0600). The file is
 * re-read when it changes, so `mordomo-db token rotate` takes effect without a restart.
 */
export class AdminToken {
  private cached: { token: string; mtimeMs: number } | undefined;

  constructor(private readonly settings: HttpSettings) {
    if (!settings.adminToken && !existsSync(settings.adminTokenFile)) writeTokenFile(settings.adminTokenFile);
    this.current();
  }

  /** Where an operator finds the token, for the start banner. */
  describe(): string {
    return this.settings.adminToken ? 'from MORDOMO_ADMIN_TOKEN' : `in ${this.settings.adminTokenFile}`;
  }

  private current(): string {
    if (this.settings.adminToken) return this.settings.adminToken;
    const file = this.settings.adminTokenFile;
    const stat = statSync(file);
    if (stat.mode & 0o077) {
      throw new ConfigError(`the admin token file ${file} is readable by others (mode ${(stat.mode & 0o777).toString(8)}): run "chmod 600 ${file}"`);
    }
    if (this.cached?.mtimeMs !== stat.mtimeMs) {
      const token = readFileSync(file, 'utf8').trim();
      if (token.length < 24) throw new ConfigError(`the admin token in ${file} is shorter than 24 characters`);
      this.cached = { token, mtimeMs: stat.mtimeMs };
    }
    return this.cached.token;
  }

  matches(presented: string): boolean {
    return sameSecret(presented, this.current());
  }
}

/**
 * Limits failed authentications, never valid ones: a request whose credential is valid is let through before this
 * is asked, so no flood of bad tokens from an address (all tenants of one FusionPBX host share one; so does
 * everyone behind a reverse proxy) can lock out a valid admin token or another tenant's key. Failures are counted
 * per presented credential (a client retrying a revoked key) and per address (noise without a credential, or
 * guesses), in fixed windows; past either limit the failing request gets 429 instead of 401 until the window ends.
 * Guessing stays hopeless (tokens are at least 24 characters, API keys 256 random bits); what this bounds is the
 * work and the log lines a flood costs.
 */
export class AuthFailureLimiter {
  /** Failures per counter in the current fixed window; the whole map is dropped when the window ends (O(1) expiry). */
  private failures = new Map<string, number>();
  private window = -1;

  constructor(
    private readonly limit = 20,
    private readonly windowMs = 60_000,
    /** At most this many counters a window: past it the oldest is evicted, so a flood cannot grow the map. */
    private readonly capacity = 10_000,
    /**
     * How long a 429 is held before it is answered (see `refuseHeld`): one refusal per connection a second costs
     * next to nothing, where a connection looping on immediate 429s kept the event loop busy for everyone else.
     */
    private readonly holdMs = 1_000,
  ) {}

  /** How many counters the current window holds (for tests and /metrics). */
  get size(): number {
    return this.failures.size;
  }

  /**
   * Records a failed authentication and returns the error to answer with: 401, or 429 past a limit. The address is
   * counted first: once its budget is spent the credential is not even looked at, so a flood of unique bad keys from
   * one address is answered 429 without a counter per key.
   */
  refuse(address: string, credential: string | undefined, message: string, now = Date.now()): HttpError {
    const window = Math.floor(now / this.windowMs);
    if (window !== this.window) {
      this.window = window;
      this.failures = new Map();
    }
    const retryAfter = Math.max(1, Math.ceil(((window + 1) * this.windowMs - now) / 1000));
    const refused = () => new HttpError(429, 'rate_limited', `too many failed authentications; retry in ${retryAfter} s`, retryAfter);
    if (this.count(`address:${address}`) > this.limit) return refused();
    if (credential !== undefined && this.count(`credential:${digest(credential).toString('base64')}`) > this.limit) return refused();
    return new HttpError(401, 'unauthorized', message);
  }

  /**
   * `refuse`, with a 429 answered only after `holdMs`: a client over its budget has nothing to gain from a fast
   * answer (Retry-After says when to come back), and 64 connections from one address looping on immediate 429s
   * took a whole core and multiplied a valid tenant's latency twentyfold (bench/http/flood.ts). Holding an
   * answer costs a timer; the 401s within the budget are answered at once.
   */
  async refuseHeld(address: string, credential: string | undefined, message: string): Promise<HttpError> {
    const refusal = this.refuse(address, credential, message);
    if (refusal.statusCode === 429 && this.holdMs > 0) await new Promise((resolve) => setTimeout(resolve, this.holdMs));
    return refusal;
  }

  private count(counter: string): number {
    const count = (this.failures.get(counter) ?? 0) + 1;
    if (count === 1 && this.failures.size >= this.capacity) this.failures.delete(this.failures.keys().next().value!);
    this.failures.set(counter, count);
    return count;
  }
}

/** Verified API keys, remembered briefly so that a busy IVR does not look its key up on every request. */
export class ApiKeyCache {
  private readonly verified = new Map<string, { domain: string; until: number }>();

  constructor(
    private readonly db: Kysely<DB>,
    private readonly ttlMs = 5_000,
  ) {}

  /** Forgets every verified key, so that a revocation through this service applies from its next request. */
  forget(): void {
    this.verified.clear();
  }

  async domainOf(presented: string, now = Date.now()): Promise<string | undefined> {
    const key = digest(presented).toString('base64');
    const hit = this.verified.get(key);
    if (hit && hit.until > now) return hit.domain;
    const domain = await domainOfApiKey(this.db, presented);
    if (domain) {
      if (this.verified.size > 10_000) this.verified.clear();
      this.verified.set(key, { domain, until: now + this.ttlMs });
    } else {
      this.verified.delete(key);
    }
    return domain;
  }
}

/** The bearer credential of a request, or undefined. */
export function bearer(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}
