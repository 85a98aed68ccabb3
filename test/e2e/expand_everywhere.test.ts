/**
 * `expand[]` on real objects, for every field the stripe package marks expandable: one object of
 * each type Oncepay renders is retrieved with every such path (twenty per request, Stripe's limit),
 * embedded items through their parent (`lines.data.…`, `items.data.…`). Each answer must be 200;
 * on close the test server checks every answer against Stripe's types and the OpenAPI document,
 * so an expansion that renders a wrong shape (an array turned into an object, a null where the
 * type says absent) fails here too.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { useTestServer } from '../helpers/server.ts';
import { send, assertOk } from '../helpers/stripe_errors.ts';
import { expandableFields } from '../helpers/stripe_declarations.ts';

const { server: s } = useTestServer();

function chunks<T>(list: T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += n) out.push(list.slice(i, i + n));
  return out;
}

describe('every expandable field expands on a real object', () => {
  test('customers, payments, invoices and their lines, items, subscriptions and their items, catalog, clocks, tax IDs', async () => {
    const stripe = s.stripe();
    const clock = await stripe.testHelpers.testClocks.create({ frozen_time: Math.floor(Date.UTC(2027, 2, 1) / 1000) });
    const customer = await stripe.customers.create({ email: 'expand@example.com', test_clock: clock.id, invoice_settings: { default_payment_method: 'pm_card_visa' } });
    const taxId = await stripe.customers.createTaxId(customer.id, { type: 'eu_vat', value: 'DE123456789' });
    const pi = await stripe.paymentIntents.create({ amount: 4000, currency: 'usd', customer: customer.id, payment_method: 'pm_card_visa', confirm: true });
    const refund = await stripe.refunds.create({ payment_intent: pi.id, amount: 1000 });
    const charge = await stripe.charges.retrieve(pi.latest_charge as string);
    const price = await stripe.prices.create({ currency: 'usd', unit_amount: 1500, product_data: { name: 'Expandable' }, recurring: { interval: 'month' } });
    const sub = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: price.id }] });
    const item = await stripe.invoiceItems.create({ customer: customer.id, amount: 700, currency: 'usd' });
    const draft = await stripe.invoices.create({ customer: customer.id, pending_invoice_items_behavior: 'include' });
    const invoice = await stripe.invoices.pay((await stripe.invoices.finalizeInvoice(draft.id)).id);
    const payment = (await stripe.invoicePayments.list({ invoice: invoice.id })).data[0];

    const targets: Array<{ type: string; path: string; prefix?: string }> = [
      { type: 'Customer', path: `/v1/customers/${customer.id}` },
      { type: 'PaymentIntent', path: `/v1/payment_intents/${pi.id}` },
      { type: 'Charge', path: `/v1/charges/${charge.id}` },
      { type: 'Refund', path: `/v1/refunds/${refund.id}` },
      { type: 'BalanceTransaction', path: `/v1/balance_transactions/${charge.balance_transaction as string}` },
      { type: 'Invoice', path: `/v1/invoices/${invoice.id}` },
      { type: 'InvoiceLineItem', path: `/v1/invoices/${invoice.id}`, prefix: 'lines.data.' },
      { type: 'InvoiceItem', path: `/v1/invoiceitems/${item.id}` },
      { type: 'InvoicePayment', path: `/v1/invoice_payments/${payment.id}` },
      { type: 'Subscription', path: `/v1/subscriptions/${sub.id}` },
      { type: 'SubscriptionItem', path: `/v1/subscriptions/${sub.id}`, prefix: 'items.data.' },
      { type: 'Price', path: `/v1/prices/${price.id}` },
      { type: 'Product', path: `/v1/products/${price.product as string}` },
      { type: 'Plan', path: `/v1/plans/${price.id}` },
      { type: 'TestHelpers.TestClock', path: `/v1/test_helpers/test_clocks/${clock.id}` },
      { type: 'TaxId', path: `/v1/tax_ids/${taxId.id}` },
    ];
    let expanded = 0;
    for (const t of targets) {
      const fields = expandableFields(t.type);
      for (const group of chunks(fields.map((f) => `${t.prefix ?? ''}${f}`), 20)) {
        const query = group.map((p) => `expand[]=${encodeURIComponent(p)}`).join('&');
        assertOk(await send(s, 'GET', `${t.path}?${query}`));
        expanded += group.length;
      }
    }
    assert.ok(expanded > 100, `${expanded} paths expanded`);
  });
});
