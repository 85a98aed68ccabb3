/**
 * Renewals through test clocks: advancing a clock runs the billing run of its customers at the
 * new time before answering, and every period that ended gets exactly one invoice, collected
 * exactly once, whatever the path: one jump or many steps, a replayed advance, advances refused
 * because they go backwards or overlap, several advances racing.
 *
 * Periods are anchored (Jan 31 -> Feb 28 -> Mar 31 -> Apr 30 -> May 31), as Stripe bills them;
 * the expected boundaries are computed here independently of src/billing/time.ts. Every test
 * runs in an account of its own, so invoice numbers and the acquirer's ledger (the ground truth
 * of money moved) hold that test's objects only.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type Stripe from 'stripe';
import { useTestServer, type TestServer } from '../helpers/server.ts';
import { send, assertStripeError, assertOk, type Reply } from '../helpers/stripe_errors.ts';
import { sales } from '../helpers/ledger.ts';
import { intentOf } from '../helpers/invoices.ts';
import { storedEvents } from '../helpers/events.ts';
import { at, expectedEnd, expectedPeriods, iso, type Interval } from '../helpers/periods.ts';

const { server: s } = useTestServer();

const DAY = 86_400;
interface Sub {
  id: string; status: string; latest_invoice: string | null;
  items: { data: Array<{ id: string; quantity: number; current_period_start: number; current_period_end: number }> };
}
interface Inv {
  id: string; status: string; billing_reason: string; number: string; total: number; amount_paid: number;
  amount_remaining: number; attempt_count: number; period_start: number; period_end: number;
  collection_method: string; due_date: number | null; created: number; test_clock: string | null; next_payment_attempt: number | null;
  status_transitions: { finalized_at: number | null; paid_at: number | null };
  lines: { data: Array<{ quantity: number; amount: number; period: { start: number; end: number } }> };
}

/** One test's world: its own account, a clock, a customer on it with a card, a recurring price. */
interface World {
  stripe: Stripe;
  key: string;
  accountId: string;
  clock: Stripe.TestHelpers.TestClock;
  customer: Stripe.Customer;
  price: Stripe.Price;
  ledger(reference?: string): Promise<Array<{ kind: string; amount: number; outcome: string; attempts: number; reference: string }>>;
  subscribe(params?: Record<string, unknown>): Promise<Sub>;
  advance(frozen: number, key?: string): Promise<Stripe.TestHelpers.TestClock>;
  invoices(subscription: string): Promise<Inv[]>;
  events(type: string, id?: string): Promise<any[]>;
}

async function world(o: { anchor: number; interval?: Interval; count?: number; amount?: number; pm?: string | null }): Promise<World> {
  const acct = await s.newAccount();
  const stripe = s.stripe({ key: acct.key });
  const clock = await stripe.testHelpers.testClocks.create({ frozen_time: o.anchor, name: 'billing' });
  const pm = o.pm === undefined ? 'pm_card_visa' : o.pm;
  const customer = await stripe.customers.create({
    email: 'renewals@example.com', test_clock: clock.id, ...(pm ? { invoice_settings: { default_payment_method: pm } } : {}),
  });
  const price = await stripe.prices.create({
    currency: 'usd', unit_amount: o.amount ?? 1000, product_data: { name: 'Plan' },
    recurring: { interval: o.interval ?? 'month', interval_count: o.count ?? 1 },
  });
  return {
    stripe, key: acct.key, accountId: acct.accountId, clock, customer, price,
    ledger: (reference) => s.oncepay.processor.ledger(acct.accountId, reference) as any,
    async subscribe(params = {}) {
      return (await stripe.subscriptions.create({ customer: customer.id, items: [{ price: price.id, quantity: 2 }], ...params } as Stripe.SubscriptionCreateParams)) as unknown as Sub;
    },
    async advance(frozen, key) {
      const c = await stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: frozen }, key ? { idempotencyKey: key } : undefined);
      assert.equal(c.status, 'ready');
      assert.equal(c.frozen_time, frozen);
      return c;
    },
    async invoices(subscription) {
      const all = await stripe.invoices.list({ subscription, limit: 100 }).autoPagingToArray({ limit: 1000 });
      return (all as unknown as Inv[]).reverse();
    },
    events: (type, id) => storedEvents(s, type, id ?? null, acct.accountId),
  };
}

const periodsOf = (invoices: Inv[]) => invoices.map((i) => `${iso(i.period_start)} -> ${iso(i.period_end)}`);

/**
 * The subscription's invoices are exactly one per period 0..n-1 (the create invoice, then one
 * cycle invoice per renewal), numbered consecutively, each paid once by one sale of `amount`; and
 * the account's ledger holds nothing else.
 */
async function assertBilledOncePerPeriod(w: World, sub: Sub, anchor: number, interval: Interval, count: number, periods: number, amount: number): Promise<Inv[]> {
  const invoices = await w.invoices(sub.id);
  assert.deepEqual(periodsOf(invoices), expectedPeriods(anchor, interval, count, periods), 'one invoice per period, in order');
  assert.equal(new Set(invoices.map((i) => i.period_start)).size, invoices.length, 'unique period_start');
  assert.deepEqual(invoices.map((i) => i.billing_reason), ['subscription_create', ...Array(periods - 1).fill('subscription_cycle')]);
  const numbers = invoices.map((i) => /^([A-Z0-9]+)-(\d+)$/.exec(i.number)!);
  assert.equal(new Set(numbers.map((m) => m[1])).size, 1, 'one prefix (the customer\'s)');
  assert.deepEqual(numbers.map((m) => Number(m[2])), invoices.map((_, i) => i + 1), 'numbered consecutively from 1 (the only invoices of the account)');
  for (const inv of invoices) {
    assert.equal(inv.status, 'paid', `${inv.number} ${iso(inv.period_start)}`);
    assert.equal(inv.total, amount);
    assert.equal(inv.amount_paid, amount);
    assert.equal(inv.attempt_count, 1, `${inv.number}: paid at the first attempt`);
    assert.equal(inv.created, inv.period_start, 'an invoice is created when its period starts');
    assert.deepEqual(inv.lines.data.map((l) => l.period), [{ start: inv.period_start, end: inv.period_end }]);
    const entries = await w.ledger((await intentOf(w.stripe, inv.id))!);
    assert.deepEqual(entries.map((e) => `${e.kind}:${e.amount}:${e.outcome}`), [`sale:${amount}:approved`], `${inv.number}: one sale`);
  }
  const all = await w.ledger();
  assert.equal(all.length, periods, `the account's ledger: exactly one operation per invoice, got ${JSON.stringify(all)}`);
  assert.deepEqual(new Set(all.map((e) => e.reference)), new Set(await Promise.all(invoices.map((i) => intentOf(w.stripe, i.id)))));
  assert.equal((await w.events('invoice.created')).length, periods, 'one invoice.created per period');
  assert.equal((await w.events('invoice.paid')).length, periods, 'one invoice.paid per period');
  const current = (await w.stripe.subscriptions.retrieve(sub.id)) as unknown as Sub;
  assert.equal(current.items.data[0].current_period_start, expectedEnd(anchor, interval, count, periods - 1));
  assert.equal(current.items.data[0].current_period_end, expectedEnd(anchor, interval, count, periods));
  assert.equal(current.latest_invoice, invoices.at(-1)!.id);
  return invoices;
}

const JAN31 = at('2026-01-31T12:00:00Z');

describe('renewals', () => {
  test('monthly from Jan 31, advanced 4 months at once: invoices for the periods starting Feb 28, Mar 31, Apr 30, May 31; one each, numbered in order, each paid once', async () => {
    const w = await world({ anchor: JAN31 });
    const sub = await w.subscribe();
    assert.equal(sub.status, 'active');
    assert.equal(sub.items.data[0].current_period_end, at('2026-02-28T12:00:00Z'));
    await w.advance(at('2026-05-31T12:00:00Z'));
    const invoices = await assertBilledOncePerPeriod(w, sub, JAN31, 'month', 1, 5, 2000);
    assert.deepEqual(invoices.slice(1).map((i) => iso(i.period_start)), ['2026-02-28T12:00:00Z', '2026-03-31T12:00:00Z', '2026-04-30T12:00:00Z', '2026-05-31T12:00:00Z']);
    assert.deepEqual(invoices.slice(1).map((i) => iso(i.period_end)), ['2026-03-31T12:00:00Z', '2026-04-30T12:00:00Z', '2026-05-31T12:00:00Z', '2026-06-30T12:00:00Z']);
    assert.equal(((await w.stripe.subscriptions.retrieve(sub.id)) as unknown as Sub).status, 'active');
    assert.equal((await w.events('test_helpers.test_clock.ready', w.clock.id)).length, 1);
    assert.equal((await w.events('test_helpers.test_clock.advancing', w.clock.id)).length, 1);
  });

  test('the same schedule advanced step by step (boundaries, between them, a second before them) bills the same periods', async () => {
    const w = await world({ anchor: JAN31 });
    const sub = await w.subscribe();
    const steps = ['2026-02-10T00:00:00Z', '2026-02-28T11:59:59Z', '2026-02-28T12:00:00Z', '2026-03-15T00:00:00Z', '2026-03-31T12:00:00Z',
      '2026-04-30T11:00:00Z', '2026-04-30T13:00:00Z', '2026-05-31T12:00:00Z', '2026-06-01T00:00:00Z'];
    const seen: number[] = [];
    for (const step of steps) {
      await w.advance(at(step));
      seen.push((await w.invoices(sub.id)).length);
    }
    assert.deepEqual(seen, [1, 1, 2, 2, 3, 3, 4, 5, 5], 'a renewal exactly when each period ends, not a second before');
    await assertBilledOncePerPeriod(w, sub, JAN31, 'month', 1, 5, 2000);
  });

  const variants: Array<{ label: string; anchor: number; interval: Interval; count: number; to: number; periods: number; starts?: string[] }> = [
    { label: 'daily', anchor: at('2026-03-27T01:30:00Z'), interval: 'day', count: 1, to: at('2026-04-01T01:30:00Z'), periods: 6 },
    { label: 'every 7 days', anchor: at('2026-03-27T01:30:00Z'), interval: 'day', count: 7, to: at('2026-04-24T02:00:00Z'), periods: 5 },
    { label: 'weekly', anchor: at('2026-12-24T18:00:00Z'), interval: 'week', count: 1, to: at('2027-01-21T18:00:00Z'), periods: 5 },
    { label: 'every 2 weeks', anchor: at('2026-12-24T18:00:00Z'), interval: 'week', count: 2, to: at('2027-02-04T17:59:59Z'), periods: 3 },
    {
      label: 'yearly from Feb 29', anchor: at('2028-02-29T06:00:00Z'), interval: 'year', count: 1, to: at('2032-02-29T06:00:00Z'), periods: 5,
      starts: ['2029-02-28T06:00:00Z', '2030-02-28T06:00:00Z', '2031-02-28T06:00:00Z', '2032-02-29T06:00:00Z'],
    },
    {
      label: 'every 3 months from Jan 31', anchor: JAN31, interval: 'month', count: 3, to: at('2027-01-31T12:00:00Z'), periods: 5,
      starts: ['2026-04-30T12:00:00Z', '2026-07-31T12:00:00Z', '2026-10-31T12:00:00Z', '2027-01-31T12:00:00Z'],
    },
    {
      label: 'monthly from Jan 31 of a leap year', anchor: at('2028-01-31T00:00:00Z'), interval: 'month', count: 1, to: at('2028-04-30T00:00:00Z'), periods: 4,
      starts: ['2028-02-29T00:00:00Z', '2028-03-31T00:00:00Z', '2028-04-30T00:00:00Z'],
    },
  ];
  for (const v of variants) {
    test(`${v.label}: ${v.periods - 1} renewals in one advance, one invoice per period, each paid once`, async () => {
      const w = await world({ anchor: v.anchor, interval: v.interval, count: v.count, amount: 700 });
      const sub = await w.subscribe();
      await w.advance(v.to);
      const invoices = await assertBilledOncePerPeriod(w, sub, v.anchor, v.interval, v.count, v.periods, 1400);
      if (v.starts) assert.deepEqual(invoices.slice(1).map((i) => iso(i.period_start)), v.starts);
    });
  }

  test('several subscriptions of several customers on one clock: each billed once per period, numbers gapless across the account', async () => {
    const w = await world({ anchor: JAN31, amount: 500 });
    const other = await w.stripe.customers.create({ test_clock: w.clock.id, invoice_settings: { default_payment_method: 'pm_card_mastercard' } });
    const subs = [
      await w.subscribe(),
      await w.subscribe({ items: [{ price: w.price.id, quantity: 1 }] }),
      (await w.stripe.subscriptions.create({ customer: other.id, items: [{ price: w.price.id, quantity: 3 }] })) as unknown as Sub,
    ];
    await w.advance(at('2026-04-30T12:00:00Z'));
    const all: Inv[] = [];
    for (const [i, sub] of subs.entries()) {
      const invoices = await w.invoices(sub.id);
      assert.deepEqual(periodsOf(invoices), expectedPeriods(JAN31, 'month', 1, 4), `subscription ${i}`);
      for (const inv of invoices) {
        assert.equal(inv.status, 'paid');
        assert.equal(inv.total, [1000, 500, 1500][i]);
        assert.deepEqual((await w.ledger((await intentOf(w.stripe, inv.id))!)).map((e) => `${e.kind}:${e.amount}`), [`sale:${inv.total}`]);
      }
      all.push(...invoices);
    }
    assert.equal((await w.ledger()).length, 12);
    const seqs = all.map((i) => Number(i.number.split('-')[1])).sort((a, b) => a - b);
    assert.deepEqual(seqs, Array.from({ length: 12 }, (_, i) => i + 1), 'the account\'s numbers 1..12, no gap, no duplicate');
  });
});

describe('failed renewals', () => {
  test('a declining card: past_due with invoice.payment_failed; a second failed period stays past_due; paying both (oldest first) makes it active again', async () => {
    const w = await world({ anchor: JAN31, amount: 900 });
    const sub = await w.subscribe();
    await w.stripe.customers.update(w.customer.id, { invoice_settings: { default_payment_method: 'pm_card_visa_chargeDeclined' } });
    await w.advance(at('2026-02-28T12:00:00Z'));
    let current = (await w.stripe.subscriptions.retrieve(sub.id)) as unknown as Sub;
    assert.equal(current.status, 'past_due');
    let invoices = await w.invoices(sub.id);
    assert.equal(invoices.length, 2);
    const failed = invoices[1];
    assert.deepEqual([failed.status, failed.attempt_count, failed.amount_paid, failed.next_payment_attempt], ['open', 1, 0, null]);
    assert.equal((await w.events('invoice.payment_failed', failed.id)).length, 1);
    const updates = await w.events('customer.subscription.updated', sub.id);
    assert.deepEqual(updates.map((e) => [e.data.object.status, e.data.previous_attributes?.status ?? null]).filter(([, prev]) => prev !== null).at(-1), ['past_due', 'active']);
    assert.deepEqual((await w.ledger((await intentOf(w.stripe, failed.id))!)).map((e) => `${e.kind}:${e.outcome}`), ['authorization:declined']);

    // Advancing again does not retry the failed invoice (no smart retries), and bills the next period.
    await w.advance(at('2026-03-31T12:00:00Z'));
    invoices = await w.invoices(sub.id);
    assert.equal(invoices.length, 3);
    assert.equal(invoices[1].attempt_count, 1, 'the failed invoice is not retried by itself');
    assert.deepEqual([invoices[2].status, invoices[2].attempt_count], ['open', 1]);
    assert.equal(((await w.stripe.subscriptions.retrieve(sub.id)) as unknown as Sub).status, 'past_due');

    const paidOld = (await w.stripe.invoices.pay(invoices[1].id, { payment_method: 'pm_card_visa' })) as unknown as Inv;
    assert.equal(paidOld.status, 'paid');
    assert.equal(((await w.stripe.subscriptions.retrieve(sub.id)) as unknown as Sub).status, 'past_due', 'another invoice is still open');
    await w.stripe.customers.update(w.customer.id, { invoice_settings: { default_payment_method: 'pm_card_visa' } });
    const paidNew = (await w.stripe.invoices.pay(invoices[2].id)) as unknown as Inv;
    assert.equal(paidNew.status, 'paid');
    current = (await w.stripe.subscriptions.retrieve(sub.id)) as unknown as Sub;
    assert.equal(current.status, 'active');
    const moves = (await w.events('customer.subscription.updated', sub.id))
      .filter((e) => e.data.previous_attributes?.status).map((e) => `${e.data.previous_attributes.status}->${e.data.object.status}`);
    assert.deepEqual(moves, ['incomplete->active', 'active->past_due', 'past_due->active']);

    // Healthy again: the next period is charged automatically.
    await w.advance(at('2026-04-30T12:00:00Z'));
    invoices = await w.invoices(sub.id);
    assert.deepEqual(invoices.map((i) => i.status), ['paid', 'paid', 'paid', 'paid']);
    const sold = sales(await w.ledger());
    assert.deepEqual(sold.map((e) => e.amount), [1800, 1800, 1800, 1800], 'one sale per invoice');
    assert.equal(new Set(sold.map((e) => e.reference)).size, 4);
  });
});

describe('advances that repeat, go backwards or overlap', () => {
  const advanceRaw = (w: World, frozen: number, key: string): Promise<Reply> =>
    send({ url: s.url, key: w.key } as TestServer, 'POST', `/v1/test_helpers/test_clocks/${w.clock.id}/advance`,
      { body: `frozen_time=${frozen}`, headers: { 'Idempotency-Key': key }, timeoutMs: 60_000 });

  test('the same advance retried with its Idempotency-Key replays; advancing to the same or an earlier time is 400 naming frozen_time; still one invoice per period', async () => {
    const w = await world({ anchor: JAN31 });
    const sub = await w.subscribe();
    const key = `advance-${Date.now()}`;
    const first = await advanceRaw(w, at('2026-04-30T12:00:00Z'), key);
    const clock = assertOk(first);
    assert.equal(clock.status, 'ready');
    const replay = await advanceRaw(w, at('2026-04-30T12:00:00Z'), key);
    assert.equal(replay.status, 200);
    assert.equal(replay.text, first.text);
    assert.equal(replay.headers.get('idempotent-replayed'), 'true');
    const mismatch = await advanceRaw(w, at('2026-05-31T12:00:00Z'), key);
    assertStripeError(mismatch, { status: 400, type: 'idempotency_error' });

    for (const [when, label] of [[at('2026-04-30T12:00:00Z'), 'same time'], [at('2026-03-01T00:00:00Z'), 'earlier'], [JAN31, 'the start']] as const) {
      const r = await advanceRaw(w, when, `${key}-${label}`);
      assertStripeError(r, { status: 400, param: 'frozen_time' });
      assert.match(r.json.error.message, /frozen_time/);
    }
    assert.equal((await w.stripe.testHelpers.testClocks.retrieve(w.clock.id)).frozen_time, at('2026-04-30T12:00:00Z'));
    await assertBilledOncePerPeriod(w, sub, JAN31, 'month', 1, 4, 2000);
    assert.equal((await w.events('test_helpers.test_clock.advancing', w.clock.id)).length, 1, 'only one advance ran');
  });

  test('concurrent advances of one clock with different keys: one runs at a time (the others 400 "already advancing" or, after it, 400 frozen_time or run); one invoice per period', async (t) => {
    const w = await world({ anchor: JAN31, amount: 400 });
    const sub = await w.subscribe();
    const targets = ['2026-02-28T13:00:00Z', '2026-03-31T13:00:00Z', '2026-04-30T13:00:00Z', '2026-05-31T13:00:00Z', '2026-05-31T13:00:00Z', '2026-03-31T13:00:00Z'].map(at);
    const results = await Promise.all(targets.map((t, i) => advanceRaw(w, t, `race-${Date.now()}-${i}`)));
    let ran = 0;
    for (const [i, r] of results.entries()) {
      if (r.status === 200) {
        ran++;
        assert.equal(r.json.status, 'ready');
        assert.equal(r.json.frozen_time, targets[i]);
      } else {
        const err = assertStripeError(r, { status: 400 });
        assert.ok(err.code === 'test_clock_unexpected_state' || err.param === 'frozen_time', `advance ${i}: ${r.text}`);
        if (err.code === 'test_clock_unexpected_state') assert.match(err.message, /already advancing/);
      }
    }
    t.diagnostic(`outcomes: ${results.map((r) => (r.status === 200 ? 'ran' : r.json?.error?.code ?? r.json?.error?.param)).join(', ')}`);
    assert.ok(ran >= 1, 'at least one advance ran');
    const clock = await w.stripe.testHelpers.testClocks.retrieve(w.clock.id);
    assert.equal(clock.status, 'ready');
    const reached = clock.frozen_time;
    assert.equal(reached, Math.max(...targets.filter((_, i) => results[i].status === 200)), 'the clock is where the latest successful advance put it');
    let periods = 1;
    while (expectedEnd(JAN31, 'month', 1, periods) <= reached) periods++;
    await assertBilledOncePerPeriod(w, sub, JAN31, 'month', 1, periods, 800);
    assert.equal((await w.events('test_helpers.test_clock.advancing', w.clock.id)).length, ran);

    // Two at once to the same time: exactly one runs.
    const to = at('2026-07-31T12:00:00Z');
    const pair = await Promise.all([advanceRaw(w, to, `pair-a-${Date.now()}`), advanceRaw(w, to, `pair-b-${Date.now()}`)]);
    assert.deepEqual(pair.map((r) => r.status).sort(), [200, 400], pair.map((r) => r.text.slice(0, 200)).join('\n'));
    await assertBilledOncePerPeriod(w, sub, JAN31, 'month', 1, 7, 800);
  });
});

describe('send_invoice subscriptions', () => {
  test('invoices get a due date (period start + days_until_due), are never charged, and get their reminders once; paying out of band moves no money', async () => {
    const anchor = at('2026-03-10T09:00:00Z');
    const w = await world({ anchor, amount: 2500, pm: null });
    const sub = await w.subscribe({ collection_method: 'send_invoice', days_until_due: 14, items: [{ price: w.price.id }] });
    assert.equal(sub.status, 'active', 'a sent invoice is not waited for');
    await w.advance(at('2026-05-10T09:00:00Z'));
    const invoices = await w.invoices(sub.id);
    assert.deepEqual(periodsOf(invoices), expectedPeriods(anchor, 'month', 1, 3));
    for (const inv of invoices) {
      assert.equal(inv.collection_method, 'send_invoice');
      assert.equal(inv.status, 'open');
      assert.equal(inv.due_date, inv.period_start + 14 * DAY);
      assert.equal(inv.attempt_count, 0);
      assert.equal((await intentOf(w.stripe, inv.id)), null);
      assert.equal(inv.next_payment_attempt, null);
      assert.equal(inv.total, 2500);
    }
    assert.deepEqual(await w.ledger(), [], 'nothing charged');
    assert.equal(((await w.stripe.subscriptions.retrieve(sub.id)) as unknown as Sub).status, 'active');

    // Reminders (default offsets -3d, +1d, +7d from the due date) of the first invoice: all three passed, each recorded once.
    const messages = async (id: string) => {
      const r = assertOk(await send({ url: s.url, key: w.key } as TestServer, 'GET', `/v1/invoices/${id}/messages?limit=100`));
      return (r.data as Array<{ type: string; reminder_offset: number | null }>).filter((m) => m.type === 'reminder').map((m) => m.reminder_offset).sort((a, b) => a! - b!);
    };
    assert.deepEqual(await messages(invoices[0].id), [-3 * DAY, DAY, 7 * DAY]);
    await w.advance(at('2026-05-20T09:00:00Z'));
    assert.deepEqual(await messages(invoices[0].id), [-3 * DAY, DAY, 7 * DAY], 'not sent twice');
    assert.equal((await w.events('invoice.reminder', invoices[0].id)).length, 3);

    const paid = (await w.stripe.invoices.pay(invoices[0].id, { paid_out_of_band: true })) as unknown as Inv;
    assert.equal(paid.status, 'paid');
    assert.deepEqual(await w.ledger(), []);
    assert.equal((await w.invoices(sub.id)).length, 3);
  });
});

describe('timing', () => {
  test('an advance over many periods answers with the clock ready (the billing run happens before the answer)', async () => {
    const w = await world({ anchor: at('2026-01-01T00:00:00Z'), interval: 'day', amount: 100 });
    const sub = await w.subscribe({ items: [{ price: w.price.id }] });
    const started = Date.now();
    await w.advance(at('2026-02-01T00:00:00Z'));
    const invoices = await w.invoices(sub.id);
    assert.equal(invoices.length, 32);
    assert.ok(invoices.every((i) => i.status === 'paid'));
    assert.equal((await w.ledger()).length, 32);
    assert.ok(Date.now() - started < 120_000);
  });
});
