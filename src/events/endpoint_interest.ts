/**
 * Which event types an account's enabled webhook endpoints want, cached per account so that a
 * commit can tell whether its events wrote any delivery without asking the database each time.
 * Endpoint changes made in this process forget the account at once (commit notes); changes made
 * by another process are seen within `ttlMs`, and meanwhile the dispatcher's poll still finds
 * their deliveries.
 */
import type { Queryable } from '../store/db.ts';

interface Entry { types: Set<string>; loadedAt: number }

const MAX_ACCOUNTS = 10_000;

export class EndpointInterest {
  private cache = new Map<string, Entry>();
  private loading = new Map<string, Promise<void>>();
  /** Bumped by forget(): a load that started before it must not store what it read. */
  private generation = new Map<string, number>();

  constructor(private readonly db: Queryable, private readonly ttlMs = 5_000) {}

  /** Whether any enabled endpoint of the account wants one of `types`; undefined when not known (load it). */
  wants(accountId: string, types: Iterable<string>): boolean | undefined {
    const e = this.cache.get(accountId);
    if (!e || Date.now() - e.loadedAt > this.ttlMs) return undefined;
    if (e.types.has('*')) return true;
    for (const t of types) if (e.types.has(t)) return true;
    return false;
  }

  /** Reads the account's endpoints (one query; concurrent callers share it). */
  load(accountId: string): Promise<void> {
    let p = this.loading.get(accountId);
    if (!p) {
      const generation = this.generation.get(accountId) ?? 0;
      p = this.db.query<{ enabled_events: string[] }>(
        `SELECT enabled_events FROM webhook_endpoints WHERE account_id = $1 AND status = 'enabled' AND NOT deleted`, [accountId],
      ).then(({ rows }) => {
        if ((this.generation.get(accountId) ?? 0) !== generation) return;
        if (this.cache.size >= MAX_ACCOUNTS) this.cache.clear();
        this.cache.set(accountId, { types: new Set(rows.flatMap((r) => r.enabled_events)), loadedAt: Date.now() });
      }).finally(() => this.loading.delete(accountId));
      this.loading.set(accountId, p);
    }
    return p;
  }

  forget(accountId: string): void {
    this.cache.delete(accountId);
    this.generation.set(accountId, (this.generation.get(accountId) ?? 0) + 1);
    if (this.generation.size >= MAX_ACCOUNTS) this.generation.clear();
  }
}
