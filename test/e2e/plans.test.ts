/**
 * Plans (/v1/plans) through the official client: Stripe's legacy face of recurring prices. A plan
 * and its price share the id; a recurring price created as a price reads and lists as a plan;
 * changes through either face show on both, with plan.* and price.* events; deleting a plan
 * deletes its price (price.deleted), while subscriptions keep what they embed; items[][plan]
 * subscribes to a plan; refused parameters name themselves and why.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type Stripe from 'stripe';
import { useTestServer } from '../helpers/server.ts';
import { send, stripeError } from '../helpers/stripe_errors.ts';
import { eventsAbout } from '../helpers/events.ts';

const { server: s, stripe } = useTestServer();

/** The call fails with this status, and (when given) this code and param. */
async function refused(p: Promise<unknown>, want: { status: number; code?: string; param?: string }): Promise<void> {
  const e = await stripeError(p);
  assert.equal(e.statusCode, want.status, e.message);
  if (want.code) assert.equal(e.code, want.code, e.message);
  if (want.param) assert.equal(e.param, want.param, e.message);
}

describe('plans', () => {
  test('create with a product hash and a custom id: the plan, its price (same id), and their events', async () => {
    const id = `gold_${Date.now()}`;
    const plan = await stripe.plans.create({
      id, currency: 'usd', interval: 'month', interval_count: 2, amount: 1500, nickname: 'Gold', metadata: { tier: 'g' },
      trial_period_days: 7, product: { name: 'Gold membership', unit_label: 'seat' },
    });
    assert.deepEqual(
      [plan.id, plan.object, plan.amount, String(plan.amount_decimal), plan.interval, plan.interval_count, plan.currency, plan.nickname, plan.trial_period_days, plan.usage_type, plan.billing_scheme, plan.active],
      [id, 'plan', 1500, '1500', 'month', 2, 'usd', 'Gold', 7, 'licensed', 'per_unit', true]);
    assert.match(plan.product as string, /^prod_/);
    const price = await stripe.prices.retrieve(id);
    assert.deepEqual([price.id, price.type, price.unit_amount, price.recurring?.interval, price.recurring?.interval_count, price.recurring?.trial_period_days, price.product],
      [id, 'recurring', 1500, 'month', 2, 7, plan.product]);
    assert.deepEqual(await stripe.plans.retrieve(id), plan);
    assert.equal((await eventsAbout(stripe, 'plan.created', id)).length, 1);
    assert.equal((await eventsAbout(stripe, 'price.created', id)).length, 1);
    assert.equal((await eventsAbout(stripe, 'product.created', plan.product as string)).length, 1);
    const expanded = await stripe.plans.retrieve(id, { expand: ['product'] });
    assert.equal((expanded.product as Stripe.Product).name, 'Gold membership');

    await refused(stripe.plans.create({ id, currency: 'usd', interval: 'month', amount: 1, product: plan.product as string }), { status: 400, code: 'resource_already_exists', param: 'id' });
  });

  test('a recurring price is a plan (plan.created too); a one-time price is not', async () => {
    const price = await stripe.prices.create({ currency: 'usd', unit_amount: 900, recurring: { interval: 'year' }, product_data: { name: 'Yearly' } });
    const plan = await stripe.plans.retrieve(price.id);
    assert.deepEqual([plan.id, plan.amount, plan.interval, plan.product], [price.id, 900, 'year', price.product]);
    const [ev] = await eventsAbout(stripe, 'plan.created', price.id);
    assert.deepEqual(ev.data.object, JSON.parse(JSON.stringify(plan)));
    const oneTime = await stripe.prices.create({ currency: 'usd', unit_amount: 900, product: price.product as string });
    await refused(stripe.plans.retrieve(oneTime.id), { status: 404, code: 'resource_missing' });
    assert.equal((await eventsAbout(stripe, 'plan.created', oneTime.id)).length, 0);
  });

  test('update through the plan or the price: both faces change, plan.updated and price.updated carry previous_attributes', async () => {
    const plan = await stripe.plans.create({ currency: 'usd', interval: 'week', amount: 300, product: { name: 'Weekly' } });
    assert.match(plan.id, /^price_/);
    const up = await stripe.plans.update(plan.id, { nickname: 'W', metadata: { a: '1' }, trial_period_days: 3 });
    assert.deepEqual([up.nickname, up.metadata, up.trial_period_days], ['W', { a: '1' }, 3]);
    const [planEv] = await eventsAbout(stripe, 'plan.updated', plan.id);
    assert.deepEqual(planEv.data.previous_attributes, { nickname: null, metadata: {}, trial_period_days: null });
    const [priceEv] = await eventsAbout(stripe, 'price.updated', plan.id);
    assert.deepEqual(priceEv.data.previous_attributes, { nickname: null, metadata: {}, recurring: { ...(priceEv.data.object as Stripe.Price).recurring, trial_period_days: null } });
    await stripe.prices.update(plan.id, { active: false });
    assert.equal((await stripe.plans.retrieve(plan.id)).active, false);
    assert.equal((await eventsAbout(stripe, 'plan.updated', plan.id)).length, 2);
    // A change the plan does not show (lookup_key) is price.updated alone.
    await stripe.prices.update(plan.id, { lookup_key: `wk_${Date.now()}` });
    assert.equal((await eventsAbout(stripe, 'price.updated', plan.id)).length, 3);
    assert.equal((await eventsAbout(stripe, 'plan.updated', plan.id)).length, 2);
  });

  test('list: recurring prices as plans, filtered by product and active, paged', async () => {
    const product = await stripe.products.create({ name: 'Listed' });
    const a = await stripe.plans.create({ currency: 'usd', interval: 'month', amount: 100, product: product.id });
    const b = await stripe.plans.create({ currency: 'usd', interval: 'month', amount: 200, product: product.id, active: false });
    await stripe.prices.create({ currency: 'usd', unit_amount: 50, product: product.id });
    const all = await stripe.plans.list({ product: product.id });
    assert.deepEqual(all.data.map((p) => p.id), [b.id, a.id]);
    assert.ok(all.data.every((p) => p.object === 'plan'));
    assert.deepEqual((await stripe.plans.list({ product: product.id, active: true })).data.map((p) => p.id), [a.id]);
    const paged: string[] = [];
    for await (const p of stripe.plans.list({ product: product.id, limit: 1 })) paged.push(p.id);
    assert.deepEqual(paged, [b.id, a.id]);
    const r = await send(s, 'GET', `/v1/plans?product=${product.id}&include[]=total_count`);
    assert.equal(r.json.total_count, 2);
  });

  test('delete: the plan and its price are gone (plan.deleted, price.deleted); a subscription keeps it; no new one takes it', async () => {
    const plan = await stripe.plans.create({ currency: 'usd', interval: 'month', amount: 700, product: { name: 'Doomed' } });
    const customer = await stripe.customers.create({ email: 'plan@example.com', invoice_settings: { default_payment_method: 'pm_card_visa' } });
    const sub = await stripe.subscriptions.create({ customer: customer.id, items: [{ plan: plan.id }] });
    assert.equal(sub.items.data[0].plan.id, plan.id);
    assert.equal(sub.items.data[0].price.id, plan.id);
    const del = await stripe.plans.del(plan.id);
    assert.deepEqual(del, { id: plan.id, object: 'plan', deleted: true });
    await refused(stripe.plans.retrieve(plan.id), { status: 404, code: 'resource_missing' });
    await refused(stripe.prices.retrieve(plan.id), { status: 404, code: 'resource_missing' });
    assert.equal((await eventsAbout(stripe, 'plan.deleted', plan.id)).length, 1);
    assert.equal((await eventsAbout(stripe, 'price.deleted', plan.id)).length, 1);
    assert.equal((await stripe.subscriptions.retrieve(sub.id)).items.data[0].plan.id, plan.id);
    await refused(stripe.subscriptions.create({ customer: customer.id, items: [{ plan: plan.id }] }), { status: 400, code: 'resource_missing' });
    assert.ok(!(await stripe.prices.list({ product: plan.product as string })).data.some((p) => p.id === plan.id));
  });

  test('refused and invalid parameters name themselves', async () => {
    const product = await stripe.products.create({ name: 'Refusals' });
    const base = { currency: 'usd', interval: 'month', product: product.id } as const;
    await refused(stripe.plans.create({ ...base, amount: 100, tiers_mode: 'graduated' }), { status: 400, code: 'parameter_unsupported', param: 'tiers_mode' });
    await refused(stripe.plans.create({ ...base, amount: 100, usage_type: 'metered' }), { status: 400, code: 'parameter_unsupported', param: 'usage_type' });
    await refused(stripe.plans.create({ ...base }), { status: 400, code: 'parameter_missing', param: 'amount' });
    await refused(stripe.plans.create({ ...base, amount: 1, interval_count: 40 }), { status: 400, param: 'interval_count' });
    await refused(stripe.plans.create({ ...base, amount: 1, product: 'prod_missing' }), { status: 400, code: 'resource_missing', param: 'product' });
    const ok = await stripe.plans.create({ ...base, amount: 1, usage_type: 'licensed' });
    assert.equal(ok.usage_type, 'licensed');
  });
});
