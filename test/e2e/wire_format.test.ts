/**
 * The wire as api.stripe.com writes it: pretty-printed JSON (two-space indent) on every answer,
 * replays byte for byte, the Stripe-Version header naming the one version Oncepay answers in,
 * and form booleans in any case (what the Python client sends).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rawRequest, useTestServer } from '../helpers/server.ts';
import { uniqueKey } from '../helpers/unique.ts';
import { API_VERSION } from '../../src/events/event_objects.ts';

const { server } = useTestServer();

describe('wire format', () => {
  it('answers pretty-printed JSON, replays the same bytes, and names its API version', async () => {
    const key = uniqueKey('wire');
    const first = await rawRequest(server, 'POST', '/v1/customers', { body: 'email=wire%40example.com', headers: { 'Idempotency-Key': key } });
    assert.equal(first.status, 200, first.text);
    assert.match(first.text, /^\{\n {2}"id": "cus_[A-Za-z0-9]+",\n {2}"object": "customer",\n/);
    assert.equal(first.text, JSON.stringify(first.json, null, 2));
    assert.equal(first.headers.get('stripe-version'), API_VERSION);

    const replay = await rawRequest(server, 'POST', '/v1/customers', { body: 'email=wire%40example.com', headers: { 'Idempotency-Key': key } });
    assert.equal(replay.headers.get('idempotent-replayed'), 'true');
    assert.equal(replay.text, first.text, 'a replay is the stored answer, byte for byte');

    const read = await rawRequest(server, 'GET', `/v1/customers/${first.json.id}`);
    assert.equal(read.text, JSON.stringify(read.json, null, 2));
    const list = await rawRequest(server, 'GET', '/v1/customers?limit=1');
    assert.match(list.text, /\n {2}"object": "list",\n/);

    const error = await rawRequest(server, 'GET', '/v1/customers/cus_missing');
    assert.equal(error.status, 404);
    assert.equal(error.text, JSON.stringify({ error: error.json.error }, null, 2));
    assert.equal(error.headers.get('stripe-version'), API_VERSION);
  });

  it('a request pinning another Stripe-Version is answered in this version, and says so', async () => {
    const r = await rawRequest(server, 'GET', '/v1/customers?limit=1', { headers: { 'Stripe-Version': '2020-08-27' } });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('stripe-version'), API_VERSION);
  });

  it('form booleans True/False (the Python client) are booleans', async () => {
    const r = await rawRequest(server, 'POST', '/v1/payment_intents', { body: 'amount=1500&currency=usd&payment_method=pm_card_visa&confirm=True' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.status, 'succeeded');
    const off = await rawRequest(server, 'POST', '/v1/payment_intents', { body: 'amount=1500&currency=usd&payment_method=pm_card_visa&confirm=FALSE' });
    assert.equal(off.json.status, 'requires_confirmation');
    const bad = await rawRequest(server, 'POST', '/v1/payment_intents', { body: 'amount=1500&currency=usd&confirm=1' });
    assert.equal(bad.status, 400);
    assert.deepEqual([bad.json.error.param, bad.json.error.code], ['confirm', 'parameter_invalid_boolean']);
  });
});

describe('webhook endpoints and Stripe\'s event types', () => {
  it('accepts types Oncepay does not emit (as Stripe does) and delivers those it emits', async () => {
    const { stripe } = { stripe: server.stripe() };
    const we = await stripe.webhookEndpoints.create({
      url: 'http://127.0.0.1:9/hook', enabled_events: ['checkout.session.completed', 'customer.subscription.trial_will_end', 'customer.created'],
    });
    assert.deepEqual(we.enabled_events, ['checkout.session.completed', 'customer.subscription.trial_will_end', 'customer.created']);
    const updated = await stripe.webhookEndpoints.update(we.id, { enabled_events: ['setup_intent.succeeded', 'customer.created'] });
    assert.deepEqual(updated.enabled_events, ['setup_intent.succeeded', 'customer.created']);
    await stripe.customers.create({ email: 'types@example.com' });
    const [ev] = (await stripe.events.list({ type: 'customer.created', limit: 1 })).data;
    assert.equal(ev.pending_webhooks >= 1, true, 'the emitted type is queued for the endpoint');
    const bad = await rawRequest(server, 'POST', '/v1/webhook_endpoints', { body: 'url=http://127.0.0.1:9/hook&enabled_events[]=charge.exploded' });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.param, 'enabled_events[0]');
  });
});
