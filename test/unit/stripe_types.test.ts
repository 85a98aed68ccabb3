/**
 * The response oracle (test/helpers/stripe_types.ts) itself: bodies that break Stripe's types in
 * each way it must catch fail naming the field; a correct body and one with a declared addition pass.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkStripeTypes, shapeOf, stripeTypesMode, withoutAdditions } from '../helpers/stripe_types.ts';
import type { RecordedResponse } from '../helpers/conformance.ts';

const response = (body: unknown, over: Partial<RecordedResponse> = {}): RecordedResponse => ({
  method: 'GET', route: '/v1/refunds/:refund', url: '/v1/refunds/re_1', status: 200,
  contentType: 'application/json; charset=utf-8', payload: JSON.stringify(body), ...over,
});

// A refund with every field Stripe's Refund type makes non-optional in 2026-10-28.endive.
const refund = {
  id: 're_Test1Abc', object: 'refund', amount: 500, balance_transaction: null, charge: 'ch_test1', created: 1700000000,
  currency: 'usd', customer: null, customer_account: null, metadata: {}, payment_intent: 'pi_test1', payment_method: null, reason: null, receipt_number: null, source_transfer_reversal: null,
  status: 'succeeded', transfer_reversal: null,
};

test('a body with every non-optional field and no unknown one passes', () => {
  const result = checkStripeTypes([response(refund)]);
  assert.deepEqual(result.violations, []);
  assert.equal(result.checked, 1);
});

test('a missing non-optional field fails, naming it', () => {
  const { status: _, ...noStatus } = refund;
  const result = checkStripeTypes([response(noStatus)]);
  assert.equal(result.violations.length, 1, JSON.stringify(result.violations));
  assert.equal(result.violations[0].path, 'status');
  assert.match(result.violations[0].message, /missing/);
  assert.equal(result.violations[0].url, '/v1/refunds/re_1');
});

test('a value outside the declared union fails, naming the field (enums are not widened to any string)', () => {
  const result = checkStripeTypes([response({ ...refund, reason: 'exploded' })]);
  assert.equal(result.violations.length, 1, JSON.stringify(result.violations));
  assert.equal(result.violations[0].path, 'reason');
  assert.match(result.violations[0].message, /exploded/);
});

test('an unknown field fails, naming it; nested and in list items too', () => {
  const unknown = checkStripeTypes([response({ ...refund, colour: 'red' })]);
  assert.deepEqual(unknown.violations.map((v) => v.path), ['colour']);
  const list = { object: 'list', url: '/v1/refunds', has_more: false, data: [refund, { ...refund, id: 're_Test2Abc', destination_details: { type: 'card', card: { type: 'refund', mood: 'ok' } } }] };
  const nested = checkStripeTypes([response(list, { route: '/v1/refunds', url: '/v1/refunds' })]);
  assert.ok(nested.violations.some((v) => v.path === 'data[1].destination_details.card.mood'), JSON.stringify(nested.violations));
});

test('all problems of one object are listed, not only the first the compiler meets', () => {
  const { status: _, currency: __, ...partial } = refund;
  const result = checkStripeTypes([response({ ...partial, colour: 'red', reason: 'bored' })]);
  assert.deepEqual(result.violations.map((v) => v.path).sort(), ['colour', 'currency', 'reason', 'status']);
});

test('a declared addition passes, wherever its object appears; an undeclared one does not', () => {
  assert.deepEqual(checkStripeTypes([response({ ...refund, external_id: 'order-1' })]).violations, []);
  assert.deepEqual((withoutAdditions({ object: 'charge', refunds: { data: [{ object: 'refund', external_id: 'x' }] } }) as any).refunds.data[0], { object: 'refund' });
  assert.equal(checkStripeTypes([response({ ...refund, order: 'ord_1' })]).violations[0]?.path, 'order');
});

test('errors, invented objects, Oncepay events and objects Stripe lacks are not checked', () => {
  const result = checkStripeTypes([
    response({ error: { type: 'invalid_request_error', message: 'x' } }, { status: 400 }),
    response({ id: 'ord_1', object: 'order' }),
    response({ id: 'evt_1', object: 'event', type: 'order.created' }),
    response({ id: 'x_1', object: 'no_such_thing' }),
    response({ ok: true }),
  ]);
  assert.equal(result.checked, 0);
  assert.equal(result.skipped, 5);
  assert.deepEqual(result.violations, []);
});

test('events are checked as the Stripe.Event member of their type', () => {
  const event = {
    id: 'evt_1', object: 'event', api_version: '2026-10-28.endive', created: 1700000000, livemode: false, pending_webhooks: 0,
    request: { id: null, idempotency_key: null }, type: 'refund.created', data: { object: { ...refund, reason: 'nope' } },
  };
  const result = checkStripeTypes([response(event, { route: '/v1/events/:id', url: '/v1/events/evt_1' })]);
  assert.deepEqual(result.violations.map((v) => v.path), ['data.object.reason'], JSON.stringify(result.violations));
});

test('bodies of the same shape are checked once', () => {
  const result = checkStripeTypes([response(refund), response({ ...refund, id: 're_Other2Xy', amount: 7 }), response({ ...refund, reason: 'duplicate' })]);
  assert.equal(result.checked, 3);
  assert.equal(result.samples, 2);
  assert.equal(shapeOf({ a: 're_Abc123xyz' }), shapeOf({ a: 're_ZZZ999' }));
});

test('mode: enforce by default, report/off by env, anything else refused', () => {
  assert.equal(stripeTypesMode({}), 'enforce');
  assert.equal(stripeTypesMode({ ONCEPAY_STRIPE_TYPES: 'report' }), 'report');
  assert.equal(stripeTypesMode({ ONCEPAY_STRIPE_TYPES: 'enforce' }), 'enforce');
  assert.equal(stripeTypesMode({ ONCEPAY_STRIPE_TYPES: 'off' }), 'off');
  assert.throws(() => stripeTypesMode({ ONCEPAY_STRIPE_TYPES: 'loud' }));
});

test('deleted objects are checked as their Deleted* type', () => {
  const deleted = { id: 'cus_Abc123Xyz', object: 'customer', deleted: true };
  const ok = checkStripeTypes([response(deleted, { method: 'DELETE', route: '/v1/customers/:customer', url: '/v1/customers/cus_Abc123Xyz' })]);
  assert.deepEqual(ok.violations, []);
  const bad = checkStripeTypes([response({ ...deleted, email: null })]);
  assert.deepEqual(bad.violations.map((v) => [v.checkedAs, v.path]), [['Stripe.DeletedCustomer', 'email']]);
});
