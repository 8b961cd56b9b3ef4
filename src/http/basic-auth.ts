/**
 * HTTP basic authentication against bcrypt hashes, as exporter-toolkit does it (web/handler.go):
 * an unknown user still costs one bcrypt comparison, so timing does not tell which users
 * exist, and comparisons run one at a time because each one is CPU-bound on purpose.
 *
 * Where this differs: usernames are compared in constant time over the whole list (no map
 * lookup that exits early), only successful checks are cached, for CACHE_TTL_MS, under an
 * HMAC of user, hash and password with a key made at start-up (the toolkit keys its cache by
 * the plaintext password), and a flood of uncached attempts is answered 429 instead of queueing
 * without bound in front of Prometheus's own scrape.
 */
import { createHmac, randomBytes, timingSafeEqual, createHash } from 'node:crypto';
import { createRequire } from 'node:module';

export type AuthResult = 'allowed' | 'denied' | 'busy';

/** A scraper every minute pays for one bcrypt comparison every other scrape at most. */
export const CACHE_TTL_MS = 2 * 60_000;
/** Like the toolkit's cache: a few scrapers need a few entries; this bounds memory. */
const CACHE_MAX_ENTRIES = 100;
/** Uncached checks waiting for their turn; more are turned away. */
const MAX_WAITING = 16;

export interface BasicAuthOptions {
  readonly now?: () => number;
  /** bcrypt's comparison; tests count the calls. */
  readonly compare?: (password: string, hash: string) => Promise<boolean>;
}

export class BasicAuth {
  private readonly users: readonly { readonly nameDigest: Buffer; readonly hash: string }[];
  /**
   * Compared against when the user is unknown, so that both cases cost one bcrypt run. Made with
   * bcrypt's asynchronous hash, which yields between rounds: made at once, a reload's new users
   * (at cost 12, 300 ms) would stall every scrape in flight.
   */
  private readonly decoyHash: Promise<string>;
  private readonly cacheKey = randomBytes(32);
  /** HMAC of (user, hash, password) -> when the success expires. */
  private readonly cache = new Map<string, number>();
  private readonly now: () => number;
  private readonly compare: (password: string, hash: string) => Promise<boolean>;
  private queue: Promise<unknown> = Promise.resolve();
  private waiting = 0;

  constructor(users: ReadonlyMap<string, string>, options: BasicAuthOptions = {}) {
    this.users = [...users].map(([name, hash]) => ({ nameDigest: digest(name), hash }));
    // Required here rather than imported: only a service with basic auth users pays for bcrypt.
    const bcrypt = createRequire(import.meta.url)('bcryptjs') as typeof import('bcryptjs');
    const cost = Math.max(4, ...[...users.values()].map((hash) => bcrypt.getRounds(hash)));
    this.decoyHash = bcrypt.hash(randomBytes(16).toString('hex'), cost);
    this.now = options.now ?? Date.now;
    this.compare = options.compare ?? ((password, hash) => bcrypt.compare(password, hash));
  }

  /** Judges an Authorization header. Never throws, never logs. */
  async check(authorization: string | undefined): Promise<AuthResult> {
    const credentials = parseBasic(authorization);
    if (credentials === undefined) return 'denied';
    const { user, password } = credentials;
    const found = this.findUser(user);
    const hash = found ?? (await this.decoyHash);
    const key = createHmac('sha256', this.cacheKey).update(`${user.length}:${user}\0${hash}\0${password}`).digest('base64');
    const expires = this.cache.get(key);
    if (expires !== undefined && expires > this.now()) return 'allowed';
    if (expires !== undefined) this.cache.delete(key);

    if (this.waiting >= MAX_WAITING) return 'busy';
    this.waiting++;
    const turn = this.queue.then(() => this.compare(password, hash));
    this.queue = turn.catch(() => false);
    let matches: boolean;
    try {
      matches = await turn;
    } catch {
      matches = false;
    } finally {
      this.waiting--;
    }
    if (!(matches && found !== undefined)) return 'denied';
    this.remember(key);
    return 'allowed';
  }

  /** Looks at every user whatever matches, comparing digests of equal length in constant time. */
  private findUser(user: string): string | undefined {
    const wanted = digest(user);
    let found: string | undefined;
    for (const candidate of this.users) {
      if (timingSafeEqual(candidate.nameDigest, wanted) && found === undefined) found = candidate.hash;
    }
    return found;
  }

  private remember(key: string): void {
    const now = this.now();
    if (this.cache.size >= CACHE_MAX_ENTRIES) {
      for (const [cached, expires] of this.cache) if (expires <= now) this.cache.delete(cached);
      // Still full: drop the oldest (Maps keep insertion order).
      while (this.cache.size >= CACHE_MAX_ENTRIES) this.cache.delete(this.cache.keys().next().value!);
    }
    this.cache.set(key, now + CACHE_TTL_MS);
  }
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** `Basic base64(user:password)`, split at the first colon as Go's Request.BasicAuth does. */
export function parseBasic(authorization: string | undefined): { user: string; password: string } | undefined {
  const match = /^basic +([A-Za-z0-9+/]+=*) *$/i.exec(authorization ?? '');
  if (match === null) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
