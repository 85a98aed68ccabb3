/**
 * Test clocks through the official stripe client (stripe.testHelpers.testClocks): create,
 * retrieve, list, delete; customers created on a clock; deleting a clock deletes its customers
 * and cancels their subscriptions at the clock's frozen time; idempotent replays; bad input.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type Stripe from 'stripe';
import { useTestServer } from '../helpers/server.ts';
import { send, assertStripeError, assertOk, stripeError, type SendOptions } from '../helpers/stripe_errors.ts';
import { storedEvents } from '../helpers/events.ts';
import { subscriptions, type Subscription } from '../../src/billing/billing_objects.ts';
import { buildSubscription, newItem } from '../../src/billing/subscription_build.ts';

const { server: s, stripe } = useTestServer();

const post = (path: string, body: string, opts: SendOptions = {}) => send(s, 'POST', path, { body, ...opts });
const get = (path: string) => send(s, 'GET', path);
const del = (path: string, opts: SendOptions = {}) => send(s, 'DELETE', path, opts);

const DAY = 24 * 3600;
const FROZEN = 1_767_225_600; // 2026-01-01T00:00:00Z

describe('test clocks', () => {
  test('create, retrieve, list, delete: the object as Stripe renders it', async () => {
    const clock = await stripe.testHelpers.testClocks.create({ frozen_time: FROZEN, name: 'Annual renewal' });
    assert.match(clock.id, /^clock_[A-Za-z0-9]+$/);
    assert.deepEqual({ ...clock }, {
      id: clock.id, object: 'test_helpers.test_clock', created: clock.created, deletes_after: clock.created + 30 * DAY, external_id: null,
      frozen_time: FROZEN, livemode: false, name: 'Annual renewal', status: 'ready', status_details: {},
    });
    assert.ok(Math.abs(clock.created - Date.now() / 1000) < 60);
    assert.deepEqual(await stripe.testHelpers.testClocks.retrieve(clock.id), clock);
    const unnamed = await stripe.testHelpers.testClocks.create({ frozen_time: 0 });
    assert.equal(unnamed.name, null);
    assert.equal(unnamed.frozen_time, 0);

    const [created] = await storedEvents(s, 'test_helpers.test_clock.created', clock.id);
    assert.deepEqual(created.data.object, { ...clock });
    const listed = await stripe.testHelpers.testClocks.list({ limit: 2 });
    assert.deepEqual(listed.data.map((c) => c.id), [unnamed.id, clock.id]);
    assert.equal(listed.url, '/v1/test_helpers/test_clocks');

    const gone = await stripe.testHelpers.testClocks.del(clock.id);
    assert.deepEqual({ ...gone }, { id: clock.id, object: 'test_helpers.test_clock', deleted: true });
    const missing = await stripeError(stripe.testHelpers.testClocks.retrieve(clock.id));
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.code, 'resource_missing');
    assert.equal((await stripeError(stripe.testHelpers.testClocks.del(clock.id))).statusCode, 404);
    assert.deepEqual((await stripe.testHelpers.testClocks.list({ limit: 10 })).data.map((c) => c.id).filter((id) => id === clock.id), []);
    const [deleted] = await storedEvents(s, 'test_helpers.test_clock.deleted', clock.id);
    assert.equal(deleted.data.object.name, 'Annual renewal');
  });

  test('list: newest first, pagination both ways and auto-pagination, deleted clocks left out', async () => {
    const made: Stripe.TestHelpers.TestClock[] = [];
    for (let i = 0; i < 5; i++) made.push(await stripe.testHelpers.testClocks.create({ frozen_time: FROZEN + i, name: `page-${i}` }));
    const ids = made.map((c) => c.id);
    await stripe.testHelpers.testClocks.del(ids[2]);
    const first = await stripe.testHelpers.testClocks.list({ limit: 2 });
    assert.deepEqual(first.data.map((c) => c.id), [ids[4], ids[3]]);
    assert.equal(first.has_more, true);
    const next = await stripe.testHelpers.testClocks.list({ limit: 2, starting_after: ids[3] });
    assert.deepEqual(next.data.map((c) => c.id), [ids[1], ids[0]]);
    const back = await stripe.testHelpers.testClocks.list({ limit: 1, ending_before: ids[1] });
    assert.deepEqual(back.data.map((c) => c.id), [ids[3]]);
    const all = await stripe.testHelpers.testClocks.list({ limit: 1 }).autoPagingToArray({ limit: 100 });
    assert.deepEqual(all.slice(0, 4).map((c) => c.id), [ids[4], ids[3], ids[1], ids[0]]);
    assertStripeError(await get('/v1/test_helpers/test_clocks?limit=101'), { status: 400, param: 'limit' });
    assertStripeError(await get('/v1/test_helpers/test_clocks?starting_after=clock_nope'), { status: 400, code: 'resource_missing', param: 'starting_after' });
    assertStripeError(await get('/v1/test_helpers/test_clocks?expand[]=data.customer'), { status: 400, param: 'expand' });
  });

  test('bad input: frozen_time missing or not an integer, name too long, unknown parameters; nothing created', async () => {
    const before = (await stripe.testHelpers.testClocks.list({ limit: 1 })).data[0]?.id;
    const cases: [string, string, string?][] = [
      ['', 'frozen_time', 'parameter_missing'],
      ['name=x', 'frozen_time', 'parameter_missing'],
      ['frozen_time=', 'frozen_time', 'parameter_invalid_integer'],
      ['frozen_time=abc', 'frozen_time', 'parameter_invalid_integer'],
      ['frozen_time=1.5', 'frozen_time', 'parameter_invalid_integer'],
      ['frozen_time=-1', 'frozen_time', 'parameter_invalid_integer'],
      ['frozen_time=99999999999999', 'frozen_time', 'parameter_invalid_integer'],
      ['frozen_time[a]=1', 'frozen_time', 'parameter_invalid_integer'],
      [`frozen_time=${FROZEN}&name=${'n'.repeat(301)}`, 'name', 'parameter_invalid_string'],
      [`frozen_time=${FROZEN}&status=ready`, 'status', 'parameter_unknown'],
      [`frozen_time=${FROZEN}&expand[]=customer`, 'expand'],
    ];
    for (const [body, param, code] of cases) {
      assertStripeError(await post('/v1/test_helpers/test_clocks', body), { status: 400, param, ...(code ? { code } : {}) });
    }
    assertStripeError(await send(s, 'POST', '/v1/test_helpers/test_clocks', { body: JSON.stringify({ frozen_time: 'soon' }), contentType: 'application/json' }),
      { status: 400, param: 'frozen_time', code: 'parameter_invalid_integer' });
    assert.equal((await stripe.testHelpers.testClocks.list({ limit: 1 })).data[0]?.id, before, 'nothing was created');
    assertStripeError(await get('/v1/test_helpers/test_clocks/clock_missing'), { status: 404, code: 'resource_missing' });
    assertStripeError(await del('/v1/test_helpers/test_clocks/clock_missing'), { status: 404, code: 'resource_missing' });
    const clock = await stripe.testHelpers.testClocks.create({ frozen_time: FROZEN });
    assertStripeError(await get(`/v1/test_helpers/test_clocks/${clock.id}?expand[]=customer`), { status: 400, param: 'expand' });
  });

  test('create and delete replay under one Idempotency-Key: same response, one event', async () => {
    const key = `clock-${Date.now()}`;
    const a = await post('/v1/test_helpers/test_clocks', `frozen_time=${FROZEN}&name=once`, { headers: { 'Idempotency-Key': key } });
    const b = await post('/v1/test_helpers/test_clocks', `frozen_time=${FROZEN}&name=once`, { headers: { 'Idempotency-Key': key } });
    const clock = assertOk(a);
    assert.equal(b.text, a.text);
    assert.equal(b.headers.get('idempotent-replayed'), 'true');
    assert.equal((await storedEvents(s, 'test_helpers.test_clock.created', clock.id)).length, 1);
    const other = await stripeError(stripe.testHelpers.testClocks.create({ frozen_time: FROZEN + 1, name: 'once' }, { idempotencyKey: key }));
    assert.equal(other.type, 'StripeIdempotencyError');

    const c1 = await del(`/v1/test_helpers/test_clocks/${clock.id}`, { headers: { 'Idempotency-Key': `${key}-del` } });
    const c2 = await del(`/v1/test_helpers/test_clocks/${clock.id}`, { headers: { 'Idempotency-Key': `${key}-del` } });
    assertOk(c1);
    assert.equal(c2.text, c1.text);
    assert.equal(c2.headers.get('idempotent-replayed'), 'true');
    assert.equal((await storedEvents(s, 'test_helpers.test_clock.deleted', clock.id)).length, 1);
  });
});

describe('customers on a test clock', () => {
  test('test_clock at creation: the customer follows the clock (created at its frozen time); only a live clock, only at creation', async () => {
    const clock = await stripe.testHelpers.testClocks.create({ frozen_time: FROZEN });
    const c = await stripe.customers.create({ email: 'clocked@example.com', test_clock: clock.id });
    assert.equal(c.test_clock, clock.id);
    assert.equal(c.created, FROZEN);
    assert.equal(((await stripe.customers.retrieve(c.id)) as Stripe.Customer).test_clock, clock.id);
    assert.equal((await stripe.customers.create({ name: 'plain' })).test_clock, null);

    const unknown = await stripeError(stripe.customers.create({ test_clock: 'clock_nope' }));
    assert.equal(unknown.statusCode, 400);
    assert.equal(unknown.code, 'resource_missing');
    assert.equal(unknown.param, 'test_clock');
    assertStripeError(await post('/v1/customers', 'test_clock='), { status: 400, param: 'test_clock', code: 'parameter_invalid_empty' });
    assertStripeError(await post('/v1/customers', 'test_clock[x]=1'), { status: 400, param: 'test_clock', code: 'parameter_invalid_string' });
    assertStripeError(await post(`/v1/customers/${c.id}`, `test_clock=${clock.id}`), { status: 400, param: 'test_clock', code: 'parameter_unknown' });

    const other = await s.newAccount();
    const foreign = await stripeError(s.stripe({ key: other.key }).customers.create({ test_clock: clock.id }));
    assert.equal(foreign.code, 'resource_missing', 'another account\'s clock does not exist for this one');

    await stripe.testHelpers.testClocks.del(clock.id);
    const deleted = await stripeError(stripe.customers.create({ test_clock: clock.id }));
    assert.equal(deleted.statusCode, 400);
    assert.equal(deleted.code, 'resource_missing');
    assert.equal(deleted.param, 'test_clock');
  });

  test('deleting a clock deletes its customers (customer.deleted) and cancels their subscriptions at the frozen time; others are untouched', async () => {
    const clock = await stripe.testHelpers.testClocks.create({ frozen_time: FROZEN });
    const otherClock = await stripe.testHelpers.testClocks.create({ frozen_time: FROZEN });
    const a = await stripe.customers.create({ name: 'A', test_clock: clock.id });
    const b = await stripe.customers.create({ name: 'B', test_clock: clock.id });
    const already = await stripe.customers.create({ name: 'gone', test_clock: clock.id });
    await stripe.customers.del(already.id);
    const elsewhere = await stripe.customers.create({ name: 'C', test_clock: otherClock.id });
    const plain = await stripe.customers.create({ name: 'D' });

    const price = assertOk(await post('/v1/prices', 'product_data[name]=Plan&currency=usd&unit_amount=1000&recurring[interval]=month'));
    const subA = await insertSubscription(a.id, clock.id, price, 'active');
    const subAOld = await insertSubscription(a.id, clock.id, price, 'canceled');
    const subB = await insertSubscription(b.id, clock.id, price, 'past_due');
    const subC = await insertSubscription(elsewhere.id, otherClock.id, price, 'active');

    const res = await stripe.testHelpers.testClocks.del(clock.id);
    assert.equal(res.deleted, true);

    for (const id of [a.id, b.id]) {
      assert.equal(((await stripe.customers.retrieve(id)) as Stripe.DeletedCustomer).deleted, true);
      assert.equal((await storedEvents(s, 'customer.deleted', id)).length, 1);
    }
    assert.equal((await storedEvents(s, 'customer.deleted', already.id)).length, 1, 'a customer deleted before is not deleted again');
    for (const id of [elsewhere.id, plain.id]) {
      assert.equal(((await stripe.customers.retrieve(id)) as Stripe.DeletedCustomer).deleted, undefined);
    }
    const listed = (await stripe.customers.list({ limit: 100 })).data.map((c) => c.id);
    assert.ok(!listed.includes(a.id) && !listed.includes(b.id) && listed.includes(elsewhere.id));

    for (const sub of [subA, subB]) {
      const stored = await readSubscription(sub.id);
      assert.deepEqual({ status: stored.status, canceled_at: stored.canceled_at, ended_at: stored.ended_at }, { status: 'canceled', canceled_at: FROZEN, ended_at: FROZEN });
      const events = await storedEvents(s, 'customer.subscription.deleted', sub.id);
      assert.equal(events.length, 1);
      assert.equal(events[0].data.object.status, 'canceled');
    }
    assert.deepEqual(await readSubscription(subAOld.id), subAOld, 'an already canceled subscription is left alone');
    assert.equal((await storedEvents(s, 'customer.subscription.deleted', subAOld.id)).length, 0);
    assert.deepEqual(await readSubscription(subC.id), subC, 'another clock\'s subscription is untouched');

    // Event order: subscriptions, then customers, then the clock.
    const { rows } = await s.oncepay.db.query<{ type: string }>(
      `SELECT type FROM events WHERE account_id = $1 AND data->'request'->>'id' = (
         SELECT data->'request'->>'id' FROM events WHERE account_id = $1 AND type = 'test_helpers.test_clock.deleted' AND data->'data'->'object'->>'id' = $2)
       ORDER BY seq`, [s.accountId, clock.id]);
    assert.deepEqual(rows.map((r) => r.type), [
      'customer.subscription.deleted', 'customer.subscription.deleted', 'customer.deleted', 'customer.deleted', 'test_helpers.test_clock.deleted',
    ]);
    // A customer can no longer be made on the deleted clock; the other clock still works.
    assert.equal((await stripeError(stripe.customers.create({ test_clock: clock.id }))).param, 'test_clock');
    assert.equal((await stripe.customers.create({ test_clock: otherClock.id })).test_clock, otherClock.id);
  });

  test('concurrent customer creations and the clock\'s deletion: every customer made on the clock ends up deleted', async () => {
    const clock = await stripe.testHelpers.testClocks.create({ frozen_time: FROZEN });
    const creations = Array.from({ length: 8 }, (_, i) => post('/v1/customers', `name=race${i}&test_clock=${clock.id}`));
    const deletion = del(`/v1/test_helpers/test_clocks/${clock.id}`);
    const results = await Promise.all(creations);
    assertOk(await deletion);
    for (const r of results) {
      if (r.status === 200) {
        const after = await stripe.customers.retrieve(r.json.id);
        assert.equal((after as Stripe.DeletedCustomer).deleted, true, `${r.json.id} was created on the clock and must be deleted with it`);
      } else {
        assertStripeError(r, { status: 400, code: 'resource_missing', param: 'test_clock' });
      }
    }
  });
});

/** A subscription row as the billing code stores it (subscriptions are created by src/billing, not by these tests' API). */
async function insertSubscription(customer: string, clock: string, price: Subscription['items']['data'][0]['price'], status: Subscription['status']): Promise<Subscription> {
  const id = `sub_${Math.random().toString(36).slice(2, 12)}${Date.now()}`;
  const start = FROZEN;
  const end = FROZEN + 31 * DAY;
  const item = newItem(id, price, 1, {}, { start, end }, start);
  const sub = buildSubscription({
    id, customer, testClock: clock, currency: 'usd', items: [item], now: start, anchor: start, status, collectionMethod: 'charge_automatically',
    daysUntilDue: null, defaultPaymentMethod: null, description: null, metadata: {}, externalId: null, cancelAt: null, cancelAtPeriodEnd: false,
    billingMode: 'flexible', trial: null, trialEndBehavior: 'create_invoice', saveDefaultPaymentMethod: 'off',
    invoiceSettings: { custom_fields: null, description: null, footer: null },
  });
  if (status === 'canceled') Object.assign(sub, { canceled_at: start + 1, ended_at: start + 1 });
  await s.oncepay.db.tx(async (q) => { subscriptions.insert(q, s.accountId, sub); });
  return sub;
}

async function readSubscription(id: string): Promise<Subscription> {
  return (await subscriptions.find(s.oncepay.db, s.accountId, id))!;
}
