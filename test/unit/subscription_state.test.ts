/**
 * The subscription state machine and billing time, as pure functions:
 *
 * - every (from, to) pair of statuses against SUBSCRIPTION_TRANSITIONS through canMoveSubscription,
 *   and every (action, status) pair of SUBSCRIPTION_ACTIONS, both checked against tables written
 *   out here independently of the implementation's;
 * - periodEnd / periodIndex (src/billing/time.ts): anchored months (Jan 31 -> Feb 28 -> Mar 31),
 *   leap years, weeks, days, years, interval_count; and, with fast-check, that periodIndex inverts
 *   periodEnd and that periods strictly increase, for any anchor, interval and count Oncepay accepts.
 *
 * The same action table is checked end to end over the API, for every reachable status, in
 * test/e2e/subscriptions.test.ts ("actions by status").
 * fast-check prints the seed and path of a failure; replay one with FC_SEED=<seed> FC_PATH=<path>.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SUBSCRIPTION_STATUSES, PRICE_INTERVALS, type PriceInterval, type SubscriptionStatus } from '../../src/billing/billing_objects.ts';
import { SUBSCRIPTION_ACTIONS, SUBSCRIPTION_TRANSITIONS, canMoveSubscription, type SubscriptionAction } from '../../src/billing/subscription_status.ts';
import { periodEnd, periodIndex } from '../../src/billing/time.ts';
import { MAX_FROZEN_TIME } from '../../src/billing/test_clocks.ts';

const fcParams: fc.Parameters<unknown> = {
  numRuns: Number(process.env.FC_RUNS ?? 500),
  ...(process.env.FC_SEED ? { seed: Number(process.env.FC_SEED), path: process.env.FC_PATH } : {}),
};

// ---------------------------------------------------------------------------------------------
// The tables, as Stripe's subscription lifecycle (limited to what Oncepay implements) states them

const EXPECTED_TRANSITIONS: Record<SubscriptionStatus, SubscriptionStatus[]> = {
  // first invoice paid; not paid within 23 hours; canceled by the API
  incomplete: ['active', 'incomplete_expired', 'canceled'],
  // terminal
  incomplete_expired: [],
  // the trial ends: into a paid period, or without a payment method paused or canceled (trial_settings); canceled by the API
  trialing: ['active', 'paused', 'canceled'],
  // a renewal fails; canceled (now or at period end); a trial added (Oncepay refuses it for now, but the move is Stripe's)
  active: ['trialing', 'past_due', 'canceled'],
  // the failed invoice is paid; canceled
  past_due: ['active', 'canceled'],
  unpaid: ['active', 'canceled'],
  // resumed; canceled
  paused: ['active', 'canceled'],
  // terminal
  canceled: [],
};

const EXPECTED_ACTIONS: Record<SubscriptionAction, SubscriptionStatus[]> = {
  update: ['incomplete', 'trialing', 'active', 'past_due', 'unpaid', 'paused'],
  cancel: ['incomplete', 'trialing', 'active', 'past_due', 'unpaid', 'paused'],
  resume: ['paused'],
};

describe('SUBSCRIPTION_TRANSITIONS', () => {
  test('the statuses are Stripe\'s (those Oncepay implements)', () => {
    assert.deepEqual([...SUBSCRIPTION_STATUSES].sort(), ['active', 'canceled', 'incomplete', 'incomplete_expired', 'past_due', 'paused', 'trialing', 'unpaid']);
    assert.deepEqual(Object.keys(SUBSCRIPTION_TRANSITIONS).sort(), [...SUBSCRIPTION_STATUSES].sort(), 'one row per status');
  });

  for (const from of SUBSCRIPTION_STATUSES) {
    test(`from ${from}: every target status, allowed exactly when the table says so`, () => {
      for (const to of SUBSCRIPTION_STATUSES) {
        const expected = from === to || EXPECTED_TRANSITIONS[from].includes(to);
        assert.equal(canMoveSubscription(from, to), expected, `${from} -> ${to}`);
      }
    });
  }

  test('the table itself: no duplicate targets, no self-loops, terminal statuses have no way out', () => {
    for (const from of SUBSCRIPTION_STATUSES) {
      const targets = SUBSCRIPTION_TRANSITIONS[from];
      assert.equal(new Set(targets).size, targets.length, `${from}: duplicate targets`);
      assert.ok(!targets.includes(from), `${from}: a self-loop belongs to canMoveSubscription, not to the table`);
      for (const to of targets) assert.ok(SUBSCRIPTION_STATUSES.includes(to), `${from} -> ${to}: unknown status`);
    }
    for (const terminal of ['canceled', 'incomplete_expired'] as const) {
      for (const to of SUBSCRIPTION_STATUSES) {
        if (to !== terminal) assert.equal(canMoveSubscription(terminal, to), false, `${terminal} is terminal: ${terminal} -> ${to}`);
      }
    }
    // Nothing ever goes back to incomplete: it is only a starting status.
    for (const from of SUBSCRIPTION_STATUSES) {
      if (from !== 'incomplete') assert.equal(canMoveSubscription(from, 'incomplete'), false, `${from} -> incomplete`);
    }
  });

  test('every status with a way out can reach canceled (a subscription can always be ended), and every non-terminal status is reachable from incomplete or trialing (where subscriptions start)', () => {
    const reachable = new Set<SubscriptionStatus>();
    const walk = (s: SubscriptionStatus) => {
      if (reachable.has(s)) return;
      reachable.add(s);
      for (const t of SUBSCRIPTION_TRANSITIONS[s]) walk(t);
    };
    walk('incomplete');
    walk('trialing');
    // 'unpaid' is in the table but nothing moves a subscription there yet (no dunning): note it, do not require it.
    assert.deepEqual([...reachable].sort(), ['active', 'canceled', 'incomplete', 'incomplete_expired', 'past_due', 'paused', 'trialing']);
    for (const s of SUBSCRIPTION_STATUSES) {
      if (SUBSCRIPTION_TRANSITIONS[s].length > 0) assert.ok(canMoveSubscription(s, 'canceled'), `${s} -> canceled`);
    }
  });
});

describe('SUBSCRIPTION_ACTIONS', () => {
  test('one row per API action', () => {
    assert.deepEqual(Object.keys(SUBSCRIPTION_ACTIONS).sort(), ['cancel', 'resume', 'update']);
  });

  for (const action of Object.keys(EXPECTED_ACTIONS) as SubscriptionAction[]) {
    for (const status of SUBSCRIPTION_STATUSES) {
      const allowed = EXPECTED_ACTIONS[action].includes(status);
      test(`${action} on ${status}: ${allowed ? 'accepted' : 'refused'}`, () => {
        assert.equal(SUBSCRIPTION_ACTIONS[action].includes(status), allowed);
      });
    }
  }

  test('update and cancel are accepted exactly on the statuses that can still be canceled (the ones that have not ended)', () => {
    for (const action of ['update', 'cancel'] as const) {
      for (const status of SUBSCRIPTION_STATUSES) {
        assert.equal(SUBSCRIPTION_ACTIONS[action].includes(status), SUBSCRIPTION_TRANSITIONS[status].includes('canceled'), `${action} on ${status}`);
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Billing time

const at = (iso: string) => Date.parse(iso) / 1000;
const iso = (t: number) => new Date(t * 1000).toISOString().replace('.000', '');
const ends = (anchor: number, interval: PriceInterval, count: number, n: number) =>
  Array.from({ length: n }, (_, i) => iso(periodEnd(anchor, interval, count, i + 1)));

describe('periodEnd: anchored periods', () => {
  test('monthly from Jan 31 (2026, not a leap year): Feb 28, Mar 31, Apr 30, May 31, ..., Jan 31 again; the time of day is kept', () => {
    assert.deepEqual(ends(at('2026-01-31T12:34:56Z'), 'month', 1, 13), [
      '2026-02-28T12:34:56Z', '2026-03-31T12:34:56Z', '2026-04-30T12:34:56Z', '2026-05-31T12:34:56Z', '2026-06-30T12:34:56Z',
      '2026-07-31T12:34:56Z', '2026-08-31T12:34:56Z', '2026-09-30T12:34:56Z', '2026-10-31T12:34:56Z', '2026-11-30T12:34:56Z',
      '2026-12-31T12:34:56Z', '2027-01-31T12:34:56Z', '2027-02-28T12:34:56Z',
    ]);
  });

  test('monthly from Jan 31 of a leap year: Feb 29; from Jan 30 and Jan 29 too; the 28th never moves', () => {
    assert.deepEqual(ends(at('2024-01-31T00:00:00Z'), 'month', 1, 3), ['2024-02-29T00:00:00Z', '2024-03-31T00:00:00Z', '2024-04-30T00:00:00Z']);
    assert.deepEqual(ends(at('2024-01-30T00:00:00Z'), 'month', 1, 2), ['2024-02-29T00:00:00Z', '2024-03-30T00:00:00Z']);
    assert.deepEqual(ends(at('2025-01-29T00:00:00Z'), 'month', 1, 2), ['2025-02-28T00:00:00Z', '2025-03-29T00:00:00Z']);
    assert.deepEqual(ends(at('2025-01-28T23:59:59Z'), 'month', 1, 3), ['2025-02-28T23:59:59Z', '2025-03-28T23:59:59Z', '2025-04-28T23:59:59Z']);
    // Century rules: 2100 is not a leap year, 2000 was.
    assert.equal(iso(periodEnd(at('2100-01-31T00:00:00Z'), 'month', 1, 1)), '2100-02-28T00:00:00Z');
    assert.equal(iso(periodEnd(at('2000-01-31T00:00:00Z'), 'month', 1, 1)), '2000-02-29T00:00:00Z');
  });

  test('monthly across the year end, and from the last day of a 30-day month (Apr 30 -> May 30, not May 31)', () => {
    assert.deepEqual(ends(at('2025-11-30T08:00:00Z'), 'month', 1, 4), ['2025-12-30T08:00:00Z', '2026-01-30T08:00:00Z', '2026-02-28T08:00:00Z', '2026-03-30T08:00:00Z']);
    assert.deepEqual(ends(at('2026-04-30T00:00:00Z'), 'month', 1, 2), ['2026-05-30T00:00:00Z', '2026-06-30T00:00:00Z']);
  });

  test('interval_count months: every 3 months from Jan 31; every 6 months from Aug 31 (Feb 28/29)', () => {
    assert.deepEqual(ends(at('2026-01-31T00:00:00Z'), 'month', 3, 4), ['2026-04-30T00:00:00Z', '2026-07-31T00:00:00Z', '2026-10-31T00:00:00Z', '2027-01-31T00:00:00Z']);
    assert.deepEqual(ends(at('2023-08-31T00:00:00Z'), 'month', 6, 4), ['2024-02-29T00:00:00Z', '2024-08-31T00:00:00Z', '2025-02-28T00:00:00Z', '2025-08-31T00:00:00Z']);
    assert.equal(iso(periodEnd(at('2026-01-31T00:00:00Z'), 'month', 36, 1)), '2029-01-31T00:00:00Z');
  });

  test('yearly from Feb 29: Feb 28 in common years, Feb 29 again in the next leap year; every 2 years', () => {
    assert.deepEqual(ends(at('2028-02-29T06:00:00Z'), 'year', 1, 4), ['2029-02-28T06:00:00Z', '2030-02-28T06:00:00Z', '2031-02-28T06:00:00Z', '2032-02-29T06:00:00Z']);
    assert.deepEqual(ends(at('2024-02-29T00:00:00Z'), 'year', 2, 2), ['2026-02-28T00:00:00Z', '2028-02-29T00:00:00Z']);
    assert.deepEqual(ends(at('2026-07-15T10:00:00Z'), 'year', 3, 1), ['2029-07-15T10:00:00Z']);
  });

  test('weeks and days are exact multiples of 7 and 1 days (UTC has no daylight saving)', () => {
    const a = at('2026-03-27T01:30:00Z');
    assert.deepEqual(ends(a, 'week', 1, 3), ['2026-04-03T01:30:00Z', '2026-04-10T01:30:00Z', '2026-04-17T01:30:00Z']);
    assert.deepEqual(ends(a, 'week', 2, 2), ['2026-04-10T01:30:00Z', '2026-04-24T01:30:00Z']);
    assert.deepEqual(ends(a, 'day', 1, 3), ['2026-03-28T01:30:00Z', '2026-03-29T01:30:00Z', '2026-03-30T01:30:00Z']);
    assert.deepEqual(ends(at('2024-02-28T00:00:00Z'), 'day', 1, 2), ['2024-02-29T00:00:00Z', '2024-03-01T00:00:00Z']);
    assert.equal(periodEnd(a, 'day', 1095, 1), a + 1095 * 86_400);
    assert.equal(periodEnd(a, 'week', 156, 2), a + 2 * 156 * 7 * 86_400);
  });

  test('period 0 ends at the anchor; the epoch and the last accepted frozen_time are anchors like any other', () => {
    for (const interval of PRICE_INTERVALS) {
      assert.equal(periodEnd(1_769_860_800, interval, 1, 0), 1_769_860_800, interval);
    }
    assert.equal(iso(periodEnd(0, 'month', 1, 1)), '1970-02-01T00:00:00Z');
    // 9999-12-31T23:59:59Z + 2 months: Feb 29 of year 10000 (divisible by 400, so a leap year).
    assert.equal(periodEnd(MAX_FROZEN_TIME, 'month', 1, 2), Date.UTC(10000, 1, 29, 23, 59, 59) / 1000);
  });
});

describe('periodIndex', () => {
  test('which period ends at each boundary: the inverse of periodEnd (Jan 31 monthly, weekly, yearly from Feb 29)', () => {
    const jan31 = at('2026-01-31T12:00:00Z');
    assert.equal(periodIndex(jan31, 'month', 1, at('2026-02-28T12:00:00Z')), 1);
    assert.equal(periodIndex(jan31, 'month', 1, at('2026-03-31T12:00:00Z')), 2);
    assert.equal(periodIndex(jan31, 'month', 1, at('2026-04-30T12:00:00Z')), 3);
    assert.equal(periodIndex(jan31, 'month', 1, at('2026-05-31T12:00:00Z')), 4);
    const feb29 = at('2028-02-29T00:00:00Z');
    assert.equal(periodIndex(feb29, 'year', 1, at('2031-02-28T00:00:00Z')), 3);
    assert.equal(periodIndex(feb29, 'year', 1, at('2032-02-29T00:00:00Z')), 4);
    assert.equal(periodIndex(jan31, 'week', 2, jan31 + 6 * 7 * 86_400), 3);
  });

  test('a time between boundaries belongs to the period that ends next', () => {
    const jan31 = at('2026-01-31T12:00:00Z');
    assert.equal(periodIndex(jan31, 'month', 1, jan31 + 1), 1);
    assert.equal(periodIndex(jan31, 'month', 1, at('2026-02-28T12:00:01Z')), 2);
    assert.equal(periodIndex(jan31, 'day', 1, jan31 + 86_400 + 1), 2);
  });
});

const INTERVAL_LIMITS: Record<PriceInterval, number> = { day: 1095, week: 156, month: 36, year: 3 };

/** An anchor Oncepay can produce (a test clock's frozen_time or the wall clock), an interval and a count it accepts. */
const schedule = fc.record({
  anchor: fc.oneof(
    fc.integer({ min: 0, max: MAX_FROZEN_TIME }),
    // Month ends and Feb 29s, where clamping happens, at random times of day.
    fc.record({
      year: fc.integer({ min: 1970, max: 9999 }),
      month: fc.integer({ min: 0, max: 11 }),
      fromEnd: fc.integer({ min: 0, max: 3 }),
      second: fc.integer({ min: 0, max: 86_399 }),
    }).map(({ year, month, fromEnd, second }) => Date.UTC(year, month + 1, 0 - fromEnd) / 1000 + second),
  ),
  interval: fc.constantFrom(...PRICE_INTERVALS),
  countFraction: fc.double({ min: 0, max: 1, noNaN: true }),
}).map(({ anchor, interval, countFraction }) => ({
  anchor, interval, count: Math.max(1, Math.ceil(countFraction * INTERVAL_LIMITS[interval])),
}));

describe('periodEnd and periodIndex: properties (fast-check)', () => {
  test('periodIndex(anchor, i, c, periodEnd(anchor, i, c, n)) === n', () => {
    fc.assert(fc.property(schedule, fc.integer({ min: 1, max: 40 }), ({ anchor, interval, count }, n) => {
      assert.equal(periodIndex(anchor, interval, count, periodEnd(anchor, interval, count, n)), n);
    }), fcParams);
  });

  test('periods strictly increase, start where the previous one ended, and are whole seconds', () => {
    fc.assert(fc.property(schedule, fc.integer({ min: 0, max: 40 }), ({ anchor, interval, count }, n) => {
      const a = periodEnd(anchor, interval, count, n);
      const b = periodEnd(anchor, interval, count, n + 1);
      assert.ok(Number.isInteger(a) && Number.isInteger(b), `${a}, ${b}`);
      assert.ok(b > a, `period ${n + 1} of ${count} ${interval} from ${iso(anchor)} ends at ${iso(b)}, not after ${iso(a)}`);
    }), fcParams);
  });

  test('months never drift: period n ends on the anchor\'s day of month (or the month\'s last day), at the anchor\'s time of day, n×count months later', () => {
    fc.assert(fc.property(schedule.filter((s) => s.interval === 'month' || s.interval === 'year'), fc.integer({ min: 1, max: 40 }),
      ({ anchor, interval, count }, n) => {
        const months = n * count * (interval === 'year' ? 12 : 1);
        const a = new Date(anchor * 1000);
        const e = new Date(periodEnd(anchor, interval, count, n) * 1000);
        const monthIndex = a.getUTCFullYear() * 12 + a.getUTCMonth() + months;
        assert.equal(e.getUTCFullYear() * 12 + e.getUTCMonth(), monthIndex, 'the right month');
        const lastDay = new Date(Date.UTC(Math.floor(monthIndex / 12), (monthIndex % 12) + 1, 0)).getUTCDate();
        assert.equal(e.getUTCDate(), Math.min(a.getUTCDate(), lastDay), 'the anchor\'s day, clamped to the month');
        assert.equal(e.getTime() % 86_400_000, a.getTime() % 86_400_000, 'the anchor\'s time of day');
      }), fcParams);
  });

  test('days and weeks: period n ends exactly n × count × (1 or 7) days after the anchor', () => {
    fc.assert(fc.property(schedule.filter((s) => s.interval === 'day' || s.interval === 'week'), fc.integer({ min: 0, max: 200 }),
      ({ anchor, interval, count }, n) => {
        assert.equal(periodEnd(anchor, interval, count, n), anchor + n * count * (interval === 'week' ? 7 : 1) * 86_400);
      }), fcParams);
  });
});
