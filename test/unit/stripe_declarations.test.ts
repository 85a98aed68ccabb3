/**
 * test/helpers/stripe_declarations.ts reads the stripe package's declarations: a few facts of the
 * installed version (2026-10-28.endive) it must find, so a reader that silently finds nothing fails.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expandableFields, normalizePath, objectTypeNames, paramsOf, stripeEventTypes, stripeOperations, stripeType } from '../helpers/stripe_declarations.ts';

test('object types by their `object` string, live and deleted, in sub-namespaces too', () => {
  const types = objectTypeNames();
  assert.ok(types.size > 150, `only ${types.size} object types read`);
  assert.deepEqual(types.get('invoice'), { types: ['Invoice'], deleted: ['DeletedInvoice'] });
  assert.deepEqual(types.get('payment_intent'), { types: ['PaymentIntent'], deleted: [] });
  assert.deepEqual(types.get('test_helpers.test_clock'), { types: ['TestHelpers.TestClock'], deleted: ['TestHelpers.DeletedTestClock'] });
  assert.deepEqual(types.get('list')?.types, ['ApiList']);
  assert.equal(types.get('no_such_object'), undefined);
});

test('Invoice has automatic_tax and no top-level subscription (moved under parent in this version)', () => {
  const invoice = stripeType('Invoice');
  assert.ok(invoice.getProperty('automatic_tax'));
  assert.ok(invoice.getProperty('parent'));
  assert.equal(invoice.getProperty('subscription'), undefined);
});

test('operations: POST /v1/refunds takes RefundCreateParams, with charge', () => {
  assert.ok(stripeOperations().size > 400, `only ${stripeOperations().size} operations read`);
  const op = paramsOf('POST', '/v1/refunds');
  assert.equal(op?.paramsType, 'RefundCreateParams');
  assert.ok(op.params.includes('charge'));
  assert.ok(op.params.includes('payment_intent'));
});

test('operations: path parameters in Oncepay (:x) and OpenAPI ({x}) spelling; hash parameters list their keys', () => {
  assert.equal(normalizePath('/v1/invoices/:invoice/finalize'), '/v1/invoices/{}/finalize');
  assert.equal(paramsOf('POST', '/v1/invoices/:invoice/finalize')?.methodName, 'finalizeInvoice');
  assert.equal(paramsOf('POST', '/v1/invoices/{invoice}/finalize')?.paramsType, 'InvoiceFinalizeInvoiceParams');
  assert.ok(paramsOf('GET', '/v1/invoices/:invoice/lines')?.params.includes('limit'));
  const customer = paramsOf('POST', '/v1/customers');
  assert.ok(customer?.nested.invoice_settings?.includes('default_payment_method'));
  assert.ok(customer?.nested.address?.includes('postal_code'));
  assert.equal(customer?.nested.metadata, undefined, 'metadata is a free-form map, not a hash of known keys');
  const subscription = paramsOf('POST', '/v1/subscriptions');
  assert.ok(subscription?.nested.items?.includes('price'), 'arrays of hashes list the keys of their items');
  assert.equal(paramsOf('POST', '/v1/orders'), undefined);
});

test('expandable fields: expandable ids, nested paths, includable lists', () => {
  const pi = expandableFields('PaymentIntent');
  assert.ok(pi.includes('latest_charge'));
  assert.ok(pi.includes('payment_method'));
  assert.ok(pi.includes('customer'));
  assert.ok(!pi.includes('amount'));
  const customer = expandableFields('Customer');
  assert.ok(customer.includes('invoice_settings.default_payment_method'));
  assert.ok(customer.includes('subscriptions'));
  assert.ok(customer.includes('default_source'));
  assert.ok(expandableFields('Subscription').includes('latest_invoice'));
  assert.ok(expandableFields('Invoice').includes('parent.subscription_details.subscription'));
});

test('event types: the members of the Stripe.Event union', () => {
  const types = stripeEventTypes();
  assert.ok(types.has('invoice.paid'));
  assert.ok(types.has('payment_intent.succeeded'));
  assert.ok(!types.has('order.created'));
});
