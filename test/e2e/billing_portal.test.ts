/**
 * The customer portal's API through the official client: configurations (features checked against
 * the catalog, retrieve, update, list filters, is_default), sessions (the configuration and
 * return_url they default to, an unguessable URL on this server, deep-link flows on the
 * customer's subscriptions), their events (once each), a retried create under one key (one
 * session), bad inputs (Stripe's error shape naming the parameter, nothing written), and the
 * lookup the portal page starts from (portalSessionByToken).
 */
process.env.ONCEPAY_STRIPE_TYPES = 'enforce';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type Stripe from 'stripe';
import { useTestServer } from '../helpers/server.ts';
import { eventsAbout, storedEvents } from '../helpers/events.ts';
import { uniqueKey } from '../helpers/unique.ts';
import { portalSessionByToken } from '../../src/portal/portal_objects.ts';
import { DEFAULT_FEATURES } from '../../src/portal/configurations.ts';

const { server, stripe } = useTestServer();

type Configuration = Stripe.BillingPortal.Configuration;

const RETURN = 'https://shop.example/account';

async function recurringPrice(product?: string): Promise<Stripe.Price> {
  return stripe.prices.create({
    currency: 'usd', unit_amount: 1200, recurring: { interval: 'month' },
    ...(product ? { product } : { product_data: { name: uniqueKey('Plan') } }),
  });
}

async function subscribedCustomer(price: string): Promise<{ customer: Stripe.Customer; subscription: Stripe.Subscription }> {
  const customer = await stripe.customers.create({ email: `${uniqueKey('c')}@example.com`, invoice_settings: { default_payment_method: 'pm_card_visa' } });
  const subscription = await stripe.subscriptions.create({ customer: customer.id, items: [{ price }] });
  assert.equal(subscription.status, 'active');
  return { customer, subscription };
}

/** A fresh account with its own client: is_default depends on what the account already has. */
async function freshAccount(): Promise<Stripe> {
  const acct = await server.newAccount();
  return server.stripe({ key: acct.key });
}

/** The rows of a table for an account, straight from the database (what was written). */
async function rowCount(table: 'billing_portal_sessions' | 'billing_portal_configurations', accountId = server.accountId): Promise<number> {
  const { rows } = await server.oncepay.db.query<{ n: string }>(`SELECT count(*) AS n FROM ${table} WHERE account_id = $1`, [accountId]);
  return Number(rows[0].n);
}

const tokenOf = (url: string) => new URL(url).pathname.split('/').pop()!;

describe('configurations', () => {
  test('create takes every feature Oncepay honours, validates the products against the catalog, and emits billing_portal.configuration.created once', async () => {
    const basic = await recurringPrice();
    const product = basic.product as string;
    const premium = await recurringPrice(product);
    const config = await stripe.billingPortal.configurations.create({
      business_profile: { headline: 'Acme billing', privacy_policy_url: 'https://shop.example/privacy', terms_of_service_url: 'https://shop.example/terms' },
      default_return_url: RETURN,
      features: {
        customer_update: { enabled: true, allowed_updates: ['email', 'address', 'tax_id'] },
        invoice_history: { enabled: true },
        payment_method_update: { enabled: true },
        subscription_cancel: {
          enabled: true, mode: 'immediately', proration_behavior: 'none',
          cancellation_reason: { enabled: true, options: ['too_expensive', 'unused'] },
        },
        subscription_pause: { enabled: false },
        subscription_update: {
          enabled: true, default_allowed_updates: ['price', 'quantity'], proration_behavior: 'none',
          products: [{ product, prices: [basic.id, premium.id], adjustable_quantity: { enabled: true, maximum: 5 } }],
        },
      },
      login_page: { enabled: false },
      metadata: { team: 'billing' },
      name: 'Main portal',
    });
    assert.equal(config.object, 'billing_portal.configuration');
    assert.match(config.id, /^bpc_/);
    assert.equal(config.active, true);
    assert.equal(config.livemode, false);
    assert.equal(config.name, 'Main portal');
    assert.deepEqual(config.metadata, { team: 'billing' });
    assert.equal(config.default_return_url, RETURN);
    assert.deepEqual(config.business_profile, { headline: 'Acme billing', privacy_policy_url: 'https://shop.example/privacy', terms_of_service_url: 'https://shop.example/terms' });
    assert.deepEqual(config.login_page, { enabled: false, url: null });
    const f = config.features;
    assert.deepEqual(f.customer_update, { allowed_updates: ['email', 'address', 'tax_id'], enabled: true });
    assert.deepEqual(f.invoice_history, { enabled: true });
    assert.deepEqual(f.payment_method_update, { enabled: true, payment_method_configuration: null });
    assert.deepEqual(f.subscription_cancel, {
      cancellation_reason: { enabled: true, feedback_options: null, options: ['too_expensive', 'unused'] }, enabled: true, mode: 'immediately', proration_behavior: 'none',
    });
    assert.equal(f.subscription_pause.enabled, false);
    assert.equal(f.subscription_update.enabled, true);
    assert.deepEqual(f.subscription_update.default_allowed_updates, ['price', 'quantity']);
    assert.deepEqual(f.subscription_update.products, [{ adjustable_quantity: { enabled: true, maximum: 5, minimum: 1 }, prices: [basic.id, premium.id], product }]);
    assert.equal(f.subscription_update.proration_behavior, 'none');
    assert.equal(config.created, config.updated);

    const events = await eventsAbout(stripe, 'billing_portal.configuration.created', config.id);
    assert.equal(events.length, 1, 'one created event');
    assert.equal((events[0].data.object as Configuration).name, 'Main portal');

    const got = await stripe.billingPortal.configurations.retrieve(config.id);
    assert.deepEqual({ ...got, lastResponse: undefined }, { ...config, lastResponse: undefined });
  });

  test('features left out start disabled', async () => {
    const config = await stripe.billingPortal.configurations.create({ features: { invoice_history: { enabled: true } } });
    assert.equal(config.features.invoice_history.enabled, true);
    for (const k of ['customer_update', 'payment_method_update', 'subscription_cancel', 'subscription_pause', 'subscription_update'] as const) {
      assert.equal(config.features[k].enabled, false, k);
    }
    assert.equal(config.features.subscription_cancel.mode, 'at_period_end', 'Stripe\'s default mode');
    assert.equal(config.default_return_url, null);
    assert.deepEqual(config.business_profile, { headline: null, privacy_policy_url: null, terms_of_service_url: null });
  });

  test('update changes what it is given (features one setting at a time, clearing with ""), emits billing_portal.configuration.updated with previous_attributes', async () => {
    const config = await stripe.billingPortal.configurations.create({
      features: { customer_update: { enabled: true, allowed_updates: ['email'] }, invoice_history: { enabled: true } },
      business_profile: { headline: 'Old' }, default_return_url: RETURN, name: 'Before', metadata: { a: '1', b: '2' },
    });
    const updated = await stripe.billingPortal.configurations.update(config.id, {
      name: 'After', metadata: { a: '', c: '3' }, default_return_url: '', business_profile: { headline: '' },
      features: { customer_update: { allowed_updates: ['email', 'name'] }, invoice_history: { enabled: false } },
    });
    assert.equal(updated.name, 'After');
    assert.deepEqual(updated.metadata, { b: '2', c: '3' });
    assert.equal(updated.default_return_url, null);
    assert.equal(updated.business_profile.headline, null);
    assert.deepEqual(updated.features.customer_update, { allowed_updates: ['email', 'name'], enabled: true }, 'enabled stays as it was');
    assert.equal(updated.features.invoice_history.enabled, false);
    assert.ok(updated.updated >= config.updated);
    assert.equal((await stripe.billingPortal.configurations.retrieve(config.id)).name, 'After', 'stored');

    const events = await storedEvents(server, 'billing_portal.configuration.updated', config.id);
    assert.equal(events.length, 1, 'one updated event');
    const prev = events[0].data.previous_attributes;
    assert.equal(prev.name, 'Before');
    assert.equal(prev.default_return_url, RETURN);
    assert.deepEqual(prev.metadata, { a: '1', b: '2' });
    assert.deepEqual(prev.features.customer_update.allowed_updates, ['email']);
    assert.equal(events[0].data.object.name, 'After');
  });

  test('list filters by active and is_default; a deactivated configuration cannot start a session', async () => {
    const client = await freshAccount();
    const first = await client.billingPortal.configurations.create({ features: { invoice_history: { enabled: true } } });
    const second = await client.billingPortal.configurations.create({ features: { invoice_history: { enabled: true } } });
    const third = await client.billingPortal.configurations.create({ features: { invoice_history: { enabled: true } } });
    assert.equal(first.is_default, true, 'the account\'s first configuration is its default');
    assert.equal(second.is_default, false);
    const off = await client.billingPortal.configurations.update(third.id, { active: false });
    assert.equal(off.active, false);
    const ids = async (params: Stripe.BillingPortal.ConfigurationListParams) => (await client.billingPortal.configurations.list(params)).data.map((c) => c.id);
    assert.deepEqual(await ids({}), [third.id, second.id, first.id], 'newest first');
    assert.deepEqual(await ids({ active: true }), [second.id, first.id]);
    assert.deepEqual(await ids({ active: false }), [third.id]);
    assert.deepEqual(await ids({ is_default: true }), [first.id]);
    assert.deepEqual(await ids({ is_default: false }), [third.id, second.id]);
    assert.deepEqual(await ids({ limit: 1 }), [third.id]);

    const cus = await client.customers.create({});
    await assert.rejects(client.billingPortal.sessions.create({ customer: cus.id, configuration: third.id }),
      (e: Stripe.errors.StripeError) => e.statusCode === 400 && e.param === 'configuration' && /not active/.test(e.message));
    await assert.rejects(client.billingPortal.configurations.update(first.id, { active: false }),
      (e: Stripe.errors.StripeError) => e.statusCode === 400 && e.param === 'active' && /default/.test(e.message));
    assert.equal((await client.billingPortal.configurations.retrieve(first.id)).active, true, 'the default stays active');
    // Reactivated, it works again.
    await client.billingPortal.configurations.update(third.id, { active: true });
    assert.equal((await client.billingPortal.sessions.create({ customer: cus.id, configuration: third.id })).configuration, third.id);
  });
});

describe('sessions', () => {
  test('create: the portal page at an unguessable URL on this server, a different one per session; return_url defaults to the configuration\'s; billing_portal.session.created once', async () => {
    const config = await stripe.billingPortal.configurations.create({ features: { invoice_history: { enabled: true } }, default_return_url: RETURN });
    const cus = await stripe.customers.create({ email: 'pat@example.com' });
    const s = await stripe.billingPortal.sessions.create({ customer: cus.id, configuration: config.id, locale: 'fr' });
    assert.equal(s.object, 'billing_portal.session');
    assert.match(s.id, /^bps_/);
    assert.equal(s.customer, cus.id);
    assert.equal(s.configuration, config.id);
    assert.equal(s.customer_account, null);
    assert.equal(s.flow, null);
    assert.equal(s.livemode, false);
    assert.equal(s.locale, 'fr');
    assert.equal(s.on_behalf_of, null);
    assert.equal(s.return_url, RETURN, 'the configuration\'s default_return_url');
    const url = new URL(s.url);
    assert.equal(url.origin, server.oncepay.publicUrl(), 'under the server\'s public URL');
    assert.equal(url.port, String(server.port), 'served by this server');
    assert.match(url.pathname, /^\/p\/session\/[A-Za-z0-9]{40,}$/, 'the page token is long and random');
    assert.ok(!s.url.includes(s.id) && !s.url.includes(cus.id), 'the url reveals neither the session nor the customer');

    const again = await stripe.billingPortal.sessions.create({ customer: cus.id, configuration: config.id, return_url: 'https://shop.example/elsewhere' });
    assert.notEqual(again.id, s.id);
    assert.notEqual(tokenOf(again.url), tokenOf(s.url), 'each session has its own token');
    assert.equal(again.return_url, 'https://shop.example/elsewhere', 'a given return_url wins');
    assert.equal(again.locale, null);

    const events = await eventsAbout(stripe, 'billing_portal.session.created', s.id);
    assert.equal(events.length, 1, 'one created event');
    assert.equal((events[0].data.object as Stripe.BillingPortal.Session).url, s.url);

    const expanded = await stripe.billingPortal.sessions.create({ customer: cus.id, configuration: config.id, expand: ['configuration'] });
    assert.equal((expanded.configuration as Configuration).id, config.id);
    assert.equal((expanded.configuration as Configuration).object, 'billing_portal.configuration');
  });

  test('without configuration: the account\'s default; an account with none gets one made with Oncepay\'s default features (once)', async () => {
    const client = await freshAccount();
    const acct = (await client.customers.create({})).id;
    // A refused session makes no default: its phase rolls back as a whole.
    await assert.rejects(client.billingPortal.sessions.create({ customer: acct, flow_data: { type: 'subscription_update', subscription_update: { subscription: 'sub_x' } } }),
      (e: Stripe.errors.StripeError) => e.param === 'flow_data[type]' && /disabled/.test(e.message));
    assert.deepEqual((await client.billingPortal.configurations.list()).data, [], 'no configuration made by the refused session');
    const s1 = await client.billingPortal.sessions.create({ customer: acct });
    const made = await client.billingPortal.configurations.retrieve(s1.configuration as string);
    assert.equal(made.is_default, true);
    assert.equal(made.active, true);
    assert.deepEqual(made.features.customer_update, DEFAULT_FEATURES.customer_update);
    assert.equal(made.features.invoice_history.enabled, true);
    assert.equal(made.features.payment_method_update.enabled, true);
    assert.equal(made.features.subscription_cancel.enabled, true);
    assert.equal(made.features.subscription_cancel.mode, 'at_period_end');
    assert.equal(made.features.subscription_update.enabled, false);
    assert.equal(s1.return_url, null, 'no return_url and no default_return_url');
    const s2 = await client.billingPortal.sessions.create({ customer: acct, return_url: RETURN });
    assert.equal(s2.configuration, made.id, 'the same default again');
    assert.equal(s2.return_url, RETURN);
    const all = await client.billingPortal.configurations.list();
    assert.deepEqual(all.data.map((c) => c.id), [made.id], 'one configuration made');
    assert.equal((await eventsAbout(client, 'billing_portal.configuration.created', made.id)).length, 1);
    // A configuration created later is not the default; sessions keep using the default.
    const later = await client.billingPortal.configurations.create({ features: { invoice_history: { enabled: true } } });
    assert.equal(later.is_default, false);
    assert.equal((await client.billingPortal.sessions.create({ customer: acct })).configuration, made.id);
  });

  test('concurrent first configurations of an account: exactly one is the default', async () => {
    const client = await freshAccount();
    const cus = await client.customers.create({});
    const made = await Promise.all([
      ...Array.from({ length: 4 }, () => client.billingPortal.configurations.create({ features: { invoice_history: { enabled: true } } })),
      ...Array.from({ length: 4 }, () => client.billingPortal.sessions.create({ customer: cus.id })),
    ]);
    const defaults = (await client.billingPortal.configurations.list({ is_default: true, limit: 100 })).data;
    assert.equal(defaults.length, 1, 'one default');
    const sessions = made.slice(4) as Stripe.BillingPortal.Session[];
    assert.ok(sessions.every((s) => s.configuration === defaults[0].id), 'every session without configuration uses that default');
  });

  test('a retried create under one Idempotency-Key is one session: same id and url, one event, one row', async () => {
    const cus = await stripe.customers.create({});
    const before = await rowCount('billing_portal_sessions');
    const key = uniqueKey('portal');
    const params = { customer: cus.id, return_url: RETURN };
    const first = await stripe.billingPortal.sessions.create(params, { idempotencyKey: key });
    const retried = await stripe.billingPortal.sessions.create(params, { idempotencyKey: key });
    assert.equal(retried.id, first.id);
    assert.equal(retried.url, first.url);
    assert.equal(retried.lastResponse.headers['idempotent-replayed'], 'true');
    assert.equal(await rowCount('billing_portal_sessions'), before + 1, 'one session written');
    assert.equal((await storedEvents(server, 'billing_portal.session.created', first.id)).length, 1, 'one event');
    // The same key with other parameters is refused (Stripe's idempotency_error), and writes nothing.
    await assert.rejects(stripe.billingPortal.sessions.create({ customer: cus.id }, { idempotencyKey: key }),
      (e: Stripe.errors.StripeError) => e.type === 'StripeIdempotencyError');
    assert.equal(await rowCount('billing_portal_sessions'), before + 1);
  });

  test('flows: a deep link to cancel or update one of the customer\'s subscriptions, payment method update, after_completion', async () => {
    const price = await recurringPrice();
    const other = await recurringPrice(price.product as string);
    const config = await stripe.billingPortal.configurations.create({
      features: {
        payment_method_update: { enabled: true },
        subscription_cancel: { enabled: true },
        subscription_update: { enabled: true, default_allowed_updates: ['price'], products: [{ product: price.product as string, prices: [price.id, other.id] }] },
      },
    });
    const { customer, subscription } = await subscribedCustomer(price.id);
    const cancel = await stripe.billingPortal.sessions.create({
      customer: customer.id, configuration: config.id,
      flow_data: { type: 'subscription_cancel', subscription_cancel: { subscription: subscription.id }, after_completion: { type: 'redirect', redirect: { return_url: RETURN } } },
    });
    assert.deepEqual(cancel.flow, {
      after_completion: { hosted_confirmation: null, redirect: { return_url: RETURN }, type: 'redirect' },
      customer_update: null, subscription_cancel: { retention: null, subscription: subscription.id }, subscription_pause: null,
      subscription_update: null, subscription_update_confirm: null, type: 'subscription_cancel',
    });
    const confirm = await stripe.billingPortal.sessions.create({
      customer: customer.id, configuration: config.id,
      flow_data: {
        type: 'subscription_update_confirm',
        subscription_update_confirm: { subscription: subscription.id, items: [{ id: subscription.items.data[0].id, price: other.id, quantity: 2 }] },
        after_completion: { type: 'hosted_confirmation', hosted_confirmation: { custom_message: 'Thanks!' } },
      },
    });
    assert.deepEqual(confirm.flow?.subscription_update_confirm, { discounts: [], items: [{ id: subscription.items.data[0].id, price: other.id, quantity: 2 }], subscription: subscription.id });
    assert.deepEqual(confirm.flow?.after_completion, { hosted_confirmation: { custom_message: 'Thanks!' }, redirect: null, type: 'hosted_confirmation' });
    const pm = await stripe.billingPortal.sessions.create({ customer: customer.id, configuration: config.id, flow_data: { type: 'payment_method_update' } });
    assert.equal(pm.flow?.type, 'payment_method_update');
    assert.equal(pm.flow?.after_completion.type, 'portal_homepage', 'back to the portal by default');

    // Refused: another customer's subscription, a disabled feature, an item or price the configuration does not offer.
    const stranger = await stripe.customers.create({});
    const before = await rowCount('billing_portal_sessions');
    const cases: Array<[Stripe.BillingPortal.SessionCreateParams, string, string?]> = [
      [{ customer: stranger.id, configuration: config.id, flow_data: { type: 'subscription_cancel', subscription_cancel: { subscription: subscription.id } } }, 'flow_data[subscription_cancel][subscription]'],
      [{ customer: customer.id, configuration: config.id, flow_data: { type: 'subscription_cancel', subscription_cancel: { subscription: 'sub_nope' } } }, 'flow_data[subscription_cancel][subscription]', 'resource_missing'],
      [{ customer: customer.id, configuration: config.id, flow_data: { type: 'customer_update' } }, 'flow_data[type]'],
      [{ customer: customer.id, configuration: config.id, flow_data: { type: 'subscription_cancel' } }, 'flow_data[subscription_cancel]', 'parameter_missing'],
      [{ customer: customer.id, configuration: config.id, flow_data: { type: 'subscription_update_confirm', subscription_update_confirm: { subscription: subscription.id, items: [{ id: 'si_nope' }] } } }, 'flow_data[subscription_update_confirm][items][0][id]', 'resource_missing'],
      [{ customer: customer.id, configuration: config.id, flow_data: { type: 'subscription_update_confirm', subscription_update_confirm: { subscription: subscription.id, items: [{ id: subscription.items.data[0].id, price: (await recurringPrice()).id }] } } }, 'flow_data[subscription_update_confirm][items][0][price]'],
      [{ customer: customer.id, configuration: config.id, flow_data: { type: 'payment_method_update', after_completion: { type: 'redirect' } } }, 'flow_data[after_completion][redirect]', 'parameter_missing'],
      [{ customer: customer.id, configuration: config.id, flow_data: { type: 'subscription_pause', subscription_pause: { subscription: subscription.id } } }, 'flow_data[subscription_pause]', 'parameter_unsupported'],
      [{ customer: customer.id, configuration: config.id, flow_data: { type: 'subscription_cancel', subscription_cancel: { subscription: subscription.id, retention: { type: 'coupon_offer', coupon_offer: { coupon: 'c' } } } } }, 'flow_data[subscription_cancel][retention]', 'parameter_unsupported'],
    ];
    for (const [params, param, code] of cases) {
      await assert.rejects(stripe.billingPortal.sessions.create(params), (e: Stripe.errors.StripeError) => {
        assert.equal(e.type, 'StripeInvalidRequestError', JSON.stringify(params));
        assert.equal(e.param, param, `${JSON.stringify(params)}: ${e.message}`);
        if (code) assert.equal(e.code, code, e.message);
        return true;
      });
    }
    assert.equal(await rowCount('billing_portal_sessions'), before, 'no session was written');
  });
});

describe('bad input: Stripe\'s error shape, naming the parameter, nothing written', () => {
  test('session create', async () => {
    const cus = await stripe.customers.create({});
    const before = await rowCount('billing_portal_sessions');
    const configsBefore = await rowCount('billing_portal_configurations');
    const cases: Array<[Record<string, unknown>, string, string?]> = [
      [{}, 'customer', 'parameter_missing'],
      [{ customer: 'cus_nope' }, 'customer', 'resource_missing'],
      [{ customer: cus.id, configuration: 'bpc_nope' }, 'configuration', 'resource_missing'],
      [{ customer: cus.id, return_url: 'not a url' }, 'return_url'],
      [{ customer: cus.id, return_url: 'javascript:alert(1)' }, 'return_url'],
      [{ customer: cus.id, locale: 'xx-YY' }, 'locale'],
      [{ customer: cus.id, on_behalf_of: 'acct_123' }, 'on_behalf_of', 'parameter_unsupported'],
      [{ customer: cus.id, customer_account: 'acct_123' }, 'customer_account', 'parameter_unsupported'],
      [{ customer: cus.id, after_expiration: { type: 'customer_login' } }, 'after_expiration', 'parameter_unsupported'],
      [{ customer: cus.id, flow_data: { type: 'bogus' } }, 'flow_data[type]'],
      [{ customer: cus.id, bogus: 1 }, 'bogus', 'parameter_unknown'],
    ];
    for (const [params, param, code] of cases) {
      await assert.rejects(stripe.billingPortal.sessions.create(params as never), (e: Stripe.errors.StripeError) => {
        assert.equal(e.type, 'StripeInvalidRequestError', JSON.stringify(params));
        assert.equal(e.statusCode, 400);
        assert.equal(e.param, param, `${JSON.stringify(params)}: ${e.message}`);
        if (code) assert.equal(e.code, code, e.message);
        assert.ok(e.message.length > 10);
        return true;
      });
    }
    assert.equal(await rowCount('billing_portal_sessions'), before, 'no session was written');
    assert.equal(await rowCount('billing_portal_configurations'), configsBefore, 'no default configuration was made by a refused session');
  });

  test('configuration create and update', async () => {
    const price = await recurringPrice();
    const foreign = await recurringPrice();
    const oneTime = await stripe.prices.create({ currency: 'usd', unit_amount: 500, product: price.product as string });
    const product = price.product as string;
    const upd = (extra: Record<string, unknown>) => ({ features: { subscription_update: { enabled: true, ...extra } } });
    const before = await rowCount('billing_portal_configurations');
    const cases: Array<[Record<string, unknown>, string, string?]> = [
      [{}, 'features', 'parameter_missing'],
      [{ features: { invoice_history: { enabled: 'maybe' } } }, 'features[invoice_history][enabled]', 'parameter_invalid_boolean'],
      [{ features: { subscription_cancel: { mode: 'immediately' } } }, 'features[subscription_cancel][enabled]', 'parameter_missing'],
      [{ features: { invoice_history: { enabled: true } }, login_page: { enabled: true } }, 'login_page', 'parameter_unsupported'],
      [{ features: { subscription_pause: { enabled: true } } }, 'features[subscription_pause]', 'parameter_unsupported'],
      [{ features: { subscription_cancel: { enabled: true, proration_behavior: 'create_prorations' } } }, 'features[subscription_cancel][proration_behavior]', 'parameter_unsupported'],
      [{ features: { subscription_cancel: { enabled: true, mode: 'someday' } } }, 'features[subscription_cancel][mode]'],
      [{ features: { subscription_cancel: { enabled: true, cancellation_reason: { enabled: true, options: '' } } } }, 'features[subscription_cancel][cancellation_reason][options]'],
      [{ features: { customer_update: { enabled: true, allowed_updates: ['shoe_size'] } } }, 'features[customer_update][allowed_updates][0]'],
      [{ features: { payment_method_update: { enabled: true, payment_method_configuration: 'pmc_123' } } }, 'features[payment_method_update][payment_method_configuration]', 'parameter_unsupported'],
      [upd({ default_allowed_updates: ['promotion_code'] }), 'features[subscription_update][default_allowed_updates][0]', 'parameter_unsupported'],
      [upd({ proration_behavior: 'always_invoice' }), 'features[subscription_update][proration_behavior]', 'parameter_unsupported'],
      [upd({ billing_cycle_anchor: 'now' }), 'features[subscription_update][billing_cycle_anchor]', 'parameter_unsupported'],
      [upd({ default_allowed_updates: ['price'] }), 'features[subscription_update][products]'],
      [upd({ products: [{ product: 'prod_nope', prices: [price.id] }] }), 'features[subscription_update][products][0][product]', 'resource_missing'],
      [upd({ products: [{ product, prices: ['price_nope'] }] }), 'features[subscription_update][products][0][prices][0]', 'resource_missing'],
      [upd({ products: [{ product, prices: [price.id, foreign.id] }] }), 'features[subscription_update][products][0][prices][1]'],
      [upd({ products: [{ product, prices: [oneTime.id] }] }), 'features[subscription_update][products][0][prices][0]'],
      [{ features: { invoice_history: { enabled: true } }, default_return_url: 'ftp://x' }, 'default_return_url'],
      [{ features: { invoice_history: { enabled: true } }, business_profile: { privacy_policy_url: 'nope' } }, 'business_profile[privacy_policy_url]'],
    ];
    for (const [params, param, code] of cases) {
      await assert.rejects(stripe.billingPortal.configurations.create(params as never), (e: Stripe.errors.StripeError) => {
        assert.equal(e.type, 'StripeInvalidRequestError', JSON.stringify(params));
        assert.equal(e.statusCode, 400);
        assert.equal(e.param, param, `${JSON.stringify(params)}: ${e.message}`);
        if (code) assert.equal(e.code, code, e.message);
        return true;
      });
    }
    assert.equal(await rowCount('billing_portal_configurations'), before, 'no configuration was written');

    const config = await stripe.billingPortal.configurations.create({ features: { invoice_history: { enabled: true } }, name: 'Kept' });
    await assert.rejects(stripe.billingPortal.configurations.retrieve('bpc_nope'),
      (e: Stripe.errors.StripeError) => e.statusCode === 404 && e.code === 'resource_missing' && /No such billing_portal.configuration: 'bpc_nope'/.test(e.message));
    await assert.rejects(stripe.billingPortal.configurations.update('bpc_nope', { name: 'x' }),
      (e: Stripe.errors.StripeError) => e.statusCode === 400 && e.code === 'resource_missing' && e.param === 'configuration');
    await assert.rejects(stripe.billingPortal.configurations.update(config.id, { name: 'Changed', features: upd({ products: [{ product, prices: [foreign.id] }] }).features }),
      (e: Stripe.errors.StripeError) => e.param === 'features[subscription_update][products][0][prices][0]');
    await assert.rejects(stripe.billingPortal.configurations.update(config.id, { login_page: { enabled: true } }),
      (e: Stripe.errors.StripeError) => e.param === 'login_page' && e.code === 'parameter_unsupported');
    assert.equal((await stripe.billingPortal.configurations.retrieve(config.id)).name, 'Kept', 'a refused update changes nothing');
    assert.equal((await storedEvents(server, 'billing_portal.configuration.updated', config.id)).length, 0, 'and emits nothing');
  });
});

describe('the portal page\'s lookup', () => {
  test('portalSessionByToken finds the session, its account and configuration; a malformed or unknown token finds nothing; expiry after an hour', async () => {
    const config = await stripe.billingPortal.configurations.create({ features: { invoice_history: { enabled: true } }, name: 'For the page' });
    const cus = await stripe.customers.create({});
    const s = await stripe.billingPortal.sessions.create({ customer: cus.id, configuration: config.id });
    const token = tokenOf(s.url);
    const found = await portalSessionByToken(server.oncepay.db, token);
    assert.ok(found, 'found by its token');
    assert.equal(found.accountId, server.accountId);
    assert.equal(found.session.id, s.id);
    assert.equal(found.session.url, s.url);
    assert.equal(found.configuration.id, config.id);
    assert.equal(found.configuration.name, 'For the page');
    assert.equal(found.expired, false);

    // The configuration is read as it is now: an update reaches open sessions.
    await stripe.billingPortal.configurations.update(config.id, { name: 'Renamed' });
    assert.equal((await portalSessionByToken(server.oncepay.db, token))!.configuration.name, 'Renamed');

    assert.equal(await portalSessionByToken(server.oncepay.db, `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`), undefined, 'another token of the same form');
    for (const bad of ['', 'short', `${token}'--`, 'x'.repeat(101), '../../etc/passwd']) {
      assert.equal(await portalSessionByToken(server.oncepay.db, bad), undefined, `refused: ${bad}`);
    }

    const { rows } = await server.oncepay.db.query<{ expires_at: string }>('SELECT expires_at FROM billing_portal_sessions WHERE url_token = $1', [token]);
    assert.equal(Number(rows[0].expires_at), s.created + 3600, 'the URL lasts one hour');
    await server.oncepay.db.query('UPDATE billing_portal_sessions SET expires_at = $2 WHERE url_token = $1', [token, s.created - 1]);
    assert.equal((await portalSessionByToken(server.oncepay.db, token))!.expired, true, 'expired once its hour is over');
  });
});
