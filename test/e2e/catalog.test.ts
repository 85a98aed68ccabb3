/**
 * Products and prices through the official stripe client, as Stripe's API reference describes
 * them: create, retrieve, update, list (filters, pagination), delete; default prices; lookup
 * keys; events; idempotent replays; and a Stripe-shaped 400 naming the parameter for bad input.
 */
import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import type Stripe from 'stripe';
import { useTestServer } from '../helpers/server.ts';
import { send, assertStripeError, assertOk, stripeError, type SendOptions } from '../helpers/stripe_errors.ts';
import { eventsAbout } from '../helpers/events.ts';

const { server: s, stripe } = useTestServer();

const post = (path: string, body: string, opts: SendOptions = {}) => send(s, 'POST', path, { body, ...opts });
const get = (path: string) => send(s, 'GET', path);

describe('products', () => {
  test('create, retrieve, update (metadata merge, clear), list, delete, then 404', async () => {
    const p = await stripe.products.create({
      name: 'T-shirt', description: 'Cotton', metadata: { sku: 'ts-1', color: 'red' }, shippable: true,
      statement_descriptor: 'ONCEPAY SHIRT', unit_label: 'shirt', url: 'https://example.com/shirt', images: ['https://example.com/a.png'],
    });
    assert.match(p.id, /^prod_[A-Za-z0-9]+$/);
    assert.equal(p.object, 'product');
    assert.equal(p.active, true);
    assert.equal(p.livemode, false);
    assert.equal(p.default_price, null);
    assert.deepEqual(p.images, ['https://example.com/a.png']);
    assert.deepEqual(p.marketing_features, []);
    assert.equal(p.package_dimensions, null);
    assert.equal(p.shippable, true);
    assert.equal(p.statement_descriptor, 'ONCEPAY SHIRT');
    assert.equal(p.unit_label, 'shirt');
    assert.equal(p.created, p.updated);
    assert.deepEqual(await stripe.products.retrieve(p.id), p);

    const up = await stripe.products.update(p.id, { name: 'Tee', metadata: { color: '', size: 'M' }, description: '', url: '', active: false });
    assert.equal(up.name, 'Tee');
    assert.deepEqual(up.metadata, { sku: 'ts-1', size: 'M' });
    assert.equal(up.description, null);
    assert.equal(up.url, null);
    assert.equal(up.active, false);
    assert.ok(up.updated >= p.updated);
    const cleared = await stripe.products.update(p.id, { images: '', unit_label: '' } as never);
    assert.deepEqual(cleared.images, []);
    assert.equal(cleared.unit_label, null);

    const [updated] = await eventsAbout(stripe, 'product.updated', p.id);
    assert.equal((updated.data.previous_attributes as Record<string, unknown>).name, 'T-shirt');
    assert.deepEqual((updated.data.previous_attributes as Record<string, unknown>).metadata, { sku: 'ts-1', color: 'red' });

    const del = await stripe.products.del(p.id);
    assert.deepEqual({ ...del }, { id: p.id, object: 'product', deleted: true });
    assert.equal((await stripeError(stripe.products.retrieve(p.id))).statusCode, 404);
    const again = await stripeError(stripe.products.del(p.id));
    assert.equal(again.statusCode, 404);
    assert.equal(again.code, 'resource_missing');
    assert.equal((await stripeError(stripe.products.update(p.id, { name: 'x' }))).statusCode, 404);
    const all = await stripe.products.list({ limit: 100 }).autoPagingToArray({ limit: 1000 });
    assert.ok(!all.some((x) => x.id === p.id), 'a deleted product is not listed');

    assert.equal((await eventsAbout(stripe, 'product.created', p.id)).length, 1);
    const [deleted] = await eventsAbout(stripe, 'product.deleted', p.id);
    assert.equal((deleted.data.object as Stripe.Product).name, 'Tee');
  });

  test('a custom id: used as given, unique per account (deleted products keep theirs), free in another account', async () => {
    const id = `gold-plan_${Date.now()}`;
    const p = await stripe.products.create({ id, name: 'Gold' });
    assert.equal(p.id, id);
    assert.equal((await stripe.products.retrieve(id)).name, 'Gold');
    const taken = await stripeError(stripe.products.create({ id, name: 'Gold again' }));
    assert.equal(taken.statusCode, 400);
    assert.equal(taken.code, 'resource_already_exists');
    assert.equal(taken.param, 'id');
    await stripe.products.del(id);
    assert.equal((await stripeError(stripe.products.create({ id, name: 'Gold 3' }))).code, 'resource_already_exists');
    const other = await s.newAccount();
    assert.equal((await s.stripe({ key: other.key }).products.create({ id, name: 'Theirs' })).id, id);
    assertStripeError(await post('/v1/products', 'name=x&id=has%20space'), { status: 400, param: 'id' });
    assertStripeError(await post('/v1/products', 'name=x&id=a/b'), { status: 400, param: 'id' });
  });

  test('list: newest first, active filter, shippable, url and ids filters, pagination both ways', async () => {
    const tag = `list${Date.now()}`;
    const made: Stripe.Product[] = [];
    for (let i = 0; i < 5; i++) {
      made.push(await stripe.products.create({ name: `${tag}-${i}`, active: i % 2 === 0, shippable: i === 1, url: i === 3 ? `https://example.com/${tag}` : undefined }));
    }
    const ids = made.map((p) => p.id);
    const page1 = await stripe.products.list({ ids, limit: 100 });
    assert.deepEqual(page1.data.map((p) => p.id), [...ids].reverse());
    assert.equal(page1.has_more, false);
    assert.equal(page1.url, '/v1/products');
    assert.deepEqual((await stripe.products.list({ ids, active: true })).data.map((p) => p.id), [ids[4], ids[2], ids[0]]);
    assert.deepEqual((await stripe.products.list({ ids, active: false })).data.map((p) => p.id), [ids[3], ids[1]]);
    assert.deepEqual((await stripe.products.list({ ids, shippable: true })).data.map((p) => p.id), [ids[1]]);
    assert.deepEqual((await stripe.products.list({ url: `https://example.com/${tag}` })).data.map((p) => p.id), [ids[3]]);

    const first = await stripe.products.list({ limit: 2 });
    assert.deepEqual(first.data.map((p) => p.id), [ids[4], ids[3]]);
    assert.equal(first.has_more, true);
    const next = await stripe.products.list({ limit: 2, starting_after: ids[3] });
    assert.deepEqual(next.data.map((p) => p.id), [ids[2], ids[1]]);
    const back = await stripe.products.list({ limit: 2, ending_before: ids[1] });
    assert.deepEqual(back.data.map((p) => p.id), [ids[3], ids[2]]);
    const auto = await stripe.products.list({ limit: 2 }).autoPagingToArray({ limit: 1000 });
    assert.deepEqual(auto.slice(0, 5).map((p) => p.id), [...ids].reverse());

    assertStripeError(await get(`/v1/products?ids[0]=${ids[0]}&starting_after=${ids[1]}`), { status: 400, param: 'ids' });
    assertStripeError(await get('/v1/products?active=maybe'), { status: 400, param: 'active' });
    assertStripeError(await get('/v1/products?limit=0'), { status: 400, param: 'limit' });
    assertStripeError(await get('/v1/products?starting_after=prod_nope'), { status: 400, code: 'resource_missing', param: 'starting_after' });
  });

  test('default_price_data creates the default price; default_price can move to another price of the product, or be cleared', async () => {
    const p = await stripe.products.create({
      name: 'Pro plan', default_price_data: { currency: 'usd', unit_amount: 1500, recurring: { interval: 'month' } }, expand: ['default_price'],
    });
    const dp = p.default_price as Stripe.Price;
    assert.match(dp.id, /^price_/);
    assert.equal(dp.product, p.id);
    assert.equal(dp.unit_amount, 1500);
    assert.equal(dp.type, 'recurring');
    assert.deepEqual(dp.recurring, { interval: 'month', interval_count: 1, meter: null, trial_period_days: null, usage_type: 'licensed' });
    assert.equal((await stripe.products.retrieve(p.id)).default_price, dp.id);
    assert.equal((await eventsAbout(stripe, 'price.created', dp.id)).length, 1);
    const [created] = await eventsAbout(stripe, 'product.created', p.id);
    assert.equal((created.data.object as Stripe.Product).default_price, dp.id);

    const yearly = await stripe.prices.create({ product: p.id, currency: 'usd', unit_amount: 15000, recurring: { interval: 'year' } });
    const moved = await stripe.products.update(p.id, { default_price: yearly.id });
    assert.equal(moved.default_price, yearly.id);
    const [ev] = await eventsAbout(stripe, 'product.updated', p.id);
    assert.equal((ev.data.previous_attributes as Record<string, unknown>).default_price, dp.id);

    const other = await stripe.prices.create({ product_data: { name: 'Other' }, currency: 'usd', unit_amount: 1 });
    const foreign = await stripeError(stripe.products.update(p.id, { default_price: other.id }));
    assert.equal(foreign.statusCode, 400);
    assert.equal(foreign.param, 'default_price');
    const missing = await stripeError(stripe.products.update(p.id, { default_price: 'price_nope' }));
    assert.equal(missing.statusCode, 400);
    assert.equal(missing.code, 'resource_missing');
    assert.equal(missing.param, 'default_price');

    // The default price cannot be archived; once it is no longer the default, it can.
    const archive = await stripeError(stripe.prices.update(yearly.id, { active: false }));
    assert.equal(archive.statusCode, 400);
    assert.equal(archive.param, 'active');
    assert.equal(archive.message, 'This price cannot be archived because it is the default price of its product.');
    assert.equal((await stripe.prices.update(dp.id, { active: false })).active, false);
    const inactive = await stripeError(stripe.products.update(p.id, { default_price: dp.id }));
    assert.equal(inactive.param, 'default_price');
    assert.equal((await stripe.products.update(p.id, { default_price: '' } as never)).default_price, null);
    assert.equal((await stripe.prices.update(yearly.id, { active: false })).active, false);

    // A product that has prices cannot be deleted.
    const refused = await stripeError(stripe.products.del(p.id));
    assert.equal(refused.statusCode, 400);
    assert.equal(refused.type, 'StripeInvalidRequestError');
    assert.equal(refused.message, 'This product cannot be deleted because it has one or more user-created prices.');
    assert.equal((await stripe.products.retrieve(p.id)).id, p.id);
    assert.equal((await eventsAbout(stripe, 'product.deleted', p.id)).length, 0);
  });

  test('default_price_data with unit_amount_decimal; its bad input names default_price_data[...]', async () => {
    const p = assertOk(await post('/v1/products', 'name=Decimal&default_price_data[currency]=eur&default_price_data[unit_amount_decimal]=250.00'));
    const price = assertOk(await get(`/v1/prices/${p.default_price}`));
    assert.equal(price.unit_amount, 250);
    assert.equal(price.unit_amount_decimal, '250');
    assert.equal(price.type, 'one_time');
    assert.equal(price.recurring, null);
    assertStripeError(await post('/v1/products', 'name=x&default_price_data[currency]=usd'), { status: 400, code: 'parameter_missing', param: 'default_price_data[unit_amount]' });
    assertStripeError(await post('/v1/products', 'name=x&default_price_data[unit_amount]=5'), { status: 400, code: 'parameter_missing', param: 'default_price_data[currency]' });
    assertStripeError(await post('/v1/products', 'name=x&default_price_data[currency]=usd&default_price_data[unit_amount]=-5'), { status: 400, param: 'default_price_data[unit_amount]' });
    assertStripeError(await post('/v1/products', 'name=x&default_price_data[currency]=usd&default_price_data[unit_amount]=5&default_price_data[recurring][interval]=fortnight'), { status: 400, param: 'default_price_data[recurring][interval]' });
    assertStripeError(await post('/v1/products', 'name=x&default_price_data[currency]=usd&default_price_data[unit_amount]=5&default_price_data[recurring][interval]=month&default_price_data[recurring][interval_count]=37'), { status: 400, param: 'default_price_data[recurring][interval_count]' });
    assertStripeError(await post('/v1/products', 'name=x&default_price_data[currency]=usd&default_price_data[unit_amount]=5&default_price_data[unit_amount_decimal]=5'), { status: 400, param: 'default_price_data[unit_amount_decimal]' });
  });

  test('bad input for every parameter: 400 naming it, nothing created', async () => {
    const before = (await stripe.products.list({ limit: 1 })).data[0]?.id;
    const cases: [string, string, string?][] = [
      ['', 'name', 'parameter_missing'],
      ['description=x', 'name', 'parameter_missing'],
      ['name=', 'name', 'parameter_invalid_empty'],
      ['name=x&active=maybe', 'active', 'parameter_invalid_boolean'],
      ['name=x&shippable=2', 'shippable', 'parameter_invalid_boolean'],
      ['name=x&metadata=oops', 'metadata', 'parameter_invalid_hash'],
      [`name=x&metadata[${'k'.repeat(41)}]=v`, `metadata[${'k'.repeat(41)}]`],
      [`name=x&statement_descriptor=${'A'.repeat(23)}`, 'statement_descriptor', 'parameter_invalid_string'],
      ['name=x&statement_descriptor=12345', 'statement_descriptor'],
      ['name=x&statement_descriptor=AB%3CCD', 'statement_descriptor'],
      [`name=x&unit_label=${'u'.repeat(13)}`, 'unit_label', 'parameter_invalid_string'],
      [`name=x&${Array.from({ length: 9 }, (_, i) => `images[${i}]=https://e.x/${i}`).join('&')}`, 'images', 'parameter_invalid_array'],
      ['name=x&images=notalist', 'images', 'parameter_invalid_array'],
      [`name=x&url=${'u'.repeat(5001)}`, 'url', 'parameter_invalid_string'],
      ['name=x&type=gadget', 'type'],
      ['name=x&tax_code=txcd_10000000', 'tax_code', 'parameter_unsupported'],
      ['name=x&package_dimensions[height]=1', 'package_dimensions', 'parameter_unsupported'],
      ['name=x&marketing_features[0][name]=Fast', 'marketing_features', 'parameter_unsupported'],
      ['name=x&default_price_data=1', 'default_price_data', 'parameter_invalid_hash'],
    ];
    for (const [body, param, code] of cases) {
      assertStripeError(await post('/v1/products', body), { status: 400, param, ...(code ? { code } : {}) });
    }
    assert.equal((await stripe.products.list({ limit: 1 })).data[0]?.id, before, 'nothing was created');
    const p = await stripe.products.create({ name: 'valid' });
    for (const [body, param] of [['name=', 'name'], ['default_price=', ''], ['active=x', 'active'], ['unknown=1', 'unknown'], ['statement_descriptor=%22quoted%22', 'statement_descriptor']] as const) {
      const res = await post(`/v1/products/${p.id}`, body);
      if (param === '') assert.equal(res.status, 200);
      else assertStripeError(res, { status: 400, param });
    }
    assertStripeError(await post('/v1/products/prod_missing', 'name=x'), { status: 404, code: 'resource_missing' });
    assertStripeError(await get('/v1/products/prod_missing'), { status: 404, code: 'resource_missing' });
    assertStripeError(await send(s, 'DELETE', '/v1/products/prod_missing'), { status: 404, code: 'resource_missing' });
    assertStripeError(await get(`/v1/products/${p.id}?expand[]=nothing`), { status: 400, param: 'expand' });
  });

  test('create replays under one Idempotency-Key: same product, byte for byte, one event', async () => {
    const key = `prod-${Date.now()}`;
    const headers = { 'Idempotency-Key': key };
    const first = await post('/v1/products', 'name=Once&default_price_data[currency]=usd&default_price_data[unit_amount]=100', { headers });
    const second = await post('/v1/products', 'name=Once&default_price_data[currency]=usd&default_price_data[unit_amount]=100', { headers });
    const p = assertOk(first);
    assert.equal(second.text, first.text);
    assert.equal(second.headers.get('idempotent-replayed'), 'true');
    assert.equal((await eventsAbout(stripe, 'product.created', p.id)).length, 1);
    assert.equal((await eventsAbout(stripe, 'price.created', p.default_price)).length, 1);
    assert.equal((await stripe.prices.list({ product: p.id })).data.length, 1);
    const viaClient = await stripe.products.create({ name: 'Client' }, { idempotencyKey: `${key}-c` });
    const again = await stripe.products.create({ name: 'Client' }, { idempotencyKey: `${key}-c` });
    assert.equal(again.id, viaClient.id);
    assert.equal((await eventsAbout(stripe, 'product.created', viaClient.id)).length, 1);
    // The same key with other parameters is refused.
    const mismatch = await stripeError(stripe.products.create({ name: 'Different' }, { idempotencyKey: `${key}-c` }));
    assert.equal(mismatch.type, 'StripeIdempotencyError');
  });
});

describe('prices', () => {
  let product: Stripe.Product;
  before(async () => { product = await stripe.products.create({ name: 'Prices host' }); });

  test('one-time and recurring prices: the object as Stripe renders it, retrieve, expand product', async () => {
    const once = await stripe.prices.create({ product: product.id, currency: 'USD', unit_amount: 0, nickname: 'free', metadata: { a: '1' } });
    assert.match(once.id, /^price_[A-Za-z0-9]+$/);
    assert.equal(String(once.unit_amount_decimal), '0', 'the client reads unit_amount_decimal as a Decimal');
    assert.deepEqual({ ...once, unit_amount_decimal: String(once.unit_amount_decimal) }, {
      id: once.id, object: 'price', active: true, billing_scheme: 'per_unit', created: once.created, currency: 'usd', custom_unit_amount: null,
      livemode: false, external_id: null, lookup_key: null, metadata: { a: '1' }, nickname: 'free', product: product.id, recurring: null,
      tax_behavior: 'unspecified', tiers_mode: null, transform_quantity: null, type: 'one_time', unit_amount: 0, unit_amount_decimal: '0',
    });
    const weekly = await stripe.prices.create({ product: product.id, currency: 'eur', unit_amount: 700, recurring: { interval: 'week', interval_count: 2, usage_type: 'licensed' } });
    assert.equal(weekly.type, 'recurring');
    assert.deepEqual(weekly.recurring, { interval: 'week', interval_count: 2, meter: null, trial_period_days: null, usage_type: 'licensed' });
    for (const [interval, max] of [['day', 1095], ['week', 156], ['month', 36], ['year', 3]] as const) {
      const longest = await stripe.prices.create({ product: product.id, currency: 'usd', unit_amount: 1, recurring: { interval, interval_count: max } });
      assert.equal(longest.recurring?.interval_count, max);
      assertStripeError(await post('/v1/prices', `product=${product.id}&currency=usd&unit_amount=1&recurring[interval]=${interval}&recurring[interval_count]=${max + 1}`),
        { status: 400, param: 'recurring[interval_count]' });
    }
    const got = await stripe.prices.retrieve(weekly.id, { expand: ['product'] });
    assert.equal((got.product as Stripe.Product).name, 'Prices host');
    assert.deepEqual(await stripe.prices.retrieve(weekly.id), weekly);
    const [ev] = await eventsAbout(stripe, 'price.created', weekly.id);
    assert.equal((ev.data.object as Stripe.Price).unit_amount, 700);
  });

  test('product_data creates the product (product.created, then price.created); a custom id in it is checked', async () => {
    const id = `pd_${Date.now()}`;
    const price = await stripe.prices.create({ currency: 'usd', unit_amount: 999, product_data: { name: 'Made inline', id, metadata: { k: 'v' }, unit_label: 'seat' } });
    assert.equal(price.product, id);
    const p = await stripe.products.retrieve(id);
    assert.deepEqual({ name: p.name, metadata: p.metadata, unit_label: p.unit_label, default_price: p.default_price }, { name: 'Made inline', metadata: { k: 'v' }, unit_label: 'seat', default_price: null });
    assert.equal((await eventsAbout(stripe, 'product.created', id)).length, 1);
    const taken = await stripeError(stripe.prices.create({ currency: 'usd', unit_amount: 1, product_data: { name: 'again', id } }));
    assert.equal(taken.code, 'resource_already_exists');
    assert.equal(taken.param, 'product_data[id]');
  });

  test('update: nickname, metadata, active; amount and currency are immutable; events with previous_attributes', async () => {
    const price = await stripe.prices.create({ product: product.id, currency: 'usd', unit_amount: 500, nickname: 'n1' });
    const up = await stripe.prices.update(price.id, { nickname: 'n2', metadata: { x: 'y' }, active: false });
    assert.deepEqual({ nickname: up.nickname, metadata: up.metadata, active: up.active }, { nickname: 'n2', metadata: { x: 'y' }, active: false });
    const [ev] = await eventsAbout(stripe, 'price.updated', price.id);
    assert.deepEqual(ev.data.previous_attributes, { active: true, metadata: {}, nickname: 'n1' });
    assert.equal((await stripe.prices.update(price.id, { nickname: '' } as never)).nickname, null);
    for (const field of ['unit_amount=600', 'currency=eur', `product=${product.id}`, 'recurring[interval]=month', 'type=recurring']) {
      assertStripeError(await post(`/v1/prices/${price.id}`, field), { status: 400, code: 'parameter_unknown' });
    }
    const none = await stripe.prices.update(price.id, {});
    assert.equal(none.unit_amount, 500);
    assert.equal((await eventsAbout(stripe, 'price.updated', price.id)).length, 2, 'an update that changes nothing emits nothing');
    assertStripeError(await post('/v1/prices/price_missing', 'nickname=x'), { status: 404, code: 'resource_missing' });
    assertStripeError(await get('/v1/prices/price_missing'), { status: 404, code: 'resource_missing' });
  });

  test('lookup_key: unique among active prices, transfer_lookup_key moves it, archived prices do not hold it', async () => {
    const key = `standard_${Date.now()}`;
    const a = await stripe.prices.create({ product: product.id, currency: 'usd', unit_amount: 100, lookup_key: key });
    assert.equal(a.lookup_key, key);
    const clash = await stripeError(stripe.prices.create({ product: product.id, currency: 'usd', unit_amount: 200, lookup_key: key }));
    assert.equal(clash.statusCode, 400);
    assert.equal(clash.param, 'lookup_key');
    assert.match(clash.message, new RegExp(a.id));

    const b = await stripe.prices.create({ product: product.id, currency: 'usd', unit_amount: 200, lookup_key: key, transfer_lookup_key: true });
    assert.equal(b.lookup_key, key);
    assert.equal((await stripe.prices.retrieve(a.id)).lookup_key, null);
    const [lost] = await eventsAbout(stripe, 'price.updated', a.id);
    assert.deepEqual(lost.data.previous_attributes, { lookup_key: key });
    assert.deepEqual((await stripe.prices.list({ lookup_keys: [key] })).data.map((p) => p.id), [b.id]);

    // Update: taking a held key is refused unless transferred.
    const c = await stripe.prices.create({ product: product.id, currency: 'usd', unit_amount: 300 });
    assert.equal((await stripeError(stripe.prices.update(c.id, { lookup_key: key }))).param, 'lookup_key');
    assert.equal((await stripe.prices.update(c.id, { lookup_key: key, transfer_lookup_key: true })).lookup_key, key);
    assert.equal((await stripe.prices.retrieve(b.id)).lookup_key, null);

    // An archived price keeps its key but does not hold it; reactivating it while another holds the key is refused.
    await stripe.prices.update(c.id, { active: false });
    const d = await stripe.prices.create({ product: product.id, currency: 'usd', unit_amount: 400, lookup_key: key });
    assert.equal(d.lookup_key, key);
    assert.equal((await stripeError(stripe.prices.update(c.id, { active: true }))).param, 'lookup_key');
    assert.equal((await stripe.prices.update(c.id, { lookup_key: '' } as never)).lookup_key, null);
    assert.equal((await stripe.prices.update(c.id, { active: true })).active, true);
    assertStripeError(await post('/v1/prices', `product=${product.id}&currency=usd&unit_amount=1&lookup_key=${'k'.repeat(201)}`), { status: 400, param: 'lookup_key' });
  });

  test('list: filters product, active, type, currency, lookup_keys, recurring; pagination; expand data.product', async () => {
    const host = await stripe.products.create({ name: 'List host' });
    const made = [
      await stripe.prices.create({ product: host.id, currency: 'usd', unit_amount: 1 }),
      await stripe.prices.create({ product: host.id, currency: 'eur', unit_amount: 2, recurring: { interval: 'month' } }),
      await stripe.prices.create({ product: host.id, currency: 'usd', unit_amount: 3, recurring: { interval: 'year' }, active: false }),
      await stripe.prices.create({ product: host.id, currency: 'usd', unit_amount: 4, recurring: { interval: 'month' }, lookup_key: `lk_${host.id}` }),
    ];
    const ids = (list: Stripe.ApiList<Stripe.Price>) => list.data.map((p) => p.unit_amount);
    assert.deepEqual(ids(await stripe.prices.list({ product: host.id })), [4, 3, 2, 1]);
    assert.deepEqual(ids(await stripe.prices.list({ product: host.id, active: true })), [4, 2, 1]);
    assert.deepEqual(ids(await stripe.prices.list({ product: host.id, active: false })), [3]);
    assert.deepEqual(ids(await stripe.prices.list({ product: host.id, type: 'one_time' })), [1]);
    assert.deepEqual(ids(await stripe.prices.list({ product: host.id, type: 'recurring' })), [4, 3, 2]);
    assert.deepEqual(ids(await stripe.prices.list({ product: host.id, currency: 'eur' })), [2]);
    assert.deepEqual(ids(await stripe.prices.list({ product: host.id, currency: 'usd', recurring: { interval: 'month' } })), [4]);
    assert.deepEqual(ids(await stripe.prices.list({ product: host.id, recurring: { usage_type: 'licensed' } })), [4, 3, 2]);
    assert.deepEqual(ids(await stripe.prices.list({ lookup_keys: [`lk_${host.id}`, 'nope'] })), [4]);
    const first = await stripe.prices.list({ product: host.id, limit: 3 });
    assert.equal(first.has_more, true);
    assert.equal(first.url, '/v1/prices');
    assert.deepEqual(ids(await stripe.prices.list({ product: host.id, limit: 3, starting_after: first.data[2].id })), [1]);
    assert.deepEqual(ids(await stripe.prices.list({ product: host.id, limit: 2, ending_before: made[0].id })), [3, 2]);
    const auto = await stripe.prices.list({ product: host.id, limit: 1 }).autoPagingToArray({ limit: 10 });
    assert.deepEqual(auto.map((p) => p.unit_amount), [4, 3, 2, 1]);
    const expanded = await stripe.prices.list({ product: host.id, limit: 1, expand: ['data.product'] });
    assert.equal((expanded.data[0].product as Stripe.Product).id, host.id);
    assertStripeError(await get('/v1/prices?type=metered'), { status: 400, param: 'type' });
    assertStripeError(await get('/v1/prices?currency=zzz'), { status: 400, param: 'currency' });
    assertStripeError(await get('/v1/prices?recurring[interval]=hour'), { status: 400, param: 'recurring[interval]' });
    assertStripeError(await get(`/v1/prices?${Array.from({ length: 11 }, (_, i) => `lookup_keys[${i}]=k${i}`).join('&')}`), { status: 400, param: 'lookup_keys' });
    assertStripeError(await get('/v1/prices?expand[]=product'), { status: 400, param: 'expand' });
  });

  test('bad input for every parameter: 400 naming it, nothing created', async () => {
    const host = await stripe.products.create({ name: 'Bad input host' });
    const ok = `product=${host.id}&currency=usd`;
    const cases: [string, string, string?][] = [
      [`product=${host.id}&unit_amount=5`, 'currency', 'parameter_missing'],
      [`${ok}`, 'unit_amount', 'parameter_missing'],
      ['currency=usd&unit_amount=5', 'product', 'parameter_missing'],
      [`${ok}&unit_amount=5&product_data[name]=x`, 'product_data'],
      [`product=prod_nope&currency=usd&unit_amount=5`, 'product', 'resource_missing'],
      [`${ok}&unit_amount=-1`, 'unit_amount', 'parameter_invalid_integer'],
      [`${ok}&unit_amount=1.5`, 'unit_amount', 'parameter_invalid_integer'],
      [`${ok}&unit_amount=abc`, 'unit_amount', 'parameter_invalid_integer'],
      [`${ok}&unit_amount=100000000`, 'unit_amount', 'parameter_invalid_integer'],
      [`${ok}&unit_amount=5&unit_amount_decimal=5`, 'unit_amount_decimal'],
      [`${ok}&unit_amount_decimal=12.5`, 'unit_amount_decimal'],
      [`${ok}&unit_amount_decimal=-3`, 'unit_amount_decimal'],
      [`product=${host.id}&currency=xyz&unit_amount=5`, 'currency', 'parameter_invalid_currency'],
      [`${ok}&unit_amount=5&recurring[interval]=fortnight`, 'recurring[interval]'],
      [`${ok}&unit_amount=5&recurring[interval_count]=2`, 'recurring[interval]', 'parameter_missing'],
      [`${ok}&unit_amount=5&recurring[interval]=month&recurring[interval_count]=0`, 'recurring[interval_count]', 'parameter_invalid_integer'],
      [`${ok}&unit_amount=5&recurring[interval]=month&recurring[interval_count]=37`, 'recurring[interval_count]'],
      [`${ok}&unit_amount=5&recurring[interval]=year&recurring[interval_count]=4`, 'recurring[interval_count]'],
      [`${ok}&unit_amount=5&recurring[interval]=month&recurring[usage_type]=metered`, 'recurring[usage_type]'],
      [`${ok}&unit_amount=5&recurring[interval]=month&recurring[aggregate_usage]=sum`, 'recurring[aggregate_usage]', 'parameter_unknown'],
      [`${ok}&unit_amount=5&recurring=month`, 'recurring', 'parameter_invalid_hash'],
      [`${ok}&unit_amount=5&active=nope`, 'active', 'parameter_invalid_boolean'],
      [`${ok}&unit_amount=5&lookup_key=`, 'lookup_key', 'parameter_invalid_empty'],
      [`${ok}&unit_amount=5&transfer_lookup_key=1x`, 'transfer_lookup_key', 'parameter_invalid_boolean'],
      [`${ok}&unit_amount=5&nickname[a]=b`, 'nickname', 'parameter_invalid_string'],
      [`${ok}&unit_amount=5&billing_scheme=tiered`, 'billing_scheme'],
      [`${ok}&unit_amount=5&tax_behavior=exclusive`, 'tax_behavior'],
      [`${ok}&unit_amount=5&metadata[k]=${'v'.repeat(501)}`, 'metadata[k]'],
      ['currency=usd&unit_amount=5&product_data[active]=true', 'product_data[name]', 'parameter_missing'],
      ['currency=usd&unit_amount=5&product_data[name]=x&product_data[description]=d', 'product_data[description]', 'parameter_unknown'],
      [`${ok}&unit_amount=5&tiers[0][up_to]=inf`, 'tiers', 'parameter_unsupported'],
      [`${ok}&unit_amount=5&currency_options[eur][unit_amount]=4`, 'currency_options', 'parameter_unsupported'],
      [`${ok}&unit_amount=5&recurring[interval]=month&recurring[trial_period_days]=-1`, 'recurring[trial_period_days]', 'parameter_invalid_integer'],
      [`${ok}&unit_amount=5&recurring[interval]=month&recurring[meter]=mtr_1`, 'recurring[meter]', 'parameter_unsupported'],
    ];
    for (const [body, param, code] of cases) {
      assertStripeError(await post('/v1/prices', body), { status: 400, param, ...(code ? { code } : {}) });
    }
    assert.equal((await stripe.prices.list({ product: host.id })).data.length, 0, 'nothing was created');
    const price = await stripe.prices.create({ product: host.id, currency: 'usd', unit_amount: 5 });
    for (const [body, param] of [['active=x', 'active'], [`lookup_key=${'l'.repeat(201)}`, 'lookup_key'], ['metadata=x', 'metadata'], ['tax_behavior=inclusive', 'tax_behavior']] as const) {
      assertStripeError(await post(`/v1/prices/${price.id}`, body), { status: 400, param });
    }
  });

  test('concurrent claims of one lookup key or one product id: exactly one wins, the others get a 400 (never a 500)', async () => {
    const key = `race_${Date.now()}`;
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) =>
      post('/v1/prices', `product=${product.id}&currency=usd&unit_amount=${i + 1}&lookup_key=${key}`)));
    assert.deepEqual(results.map((r) => r.status).sort(), [200, 400, 400, 400, 400, 400]);
    for (const r of results.filter((x) => x.status === 400)) assertStripeError(r, { status: 400, param: 'lookup_key' });
    assert.equal((await stripe.prices.list({ lookup_keys: [key] })).data.length, 1);

    const id = `race-prod-${Date.now()}`;
    const made = await Promise.all(Array.from({ length: 6 }, (_, i) => post('/v1/products', `id=${id}&name=n${i}`)));
    assert.deepEqual(made.map((r) => r.status).sort(), [200, 400, 400, 400, 400, 400]);
    for (const r of made.filter((x) => x.status === 400)) assertStripeError(r, { status: 400, code: 'resource_already_exists', param: 'id' });
  });

  test('create replays under one Idempotency-Key: same price, one event', async () => {
    const key = `price-${Date.now()}`;
    const a = await stripe.prices.create({ product: product.id, currency: 'usd', unit_amount: 42 }, { idempotencyKey: key });
    const b = await stripe.prices.create({ product: product.id, currency: 'usd', unit_amount: 42 }, { idempotencyKey: key });
    assert.equal(b.id, a.id);
    assert.equal(b.lastResponse.headers['idempotent-replayed'], 'true');
    assert.equal((await eventsAbout(stripe, 'price.created', a.id)).length, 1);
    const del = await send(s, 'DELETE', `/v1/products/${product.id}`, { headers: { 'Idempotency-Key': `${key}-del` } });
    const again = await send(s, 'DELETE', `/v1/products/${product.id}`, { headers: { 'Idempotency-Key': `${key}-del` } });
    assertStripeError(del, { status: 400 });
    assert.equal(again.text, del.text);
  });
});

describe('external_id', () => {
  test('products, prices and test clocks: the same payload returns the first object (no second event), another payload is 409 already_exists naming it', async () => {
    const tag = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
    const cases = [
      { path: '/v1/products', body: `name=Gold&external_id=prod-${tag}`, other: `name=Silver&external_id=prod-${tag}`, event: 'product.created' },
      { path: '/v1/prices', body: `currency=usd&unit_amount=700&product_data[name]=P&external_id=price-${tag}`, other: `currency=usd&unit_amount=800&product_data[name]=P&external_id=price-${tag}`, event: 'price.created' },
      { path: '/v1/test_helpers/test_clocks', body: `frozen_time=1767225600&external_id=clock-${tag}`, other: `frozen_time=1767225601&external_id=clock-${tag}`, event: 'test_helpers.test_clock.created' },
    ];
    for (const c of cases) {
      const first = assertOk(await post(c.path, c.body));
      assert.equal(first.external_id, c.body.match(/external_id=([^&]+)/)![1]);
      // A new key each time: the business key, not the idempotency key, finds the object.
      const again = assertOk(await post(c.path, c.body, { headers: { 'Idempotency-Key': `again-${tag}-${c.path}` } }));
      assert.equal(again.id, first.id, c.path);
      const clash = assertStripeError(await post(c.path, c.other), { status: 409, code: 'already_exists', param: 'external_id' });
      assert.equal(clash.existing_id, first.id);
      const created = (await stripe.events.list({ type: c.event, limit: 100 })).data.filter((e) => (e.data.object as { id: string }).id === first.id);
      assert.equal(created.length, 1, `${c.event} once for ${first.id}`);
    }
    const gone = assertOk(await post('/v1/products', `name=Gone&external_id=gone-${tag}`));
    await stripe.products.del(gone.id);
    assertStripeError(await post('/v1/products', `name=Gone&external_id=gone-${tag}`), { status: 400, code: 'resource_missing', param: 'external_id' });
  });
});
