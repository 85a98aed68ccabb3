/**
 * Test clocks (commands), as Stripe's /v1/test_helpers/test_clocks: create and delete. Advancing
 * a clock lives with the billing commands (src/billing/commands.ts).
 *
 * Deleting a clock deletes the customers attached to it and cancels their subscriptions, at the
 * clock's frozen time, in the same phase. The clock row is locked first: a customer being
 * created on the clock at the same moment (src/payments/customers.ts locks it too) either
 * commits before the deletion, and is deleted with the others, or sees the clock deleted.
 */
import type { Command } from '../idempotency/engine.ts';
import type { Queryable, Tx } from '../store/db.ts';
import { invalidRequest, resourceMissing } from '../errors.ts';
import { newId, nowSeconds } from '../ids.ts';
import { clearable, expandParam, integer, nonEmptyString, object, optional, string, type ParsedObject } from '../schema/params.ts';
import { emitEvent, type EventSource } from '../events/outbox.ts';
import { customers, type Customer } from '../payments/payment_objects.ts';
import { testClocks, type TestClock } from './billing_objects.ts';
import { cancelSubscriptionsOf } from './subscription_status.ts';
import { claimExternalId, existingObject, payloadFingerprint } from '../payments/external_ids.ts';

/** How long a clock lives before Stripe deletes it by itself (deletes_after = created + this). */
export const TEST_CLOCK_LIFETIME_SECONDS = 30 * 24 * 3600;
/** The latest frozen_time accepted: the last second of year 9999. */
export const MAX_FROZEN_TIME = 253_402_300_799;

export const createTestClockParams = object({
  frozen_time: integer({ min: 0, max: MAX_FROZEN_TIME }),
  name: clearable(string({ max: 300 })),
  /** An existing customer to attach (it then lives at the clock's time); it must be on no clock and have no live subscription. */
  customer: optional(nonEmptyString(255)),
  external_id: optional(nonEmptyString(255)),
  expand: expandParam(),
});

export const deleteTestClockParams = object({ test_clock: nonEmptyString(255) });

type Stored = TestClock & { deleted?: boolean };

/** A test clock that exists and is not deleted, or Stripe's resource_missing (404, or 400 naming `param`). */
export async function liveTestClock(q: Queryable, accountId: string, id: string, opts: { param?: string; forUpdate?: boolean } = {}): Promise<TestClock> {
  const c: Stored | undefined = await testClocks.find(q, accountId, id, opts);
  if (!c || c.deleted) throw resourceMissing('test_clock', id, opts.param ?? 'id');
  return c;
}

/** `customer` on creation: the customer moves onto the new clock (emits customer.updated). */
async function attachCustomer(q: Tx, source: EventSource, id: string, clock: string): Promise<void> {
  const c: (Customer & { deleted?: boolean }) | undefined = await customers.find(q, source.accountId, id, { forUpdate: true });
  if (!c || c.deleted) throw resourceMissing('customer', id, 'customer');
  if (c.test_clock) throw invalidRequest(`Customer ${id} is already attached to test clock ${c.test_clock}: a customer can be on one clock only.`, 'customer');
  const { rows } = await q.query(`SELECT 1 FROM subscriptions WHERE account_id = $1 AND customer = $2 AND status NOT IN ('canceled', 'incomplete_expired') LIMIT 1`, [source.accountId, id]);
  if (rows.length > 0) throw invalidRequest(`Customer ${id} has live subscriptions billed on the wall clock: only a customer without them can move onto a test clock.`, 'customer');
  customers.update(q, source.accountId, { ...c, test_clock: clock });
  emitEvent(q, source, 'customer.updated', { ...c, test_clock: clock }, { test_clock: null });
}

export const createTestClock: Command<ParsedObject<typeof createTestClockParams.shape>> = {
  name: 'test_clocks.create',
  run: (ctx, p) => ctx.finish('create', async (q) => {
    const id = newId('clock');
    if (p.external_id) {
      const existing = await claimExternalId(q, ctx.accountId, 'test_clock', p.external_id, id, payloadFingerprint(p), ctx.idempotencyKey);
      if (existing) return { status: 200, body: await existingObject(q, ctx.accountId, testClocks, existing, p.external_id) };
    }
    const now = nowSeconds();
    const clock: TestClock = {
      id, object: 'test_helpers.test_clock', created: now, deletes_after: now + TEST_CLOCK_LIFETIME_SECONDS, external_id: p.external_id ?? null,
      frozen_time: p.frozen_time, livemode: false, name: p.name ?? null, status: 'ready', status_details: {},
    };
    testClocks.insert(q, ctx.accountId, clock);
    emitEvent(q, ctx, 'test_helpers.test_clock.created', clock);
    if (p.customer) await attachCustomer(q, ctx, p.customer, clock.id);
    return { status: 200, body: clock };
  }),
};

export const deleteTestClock: Command<ParsedObject<typeof deleteTestClockParams.shape>> = {
  name: 'test_clocks.delete',
  run: (ctx, p) => ctx.finish('delete', async (q) => {
    const clock = await liveTestClock(q, ctx.accountId, p.test_clock, { forUpdate: true });
    // Lock order: the clock, its customers, their subscriptions.
    const attached = (await q.query<{ data: Customer }>(
      `SELECT data FROM customers WHERE account_id = $1 AND test_clock = $2 AND NOT deleted ORDER BY seq FOR UPDATE`,
      [ctx.accountId, clock.id])).rows.map((r) => r.data);
    await cancelSubscriptionsOf(q, ctx, attached.map((c) => c.id), clock.frozen_time);
    for (const c of attached) {
      customers.update(q, ctx.accountId, { ...c, deleted: true });
      emitEvent(q, ctx, 'customer.deleted', c);
    }
    testClocks.update(q, ctx.accountId, { ...clock, deleted: true });
    emitEvent(q, ctx, 'test_helpers.test_clock.deleted', clock);
    return { status: 200, body: { id: clock.id, object: 'test_helpers.test_clock', deleted: true } };
  }),
};
