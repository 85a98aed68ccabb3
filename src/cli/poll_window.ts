/**
 * Following a list endpoint by polling, without losing rows that become visible out of list
 * order. A list cursor (`ending_before` the last row seen) skips any row that lands behind it
 * later: on PostgreSQL two transactions can commit in the other order than their rows' `seq`,
 * and request logs are listed by arrival while a read's row is written after its response. So
 * each poll reads a sliding window instead: every row created (unix seconds) at most LOOKBACK_S
 * before the newest row seen (or before the oldest one still held back), all pages, and keeps
 * what it has not taken yet. Anchored to the rows, not to the clock, the window also covers a
 * pause of any length (the listener offline, the server restarting): nothing is skipped.
 */

/** How far back (seconds before the newest row seen) each poll looks for rows that arrived late. */
export const LOOKBACK_S = 5;

export interface Row { id: string; created: number }
export interface Page<T> { data: T[]; has_more: boolean }
export type Get<T> = (query: Record<string, unknown>) => Promise<Page<T>>;

/** Every row with `created >= since` (every row without `since`), oldest first, all pages (up to maxPages). */
export async function fetchWindow<T extends Row>(get: Get<T>, since: number | undefined, maxPages = 100): Promise<T[]> {
  const out: T[] = [];
  let after: string | undefined;
  for (let pages = 0; pages < maxPages; pages++) {
    const page = await get({ limit: 100, ...(since !== undefined ? { created: { gte: since } } : {}), ...(after ? { starting_after: after } : {}) });
    out.push(...page.data);
    if (!page.has_more || page.data.length === 0) break;
    after = page.data[page.data.length - 1].id;
  }
  return out.reverse();
}

/** What to do with a row not taken yet: take it now, skip it for good, or wait (look again next poll). */
export type Verdict = 'take' | 'skip' | 'hold';

/** What was taken, what waits, and where the next poll's window starts. */
export class PollWindow<T extends Row> {
  private seen = new Map<string, number>();
  private held = new Map<string, number>();
  private newest: number | undefined;

  /** Where the next window starts; undefined while nothing was seen (read everything). */
  get since(): number | undefined {
    if (this.newest === undefined) return undefined;
    let since = this.newest - LOOKBACK_S;
    for (const created of this.held.values()) since = Math.min(since, created);
    return since;
  }

  private saw(row: T): void {
    this.newest = Math.max(this.newest ?? row.created, row.created);
  }

  /** Rows that existed before following started: never taken. */
  ignore(rows: T[]): void {
    for (const row of rows) {
      this.seen.set(row.id, row.created);
      this.saw(row);
    }
  }

  /** A row to take later (and not skip as already there). */
  hold(row: T): void {
    this.seen.delete(row.id);
    this.held.set(row.id, row.created);
    this.saw(row);
  }

  /** The rows of a window (oldest first) to handle now, remembered as taken. */
  take(window: T[], verdict: (row: T) => Verdict = () => 'take'): T[] {
    const out: T[] = [];
    for (const row of window) {
      this.saw(row);
      if (this.seen.has(row.id)) continue;
      const v = verdict(row);
      if (v === 'hold') { this.held.set(row.id, row.created); continue; }
      this.held.delete(row.id);
      this.seen.set(row.id, row.created);
      if (v === 'take') out.push(row);
    }
    // Forget what no window can return any more.
    const since = this.since;
    if (since !== undefined) for (const [id, created] of this.seen) if (created < since) this.seen.delete(id);
    return out;
  }
}
