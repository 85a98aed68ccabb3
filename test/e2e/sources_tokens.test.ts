/**
 * Tokens and customer card sources through the official stripe client: POST/GET /v1/tokens,
 * the ready-made tok_* tokens, single use; a customer's cards (create from a token or a card
 * hash, list, retrieve, update, delete) with their customer.source.* events, default_source (set
 * on the first card, moved on delete, set by customer update; source replaces it), the card check
 * at the acquirer when a card is added, expansion of sources and default_source.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type Stripe from 'stripe';
import { useTestServer, rawRequest } from '../helpers/server.ts';

const { server: s, stripe } = useTestServer();

const fail = (p: Promise<unknown>) => p.then(() => assert.fail('expected an error'), (e: Stripe.errors.StripeError) => e);

async function eventsOf(type: string, id: string): Promise<Stripe.Event[]> {
  const list = await stripe.events.list({ type, limit: 100 });
  return list.data.filter((e) => (e.data.object as { id: string }).id === id);
}

const CARD = { number: '4242 4242 4242 4242', exp_month: '12', exp_year: '2040', cvc: '123', name: 'Ada Lovelace', address_line1: '1 Main St', address_zip: '94107', address_country: 'US' };

describe('tokens', () => {
  test('POST /v1/tokens: a token of the card (legacy Card shape, no number), retrievable, used once', async () => {
    const tok = await stripe.tokens.create({ card: CARD });
    assert.match(tok.id, /^tok_/);
    assert.equal(tok.object, 'token');
    assert.equal(tok.type, 'card');
    assert.equal(tok.used, false);
    const card = tok.card!;
    assert.match(card.id, /^card_/);
    assert.equal(card.brand, 'Visa');
    assert.equal(card.last4, '4242');
    assert.equal(card.exp_year, 2040);
    assert.equal(card.name, 'Ada Lovelace');
    assert.equal(card.address_line1, '1 Main St');
    assert.equal(card.address_zip, '94107');
    assert.equal(card.cvc_check, 'pass');
    assert.equal(card.funding, 'credit');
    assert.equal(typeof card.fingerprint, 'string');
    assert.ok(!JSON.stringify(tok).includes('4242424242424242'));
    const got = await stripe.tokens.retrieve(tok.id);
    assert.equal(got.card!.id, card.id);
    const pm = await stripe.paymentMethods.create({ type: 'card', card: { token: tok.id } });
    assert.equal(pm.card!.last4, '4242');
    assert.equal((await stripe.tokens.retrieve(tok.id)).used, true);
    const again = await fail(stripe.paymentMethods.create({ type: 'card', card: { token: tok.id } }));
    assert.equal(again.code, 'token_already_used');
    assert.equal(again.param, 'card[token]');
  });

  test('ready-made tokens name the test cards of the same name and are used any number of times', async () => {
    for (const [tok, brand, last4] of [['tok_visa', 'Visa', '4242'], ['tok_mastercard', 'MasterCard', '4444'], ['tok_amex', 'American Express', '0005'],
      ['tok_visa_debit', 'Visa', '5556'], ['tok_discover', 'Discover', '1117'], ['tok_jcb', 'JCB', '0505'], ['tok_unionpay', 'UnionPay', '0005'],
      ['tok_chargeDeclinedLostCard', 'Visa', '9987']] as const) {
      const t = await stripe.tokens.retrieve(tok);
      assert.equal(t.card!.brand, brand, tok);
      assert.equal(t.card!.last4, last4, tok);
    }
    const a = await stripe.charges.create({ amount: 100, currency: 'usd', source: 'tok_visa' });
    const b = await stripe.charges.create({ amount: 100, currency: 'usd', source: 'tok_visa' });
    assert.notEqual(a.id, b.id);
    assert.equal((await stripe.tokens.retrieve('tok_visa_debit')).card!.funding, 'debit');
  });

  test('refusals: no card, another kind of token, an unknown token, a card id', async () => {
    const none = await fail(stripe.tokens.create({}));
    assert.equal(none.param, 'card');
    const bank = await fail(stripe.tokens.create({ bank_account: { country: 'US', currency: 'usd', account_number: '000123456789', routing_number: '110000000' } }));
    assert.equal(bank.code, 'parameter_unsupported');
    const pii = await fail(stripe.tokens.create({ pii: { id_number: '000000000' } }));
    assert.equal(pii.code, 'parameter_unsupported');
    const missing = await fail(stripe.tokens.retrieve('tok_unknown123'));
    assert.equal(missing.statusCode, 404);
    const badCvcLength = await fail(stripe.tokens.create({ card: { ...CARD, number: '4000000000000002', exp_year: '2001' } }));
    assert.equal(badCvcLength.code, 'invalid_expiry_year');
    assert.equal(badCvcLength.param, 'card[exp_year]');
  });
});

describe('customer sources', () => {
  test('add from a token and from a card hash; the first becomes default_source; list, retrieve, update; events', async () => {
    const cus = await stripe.customers.create({ email: 'src@example.com' });
    assert.equal(cus.default_source, null);
    const first = await stripe.customers.createSource(cus.id, { source: 'tok_visa', metadata: { n: '1' } }) as Stripe.Card;
    assert.equal(first.object, 'card');
    assert.equal(first.customer, cus.id);
    assert.deepEqual(first.metadata, { n: '1' });
    const tok = await stripe.tokens.create({ card: CARD });
    const second = await stripe.customers.createSource(cus.id, { source: tok.id }) as Stripe.Card;
    assert.equal(second.id, tok.card!.id);
    assert.equal(second.name, 'Ada Lovelace');
    const hash = await rawRequest(s, 'POST', `/v1/customers/${cus.id}/sources`, {
      body: 'source[object]=card&source[number]=5555555555554444&source[exp_month]=10&source[exp_year]=2039&source[cvc]=314',
    });
    assert.equal(hash.status, 200, hash.text);
    assert.equal(hash.json.brand, 'MasterCard');
    assert.ok(!hash.text.includes('5555555555554444'));
    const c1 = await stripe.customers.retrieve(cus.id) as Stripe.Customer;
    assert.equal(c1.default_source, first.id);
    const list = await stripe.customers.listSources(cus.id, { object: 'card' });
    assert.deepEqual(list.data.map((c) => c.id), [hash.json.id, second.id, first.id]);
    assert.equal((await stripe.customers.listSources(cus.id, { object: 'bank_account' })).data.length, 0);
    const got = await stripe.customers.retrieveSource(cus.id, second.id) as Stripe.Card;
    assert.equal(got.last4, '4242');
    const up = await stripe.customers.updateSource(cus.id, second.id, { exp_month: '3', exp_year: '2041', name: 'A. L.', address_city: 'London', metadata: { x: 'y' } }) as Stripe.Card;
    assert.equal(up.exp_month, 3);
    assert.equal(up.exp_year, 2041);
    assert.equal(up.name, 'A. L.');
    assert.equal(up.address_city, 'London');
    assert.deepEqual(up.metadata, { x: 'y' });
    assert.equal((await eventsOf('customer.source.created', first.id)).length, 1);
    const [updated] = await eventsOf('customer.source.updated', second.id);
    assert.equal((updated.data.previous_attributes as { exp_month: number }).exp_month, 12);
    const updatedCustomer = (await stripe.events.list({ type: 'customer.updated', limit: 100 })).data
      .find((e) => (e.data.object as Stripe.Customer).id === cus.id);
    assert.deepEqual(updatedCustomer?.data.previous_attributes, { default_source: null });
    const expanded = await stripe.customers.retrieve(cus.id, { expand: ['sources', 'default_source'] }) as Stripe.Customer;
    assert.equal((expanded.default_source as Stripe.Card).id, first.id);
    assert.equal(expanded.sources!.data.length, 3);
    // A card source is a payment method of the customer too.
    const pm = await stripe.paymentMethods.retrieve(first.id);
    assert.equal(pm.customer, cus.id);
  });

  test('delete: the card goes, default_source moves to the newest left, then clears; customer.source.deleted', async () => {
    const cus = await stripe.customers.create({ source: 'tok_visa' });
    const a = cus.default_source as string;
    const b = (await stripe.customers.createSource(cus.id, { source: 'tok_mastercard' })).id;
    const del = await stripe.customers.deleteSource(cus.id, a);
    assert.deepEqual(del, { id: a, object: 'card', deleted: true });
    assert.equal((await stripe.customers.retrieve(cus.id) as Stripe.Customer).default_source, b);
    assert.equal((await eventsOf('customer.source.deleted', a)).length, 1);
    await stripe.customers.deleteSource(cus.id, b);
    assert.equal((await stripe.customers.retrieve(cus.id) as Stripe.Customer).default_source, null);
    const gone = await fail(stripe.customers.retrieveSource(cus.id, a));
    assert.equal(gone.statusCode, 404);
    const charge = await fail(stripe.charges.create({ amount: 100, currency: 'usd', customer: cus.id, source: a }));
    assert.equal(charge.param, 'source');
  });

  test('customer create with a card hash source and a payment method: both attached, the card the default source', async () => {
    const res = await rawRequest(s, 'POST', '/v1/customers', {
      body: 'source[object]=card&source[number]=4242424242424242&source[exp_month]=10&source[exp_year]=2039&payment_method=pm_card_mastercard',
    });
    assert.equal(res.status, 200, res.text);
    assert.ok(!res.text.includes('4242424242424242'));
    const cus = await stripe.customers.retrieve(res.json.id, { expand: ['default_source'] }) as Stripe.Customer;
    assert.equal((cus.default_source as Stripe.Card).last4, '4242');
    const pms = await stripe.customers.listPaymentMethods(cus.id);
    assert.deepEqual(pms.data.map((p) => p.card!.last4).sort(), ['4242', '4444']);
  });

  test('customer update: default_source must be its own card; source adds a card that replaces the default', async () => {
    const cus = await stripe.customers.create({ source: 'tok_visa' });
    const first = cus.default_source as string;
    const second = (await stripe.customers.createSource(cus.id, { source: 'tok_amex' })).id;
    const switched = await stripe.customers.update(cus.id, { default_source: second });
    assert.equal(switched.default_source, second);
    const other = await stripe.customers.create({ source: 'tok_visa' });
    const notOwn = await fail(stripe.customers.update(cus.id, { default_source: other.default_source as string }));
    assert.equal(notOwn.param, 'default_source');
    const replaced = await stripe.customers.update(cus.id, { source: 'tok_mastercard' });
    assert.notEqual(replaced.default_source, second);
    const ids = (await stripe.customers.listSources(cus.id)).data.map((c) => c.id);
    assert.deepEqual(ids.sort(), [first, replaced.default_source as string].sort());
    const ch = await stripe.charges.create({ amount: 100, currency: 'usd', customer: cus.id });
    assert.equal((ch.source as Stripe.Card).brand, 'MasterCard');
  });

  test('adding a declined card fails at the acquirer check; 0341 (tok_chargeCustomerFail) is added, its charges fail', async () => {
    const cus = await stripe.customers.create({});
    const declined = await fail(stripe.customers.createSource(cus.id, { source: 'tok_chargeDeclined' }));
    assert.equal(declined.statusCode, 402);
    assert.equal(declined.code, 'card_declined');
    assert.equal((await stripe.customers.listSources(cus.id)).data.length, 0);
    const failing = await stripe.customers.createSource(cus.id, { source: 'tok_chargeCustomerFail' });
    assert.equal((await stripe.customers.retrieve(cus.id) as Stripe.Customer).default_source, failing.id);
    const err = await fail(stripe.charges.create({ amount: 100, currency: 'usd', customer: cus.id }));
    assert.equal(err.statusCode, 402);
    assert.equal(err.code, 'card_declined');
    const ledger = await s.ledger(failing.id);
    assert.deepEqual(ledger.map((e) => e.kind), ['verification']);
    const update = await fail(stripe.customers.update(cus.id, { source: 'tok_chargeDeclinedInsufficientFunds' }));
    assert.equal(update.statusCode, 402);
    assert.equal(update.decline_code, 'insufficient_funds');
    assert.equal((await stripe.customers.retrieve(cus.id) as Stripe.Customer).default_source, failing.id);
    const create = await fail(stripe.customers.create({ source: 'tok_chargeDeclined' }));
    assert.equal(create.statusCode, 402);
  });

  test('refusals: verify (bank accounts), an unknown customer, a card of another customer, a bad number in a hash, no source', async () => {
    const cus = await stripe.customers.create({ source: 'tok_visa' });
    const verify = await fail(stripe.customers.verifySource(cus.id, cus.default_source as string, { amounts: [32, 45] }));
    assert.equal(verify.code, 'parameter_unsupported');
    const unknown = await fail(stripe.customers.createSource('cus_missing', { source: 'tok_visa' }));
    assert.equal(unknown.statusCode, 404);
    const other = await stripe.customers.create({});
    const notHis = await fail(stripe.customers.retrieveSource(other.id, cus.default_source as string));
    assert.equal(notHis.statusCode, 404);
    const bad = await rawRequest(s, 'POST', `/v1/customers/${cus.id}/sources`, {
      body: 'source[object]=card&source[number]=4242424242424241&source[exp_month]=10&source[exp_year]=2039',
    });
    assert.equal(bad.status, 402);
    assert.equal(bad.json.error.code, 'incorrect_number');
    assert.equal(bad.json.error.param, 'source[number]');
    assert.ok(!bad.text.includes('4242424242424241'));
    const none = await fail(stripe.customers.createSource(cus.id, {} as Stripe.CustomerCreateSourceParams));
    assert.equal(none.param, 'source');
    const src = await fail(stripe.customers.createSource(cus.id, { source: 'src_123' }));
    assert.equal(src.code, 'parameter_unsupported');
  });
});
