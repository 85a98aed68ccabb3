/**
 * Billing periods as the tests expect them, computed here independently of src/billing/time.ts:
 * Stripe's calendar arithmetic (a month after Jan 31 is the last day of February), in seconds.
 */
export type Interval = 'day' | 'week' | 'month' | 'year';

const DAY = 86_400;

/** Seconds since the epoch of an ISO 8601 time. */
export const at = (isoTime: string): number => Date.parse(isoTime) / 1000;
/** The ISO 8601 form of a time in seconds, without milliseconds. */
export const iso = (t: number): string => new Date(t * 1000).toISOString().replace('.000', '');

/** The end of period n (the first by default) of a subscription anchored at `anchor`, billed every `count` intervals. */
export function expectedEnd(anchor: number, interval: Interval, count: number, n = 1): number {
  if (interval === 'day') return anchor + n * count * DAY;
  if (interval === 'week') return anchor + n * count * 7 * DAY;
  const months = n * count * (interval === 'year' ? 12 : 1);
  const a = new Date(anchor * 1000);
  const y = a.getUTCFullYear();
  const m = a.getUTCMonth() + months;
  const last = new Date(Date.UTC(y, m + 1, 0)).getUTCDate();
  return Date.UTC(y, m, Math.min(a.getUTCDate(), last), a.getUTCHours(), a.getUTCMinutes(), a.getUTCSeconds()) / 1000;
}

/** The first n periods, each as `start -> end` in ISO form. */
export const expectedPeriods = (anchor: number, interval: Interval, count: number, n: number): string[] =>
  Array.from({ length: n }, (_, i) => `${iso(expectedEnd(anchor, interval, count, i))} -> ${iso(expectedEnd(anchor, interval, count, i + 1))}`);
