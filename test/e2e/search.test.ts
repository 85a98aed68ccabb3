/**
 * Search (`GET /v1/<resource>/search`) through the official stripe client, on every searchable
 * resource: exact matches (token fields ignore case, string fields match whole words), `~`
 * substrings, metadata, numeric and date comparisons, `-` negation, `null`, AND and OR; paging
 * with `next_page`/`page` and `autoPagingEach`; `expand[]=total_count` and `data.*`; the
 * account's objects only, deleted ones never. And the refusals: a query that does not parse or
 * names a field the resource lacks (400 naming `query` and the position), a bad `page`, `limit`
 * or `expand`; random queries never a 5xx.
 *
 * Each describe block works in an account of its own, so it can assert exact result sets.
 */
import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type Stripe from 'stripe';
import { useTestServer } from '../helpers/server.ts';
import { assertOk, assertStripeError, pct, send, stripeError } from '../helpers/stripe_errors.ts';

const { server } = useTestServer();

/** A client of a new, empty account on the test server. */
async function freshAccount(): Promise<{ stripe: Stripe; key: string }> {
  const { key } = await server.newAccount();
  return { stripe: server.stripe({ key }), key };
}

const ids = (r: { data: { id: string }[] }) => r.data.map((o) => o.id);

describe('customers', () => {
  let stripe: Stripe;
  const c: Record<string, Stripe.Customer> = {};
  before(async () => {
    ({ stripe } = await freshAccount());
    c.ada = await stripe.customers.create({ email: 'ada@example.com', name: 'Ada King Lovelace', phone: '+15550001', metadata: { tier: 'gold', 'order id': '7' } });
    c.bob = await stripe.customers.create({ email: 'bob@example.org', name: 'Bob Smith', metadata: { tier: 'silver' } });
    c.carol = await stripe.customers.create({ description: 'no email, no name' });
    const gone = await stripe.customers.create({ email: 'ada@example.com', name: 'Ada (deleted)', metadata: { tier: 'gold' } });
    await stripe.customers.del(gone.id);
  });
  const search = async (query: string, extra: Partial<Stripe.CustomerSearchParams> = {}) => stripe.customers.search({ query, ...extra });

  test('the search_result envelope', async () => {
    const r = await search(`email:'ada@example.com'`);
    assert.deepEqual(Object.keys(r).sort(), ['data', 'has_more', 'next_page', 'object', 'url']);
    assert.equal(r.object, 'search_result');
    assert.equal(r.url, '/v1/customers/search');
    assert.equal(r.has_more, false);
    assert.equal(r.next_page, null);
    assert.deepEqual(r.data, [c.ada], 'whole objects, as retrieved; the deleted customer is not found');
  });

  test('exact matches: token and string fields ignore case; string fields match a run of whole words', async () => {
    assert.deepEqual(ids(await search(`email:"ADA@example.COM"`)), [c.ada.id]);
    assert.deepEqual(ids(await search(`name:'king lovelace'`)), [c.ada.id]);
    assert.deepEqual(ids(await search(`name:'Ada King Lovelace'`)), [c.ada.id]);
    assert.deepEqual(ids(await search(`name:'Ada Lovelace'`)), [], 'the words must be in a run');
    assert.deepEqual(ids(await search(`name:'lovela'`)), [], 'a part of a word is not a word');
    assert.deepEqual(ids(await search(`phone:"+15550001"`)), [c.ada.id]);
    assert.deepEqual(ids(await search(`metadata['tier']:'GOLD'`)), [c.ada.id]);
    assert.deepEqual(ids(await search(`metadata["order id"]:7`)), [c.ada.id], 'a bare number matches a token');
  });

  test('substrings, negation, null and presence, AND and OR', async () => {
    assert.deepEqual(ids(await search(`name~"lovel"`)), [c.ada.id]);
    assert.deepEqual(ids(await search(`email~"example"`)), [c.bob.id, c.ada.id], 'newest first');
    assert.deepEqual(ids(await search(`email~".org"`)), [c.bob.id]);
    assert.deepEqual(ids(await search(`-email~".org"`)), [c.carol.id, c.ada.id], 'a negation also finds objects without the field');
    assert.deepEqual(ids(await search('email:null')), [c.carol.id]);
    assert.deepEqual(ids(await search('-email:null')), [c.bob.id, c.ada.id]);
    assert.deepEqual(ids(await search(`-metadata['tier']:null`)), [c.bob.id, c.ada.id], 'customers that have the key');
    assert.deepEqual(ids(await search(`metadata['tier']:null`)), [c.carol.id]);
    assert.deepEqual(ids(await search(`metadata['tier']:'gold' OR metadata['tier']:'silver'`)), [c.bob.id, c.ada.id]);
    assert.deepEqual(ids(await search(`metadata['tier']:'gold' or name~"smith"`)), [c.bob.id, c.ada.id]);
    assert.deepEqual(ids(await search(`metadata['tier']:'gold' AND name~"smith"`)), []);
    assert.deepEqual(ids(await search(`email~"example" -metadata['tier']:'gold'`)), [c.bob.id], 'a space is AND');
  });

  test('dates: created compared as Unix seconds', async () => {
    const t = c.ada.created;
    assert.deepEqual(ids(await search(`created>=${t} AND created<=${c.carol.created}`)), [c.carol.id, c.bob.id, c.ada.id]);
    assert.deepEqual(ids(await search(`created<${t}`)), []);
    assert.deepEqual(ids(await search(`created>${c.carol.created + 1}`)), []);
    assert.deepEqual(ids(await search(`created:"${c.bob.created}" name~"smith"`)), [c.bob.id]);
    assert.deepEqual(ids(await search('created>1609459200')), [c.carol.id, c.bob.id, c.ada.id]);
  });

  test('values are parameters, never SQL', async () => {
    assert.deepEqual(ids(await search(`email:"' OR 1=1 --"`)), []);
    assert.deepEqual(ids(await search(`name~"%%%"`)), [], 'LIKE wildcards are plain characters');
    assert.deepEqual(ids(await search(`name~"_i_"`)), []);
    assert.deepEqual(ids(await search(`metadata["tier') IS NOT NULL OR ('a"]:null`)), [c.carol.id, c.bob.id, c.ada.id]);
    // Metadata keys with the characters of PostgreSQL's array and JSON syntax, and quotes of both kinds.
    const key = String.raw`we"ird\{k,1}'`;
    const value = String.raw`v"al\ue`;
    const odd = await stripe.customers.create({ name: 'Odd keys', metadata: { [key]: value } });
    const escaped = (t: string) => t.replace(/[\\"]/g, (ch) => `\\${ch}`);
    assert.deepEqual(ids(await search(`metadata["${escaped(key)}"]:"${escaped(value)}"`)), [odd.id]);
    assert.deepEqual(ids(await search(`-metadata["${escaped(key)}"]:null`)), [odd.id]);
  });

  test('another account finds nothing of this one', async () => {
    const other = await freshAccount();
    assert.deepEqual(ids(await other.stripe.customers.search({ query: `email:'ada@example.com'` })), []);
    assert.deepEqual(ids(await search(`email:'ada@example.com'`)), [c.ada.id]);
  });
});

describe('paging', () => {
  test('next_page and page, autoPagingEach, total_count, a page that survives new objects', async () => {
    const { stripe } = await freshAccount();
    const made: string[] = [];
    for (let i = 0; i < 7; i++) made.unshift((await stripe.customers.create({ name: `Pager ${i}`, metadata: { batch: 'p' } })).id);
    await stripe.customers.create({ name: 'Not in the batch' });
    const query = `metadata['batch']:'p'`;

    const first = await stripe.customers.search({ query, limit: 3, expand: ['total_count'] });
    assert.deepEqual(ids(first), made.slice(0, 3));
    assert.equal(first.has_more, true);
    assert.equal(first.total_count, 7);
    assert.equal(typeof first.next_page, 'string');
    // An object created meanwhile does not shift the next pages.
    await stripe.customers.create({ name: 'Pager late', metadata: { batch: 'p' } });
    const second = await stripe.customers.search({ query, limit: 3, page: first.next_page! });
    assert.deepEqual(ids(second), made.slice(3, 6));
    assert.equal('total_count' in second, false, 'total_count only when expanded');
    const third = await stripe.customers.search({ query, limit: 3, page: second.next_page!, expand: ['total_count'] });
    assert.deepEqual(ids(third), made.slice(6));
    assert.deepEqual([third.has_more, third.next_page, third.total_count], [false, null, 8]);

    const seen: string[] = [];
    await stripe.customers.search({ query, limit: 2 }).autoPagingEach((cu) => { seen.push(cu.id); });
    assert.equal(seen.length, 8);
    assert.deepEqual(seen.slice(1), made, 'every match once, newest first');
    const all = await stripe.customers.search({ query: 'name~"pager"', limit: 100 }).autoPagingToArray({ limit: 100 });
    assert.equal(all.length, 8);
    const one = await stripe.customers.search({ query, limit: 1 });
    assert.deepEqual([one.data.length, one.has_more], [1, true]);
    const empty = await stripe.customers.search({ query: `metadata['batch']:'none'`, expand: ['total_count'] });
    assert.deepEqual([empty.data, empty.has_more, empty.next_page, empty.total_count], [[], false, null, 0]);
  });
});

describe('payment intents and charges', () => {
  let stripe: Stripe;
  let customer: Stripe.Customer;
  const pi: Record<string, Stripe.PaymentIntent> = {};
  before(async () => {
    ({ stripe } = await freshAccount());
    customer = await stripe.customers.create({ email: 'payer@example.com' });
    pi.small = await stripe.paymentIntents.create({ amount: 500, currency: 'usd', metadata: { order: 'o-1' } });
    pi.visa = await stripe.paymentIntents.create({ amount: 1500, currency: 'usd', customer: customer.id, payment_method: 'pm_card_visa', confirm: true });
    pi.eur = await stripe.paymentIntents.create({ amount: 2500, currency: 'eur', customer: customer.id, payment_method: 'pm_card_mastercard', confirm: true, metadata: { order: 'o-2' } });
  });

  test('payment intents: amounts, status, currency, customer, metadata; expand[]=data.customer', async () => {
    const search = async (query: string) => ids(await stripe.paymentIntents.search({ query }));
    assert.deepEqual(await search('amount>=1000'), [pi.eur.id, pi.visa.id]);
    assert.deepEqual(await search('amount>1000 AND amount<2000'), [pi.visa.id]);
    assert.deepEqual(await search('amount:500 OR amount:2500'), [pi.eur.id, pi.small.id]);
    assert.deepEqual(await search('amount<=500'), [pi.small.id]);
    assert.deepEqual(await search(`status:'succeeded'`), [pi.eur.id, pi.visa.id]);
    assert.deepEqual(await search(`-status:'succeeded'`), [pi.small.id]);
    assert.deepEqual(await search(`status:'requires_payment_method'`), [pi.small.id]);
    assert.deepEqual(await search(`-currency:'usd'`), [pi.eur.id]);
    assert.deepEqual(await search(`currency:'USD' customer:'${customer.id}'`), [pi.visa.id]);
    assert.deepEqual(await search('customer:null'), [pi.small.id]);
    assert.deepEqual(await search(`metadata['order']:'o-2'`), [pi.eur.id]);
    const expanded = await stripe.paymentIntents.search({ query: `customer:'${customer.id}'`, expand: ['data.customer'] });
    assert.deepEqual(expanded.data.map((p) => (p.customer as Stripe.Customer).email), ['payer@example.com', 'payer@example.com']);
  });

  test('charges: card details, amounts, refunded, disputed, status, postal code', async () => {
    const search = async (query: string) => ids(await stripe.charges.search({ query }));
    const visa = pi.visa.latest_charge as string;
    const mc = pi.eur.latest_charge as string;
    assert.deepEqual(await search('payment_method_details.card.last4:4242'), [visa]);
    assert.deepEqual(await search(`payment_method_details.card.last4:"4444"`), [mc]);
    assert.deepEqual(await search(`payment_method_details.card.brand:"visa"`), [visa]);
    const card = (await stripe.charges.retrieve(visa)).payment_method_details!.card!;
    assert.deepEqual(await search(`payment_method_details.card.fingerprint:"${card.fingerprint}"`), [visa]);
    assert.deepEqual(await search(`payment_method_details.card.exp_month:${card.exp_month} payment_method_details.card.exp_year:"${card.exp_year}" payment_method_details.card.last4:4242`), [visa]);
    assert.deepEqual(await search('payment_method_details.card_present.last4:null'), [mc, visa]);
    assert.deepEqual(await search('amount>2000'), [mc]);
    assert.deepEqual(await search(`currency:"eur"`), [mc]);
    assert.deepEqual(await search(`customer:"${customer.id}" status:"succeeded"`), [mc, visa]);
    assert.deepEqual(await search(`disputed:"false"`), [mc, visa]);
    assert.deepEqual(await search(`disputed:"true"`), []);
    assert.deepEqual(await search('billing_details.address.postal_code:null'), [mc, visa]);
    // refunded, as Stripe's search documents it: "true" fully, "false" partially, null not refunded.
    assert.deepEqual([await search(`refunded:"true"`), await search(`refunded:"false"`), await search('refunded:null')], [[], [], [mc, visa]]);
    await stripe.refunds.create({ payment_intent: pi.visa.id });
    await stripe.refunds.create({ payment_intent: pi.eur.id, amount: 100 });
    assert.deepEqual(await search(`refunded:"true"`), [visa]);
    assert.deepEqual(await search(`refunded:"false"`), [mc]);
    assert.deepEqual(await search('refunded:null'), []);
    assert.deepEqual(await search('-refunded:null'), [mc, visa]);
    assert.deepEqual(await search(`metadata['x']:null`), [mc, visa]);
  });
});

describe('invoices, subscriptions, prices and products', () => {
  let stripe: Stripe;
  let customer: Stripe.Customer;
  let shirt: Stripe.Product;
  let plan: Stripe.Product;
  let oneTime: Stripe.Price;
  let monthly: Stripe.Price;
  let sub: Stripe.Subscription;
  let canceled: Stripe.Subscription;
  let paid: Stripe.Invoice;
  let draft: Stripe.Invoice;
  before(async () => {
    ({ stripe } = await freshAccount());
    customer = await stripe.customers.create({ email: 'billing@example.com', invoice_settings: { default_payment_method: 'pm_card_visa' } });
    shirt = await stripe.products.create({ name: 'Cotton T-shirt', description: 'Soft organic cotton', shippable: true, url: 'https://example.com/shirt', metadata: { sku: 'ts' } });
    plan = await stripe.products.create({ name: 'Pro plan' });
    const old = await stripe.products.create({ name: 'Old shirt' });
    await stripe.products.del(old.id);
    await stripe.products.update(plan.id, { active: false });
    oneTime = await stripe.prices.create({ product: shirt.id, unit_amount: 2000, currency: 'usd', lookup_key: 'shirt_std', metadata: { kind: 'retail' } });
    monthly = await stripe.prices.create({ product: plan.id, unit_amount: 1000, currency: 'eur', recurring: { interval: 'month' } });
    sub = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: monthly.id }], metadata: { team: 'a' } });
    canceled = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: monthly.id }] });
    canceled = await stripe.subscriptions.cancel(canceled.id);
    draft = await stripe.invoices.create({ customer: customer.id, auto_advance: false, metadata: { ref: 'd' } });
    const manual = await stripe.invoices.create({ customer: customer.id, auto_advance: false });
    await stripe.invoiceItems.create({ customer: customer.id, invoice: manual.id, amount: 4200, currency: 'usd' });
    await stripe.invoices.finalizeInvoice(manual.id);
    paid = await stripe.invoices.pay(manual.id);
  });

  test('invoices: status, total, customer, currency, number, subscription, metadata', async () => {
    const search = async (query: string) => ids(await stripe.invoices.search({ query }));
    const subInvoice = sub.latest_invoice as string;
    const canceledInvoice = canceled.latest_invoice as string;
    assert.deepEqual(await search(`status:"draft"`), [draft.id]);
    assert.deepEqual(await search(`status:"paid" total>4000`), [paid.id]);
    assert.deepEqual(await search('total:1000'), [canceledInvoice, subInvoice]);
    assert.deepEqual(await search(`customer:"${customer.id}" -status:"paid"`), [draft.id]);
    assert.deepEqual(await search(`number:"${paid.number}"`), [paid.id]);
    assert.deepEqual(await search(`subscription:"${sub.id}"`), [subInvoice]);
    assert.deepEqual(await search('subscription:null'), [paid.id, draft.id]);
    assert.deepEqual(await search(`metadata['ref']:'d'`), [draft.id]);
    assert.deepEqual(await search('last_finalization_error_code:null last_finalization_error_type:null currency:"eur"'), [canceledInvoice, subInvoice]);
    assert.deepEqual(await search('currency:"USD"'), [paid.id, draft.id]);
    assert.deepEqual(await search('receipt_number:null total<0'), []);
  });

  test('subscriptions: status, canceled_at, created, metadata', async () => {
    const search = async (query: string) => ids(await stripe.subscriptions.search({ query }));
    assert.deepEqual(await search(`status:"active"`), [sub.id]);
    assert.deepEqual(await search(`status:"canceled"`), [canceled.id]);
    assert.deepEqual(await search(`canceled_at>0`), [canceled.id]);
    assert.deepEqual(await search('canceled_at:null'), [sub.id]);
    assert.deepEqual(await search(`metadata['team']:'a' OR status:'canceled'`), [canceled.id, sub.id]);
    assert.deepEqual(await search(`created>=${sub.created}`), [canceled.id, sub.id]);
  });

  test('prices: active, type, lookup_key, product, currency, metadata', async () => {
    const search = async (query: string) => ids(await stripe.prices.search({ query }));
    assert.deepEqual(await search(`type:"recurring"`), [monthly.id]);
    assert.deepEqual(await search(`lookup_key:"shirt_std"`), [oneTime.id]);
    assert.deepEqual(await search(`product:"${shirt.id}"`), [oneTime.id]);
    assert.deepEqual(await search(`currency:"eur" active:"true"`), [monthly.id]);
    assert.deepEqual(await search(`metadata['kind']:'retail'`), [oneTime.id]);
    assert.deepEqual(await search('lookup_key:null'), [monthly.id]);
    const expanded = await stripe.prices.search({ query: `type:"one_time"`, expand: ['data.product'] });
    assert.equal((expanded.data[0].product as Stripe.Product).name, 'Cotton T-shirt');
  });

  test('products: name, description, url, shippable, active, metadata; deleted ones never', async () => {
    const search = async (query: string) => ids(await stripe.products.search({ query }));
    assert.deepEqual(await search(`name~"shirt"`), [shirt.id], 'the deleted "Old shirt" is not found');
    assert.deepEqual(await search(`description:"organic cotton"`), [shirt.id]);
    assert.deepEqual(await search(`url~"example.com/shirt"`), [shirt.id]);
    assert.deepEqual(await search(`shippable:"true"`), [shirt.id]);
    assert.deepEqual(await search(`active:"false"`), [plan.id]);
    assert.deepEqual(await search('description:null'), [plan.id]);
    assert.deepEqual(await search(`metadata['sku']:'ts' OR name:"pro"`), [plan.id, shirt.id]);
  });
});

describe('refusals', () => {
  const get = (path: string) => send(server, 'GET', path);
  const q = (resource: string, query: string, extra = '') => get(`/v1/${resource}/search?query=${pct(query)}${extra}`);

  test('a query that does not parse: 400 naming query, the position and the text there', async () => {
    const e = assertStripeError(await q('customers', `email:'a@b.com' OR name:"x" AND phone:"1"`), { status: 400, param: 'query' });
    assert.match(e.message, /position 28 \('AND phone:"1"'\): AND and OR cannot be combined/);
    assert.match(assertStripeError(await q('customers', 'email:abc'), { status: 400, param: 'query' }).message, /position 6 \('abc'\): string values must be quoted/);
    assert.match(assertStripeError(await q('customers', `email:"abc`), { status: 400, param: 'query' }).message, /not closed/);
    const viaClient = await stripeError(server.stripe().customers.search({ query: 'email' }));
    assert.equal(viaClient.statusCode, 400);
    assert.equal(viaClient.param, 'query');
    assert.match(viaClient.message, /expected an operator/);
  });

  test('a field the resource lacks, an operator its type refuses', async () => {
    const e = assertStripeError(await q('customers', `email:'a' amount>5`), { status: 400, param: 'query' });
    assert.match(e.message, /position 10 .*amount is not a search field of customers; its fields are created, email, metadata, name, phone/);
    assert.match(assertStripeError(await q('payment_intents', `status~"succ"`), { status: 400, param: 'query' }).message, /token field/);
    assert.match(assertStripeError(await q('charges', `email:"x"`), { status: 400, param: 'query' }).message, /not a search field of charges/);
    assert.match(assertStripeError(await q('products', `name~"ab"`), { status: 400, param: 'query' }).message, /at least 3 characters/);
    assert.match(assertStripeError(await q('invoices', `total>"lots"`), { status: 400, param: 'query' }).message, /must be a number/);
  });

  test('parameters: query required and non-empty, limit 1 to 100, page and expand checked', async () => {
    assertStripeError(await get('/v1/customers/search'), { status: 400, param: 'query', code: 'parameter_missing' });
    assertStripeError(await get('/v1/customers/search?query='), { status: 400, param: 'query', code: 'parameter_invalid_empty' });
    assertStripeError(await q('customers', 'email:null', '&limit=0'), { status: 400, param: 'limit' });
    assertStripeError(await q('customers', 'email:null', '&limit=101'), { status: 400, param: 'limit' });
    assertStripeError(await q('customers', 'email:null', '&starting_after=cus_1'), { status: 400, param: 'starting_after', code: 'parameter_unknown' });
    assertStripeError(await q('customers', 'email:null', '&page=nonsense'), { status: 400, param: 'page' });
    assertStripeError(await q('customers', 'email:null', `&page=${Buffer.from('12:zz').toString('base64url')}`), { status: 400, param: 'page' });
    assertStripeError(await q('customers', 'email:null', '&expand[]=customer'), { status: 400, param: 'expand' });
    assertStripeError(await q('payment_intents', 'amount>0', '&expand[]=data.nothing'), { status: 400, param: 'expand' });
    // A page of one query is refused with another query or resource.
    const { stripe } = await freshAccount();
    for (let i = 0; i < 2; i++) await stripe.customers.create({ name: 'Twin' });
    const first = await stripe.customers.search({ query: 'name:"twin"', limit: 1 });
    assert.ok(first.next_page);
    const other = await stripeError(stripe.customers.search({ query: 'name:"twins"', limit: 1, page: first.next_page }));
    assert.deepEqual([other.statusCode, other.param], [400, 'page']);
    assert.match(other.message, /another search query/);
    const elsewhere = await stripeError(stripe.products.search({ query: 'name:"twin"', page: first.next_page }));
    assert.deepEqual([elsewhere.statusCode, elsewhere.param], [400, 'page']);
    // The same query spelt differently is the same query.
    const again = await stripe.customers.search({ query: `name:'twin'`, limit: 1, page: first.next_page });
    assert.equal(again.data.length, 1);
  });

  test('property: random queries never answer 5xx', async () => {
    const resources = ['customers', 'payment_intents', 'charges', 'invoices', 'subscriptions', 'prices', 'products'];
    const text = fc.array(fc.oneof(
      fc.constantFrom('email', 'amount', 'created', 'status', 'metadata', "['k']", '[', ']', "'", '"', '\\', ':', '~', '>', '<', '>=', '-', ' ', 'AND', 'OR', 'null', '.', '10', 'abc'),
      fc.string({ maxLength: 4 }),
    ), { minLength: 1, maxLength: 16 }).map((p) => p.join(''));
    await fc.assert(fc.asyncProperty(fc.constantFrom(...resources), text, async (resource, query) => {
      const res = await q(resource, query);
      assert.ok(res.status === 200 || res.status === 400, `${resource} ${JSON.stringify(query)}: HTTP ${res.status} ${res.text.slice(0, 300)}`);
      if (res.status === 400) assert.ok(['query', 'page'].includes(res.json.error.param), res.text);
      else assert.equal(res.json.object, 'search_result');
    }), { numRuns: Number(process.env.FC_NUM_RUNS ?? 150) });
  });
});

test('/v1/customers/search is not taken for an id: retrieving a customer still works beside it', async () => {
  const cu = await server.stripe().customers.create({ name: 'Route check' });
  assert.equal((await server.stripe().customers.retrieve(cu.id)).id, cu.id);
  assertOk(await send(server, 'GET', `/v1/customers/search?query=${pct(`name:"route check"`)}`));
});
