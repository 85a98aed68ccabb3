/**
 * Billing time. A customer attached to a test clock lives at the clock's frozen time; everyone
 * else at the wall clock. Billing periods are computed from the anchor (period n ends n
 * intervals after it), so months never drift: Jan 31 -> Feb 28 -> Mar 31, as Stripe bills.
 */
import type { Queryable } from '../store/db.ts';
import { nowSeconds } from '../ids.ts';
import { testClocks, type PriceInterval } from './billing_objects.ts';

/** The time a customer's billing happens at: its test clock's frozen time, or now. */
export async function billingNow(q: Queryable, accountId: string, clock: string | null): Promise<number> {
  if (!clock) return nowSeconds();
  const c = await testClocks.find(q, accountId, clock);
  return c ? c.frozen_time : nowSeconds();
}

const DAY = 86_400;

function addMonths(t: number, months: number): number {
  const d = new Date(t * 1000);
  const day = d.getUTCDate();
  const target = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + months, 1, d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()));
  const lastDay = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)).getUTCDate();
  target.setUTCDate(Math.min(day, lastDay));
  return Math.floor(target.getTime() / 1000);
}

/** The end of billing period `n` (1 = the first) of a subscription anchored at `anchor`. */
export function periodEnd(anchor: number, interval: PriceInterval, count: number, n: number): number {
  switch (interval) {
    case 'day': return anchor + n * count * DAY;
    case 'week': return anchor + n * count * 7 * DAY;
    case 'month': return addMonths(anchor, n * count);
    case 'year': return addMonths(anchor, n * count * 12);
  }
}

/**
 * Which period (1-based) ends at `end`: the inverse of periodEnd for the boundaries it produced;
 * 0 for the anchor itself (the end of a trial, or of the free time before a later anchor).
 */
export function periodIndex(anchor: number, interval: PriceInterval, count: number, end: number): number {
  let n = 0;
  while (periodEnd(anchor, interval, count, n) < end) n++;
  return n;
}
