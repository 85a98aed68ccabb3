/**
 * A consumer's mirror, built from webhooks alone: what a sync engine (Supabase's
 * stripe-sync-engine, for one) does. Every delivered event upserts its `data.object` by id, in
 * the order the deliveries arrive; a `*.deleted` event marks the object deleted (but
 * `customer.subscription.deleted`, which carries the canceled subscription). After every
 * flow Oncepay has ran (payments with automatic and manual capture, partial capture, a decline,
 * a cancel, several refunds, customer changes and deletion, invoices paid, paid out of band,
 * voided and uncollectible, subscriptions created and canceled, a test clock renewing one), each
 * mirrored object must equal what GET answers for it: a change that emits no event, or events
 * that arrive out of order, leave the mirror wrong.
 *
 * The receiver fails a share of first attempts, so deliveries are retried and the dispatcher's
 * parallelism has room to reorder them. On PostgreSQL the server has a private schema, so only
 * its own dispatcher (with the short schedule) delivers these events.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type Stripe from 'stripe';
import { startTestServer, usingPostgres, type TestServer } from '../helpers/server.ts';
import { createPrivateSchema, dropPrivateSchemas } from '../helpers/processes.ts';
import { send, assertOk } from '../helpers/stripe_errors.ts';
import { STORE } from '../helpers/store.ts';

type Obj = { id: string; object: string; deleted?: boolean; [k: string]: unknown };

/** `customer.subscription.deleted` is a cancellation: the subscription stays, canceled. */
const isDeletion = (type: string) => type.endsWith('.deleted') && type !== 'customer.subscription.deleted';

/** The mirror: a receiver that upserts what each delivered event carries. */
function mirrorReceiver(failEvery: number) {
  const objects = new Map<string, Obj>();
  const delivered = new Set<string>();
  let n = 0;
  const seen = new Set<string>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const event = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Stripe.Event;
      const first = !seen.has(event.id);
      seen.add(event.id);
      if (first && ++n % failEvery === 0) {
        res.writeHead(500).end('try again');
        return;
      }
      if (!delivered.has(event.id)) {
        delivered.add(event.id);
        const o = event.data.object as unknown as Obj;
        objects.set(o.id, isDeletion(event.type) ? { ...o, deleted: true } : o);
      }
      res.writeHead(200).end('ok');
    });
  });
  return {
    objects, delivered,
    listen: () => new Promise<string>((r) => server.listen(0, '127.0.0.1', () => r(`http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`))),
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) { last = err; }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** GET of one object by its `object` type, as a consumer would re-fetch it. */
async function retrieve(s: TestServer, key: string, o: Obj): Promise<Obj> {
  const path: Record<string, string> = {
    customer: 'customers', payment_intent: 'payment_intents', charge: 'charges', refund: 'refunds', invoice: 'invoices',
    invoiceitem: 'invoiceitems', subscription: 'subscriptions', price: 'prices', product: 'products',
    'test_helpers.test_clock': 'test_helpers/test_clocks', order: 'orders', invoice_payment: 'invoice_payments',
    webhook_endpoint: 'webhook_endpoints', tax_id: 'tax_ids', plan: 'plans',
  };
  const p = path[o.object];
  assert.ok(p, `the mirror received a ${o.object} (${o.id}) that this test cannot re-fetch: add its path`);
  const r = await send(s, 'GET', `/v1/${p}/${o.id}`, { key });
  if (r.status === 404 && o.deleted) return { id: o.id, object: o.object, deleted: true };
  return assertOk(r) as Obj;
}

/** The top-level fields where two versions of an object differ, with both values. */
function differences(mirrored: Obj, actual: Obj): string[] {
  const out: string[] = [];
  if (mirrored.deleted || actual.deleted) {
    if (Boolean(mirrored.deleted) !== Boolean(actual.deleted)) out.push(`deleted: mirror ${Boolean(mirrored.deleted)}, API ${Boolean(actual.deleted)}`);
    return out;
  }
  for (const k of new Set([...Object.keys(mirrored), ...Object.keys(actual)])) {
    const a = JSON.stringify(mirrored[k]);
    const b = JSON.stringify(actual[k]);
    if (a !== b) out.push(`${k}: mirror ${String(a).slice(0, 160)}, API ${String(b).slice(0, 160)}`);
  }
  return out;
}

describe(`a mirror built from webhooks alone equals the API [${STORE}]`, () => {
  let s: TestServer;
  const schemas: string[] = [];

  before(async () => {
    const databaseUrl = usingPostgres() ? await createPrivateSchema('wh_mirror').then((x) => { schemas.push(x.schema); return x.url; }) : undefined;
    s = await startTestServer({
      config: { ...(databaseUrl ? { databaseUrl } : {}), webhookScheduleMs: [50, 100, 200, 400], webhookTimeoutMs: 2000, webhookIntervalMs: 25 },
    });
  });
  after(async () => {
    await s?.close();
    await dropPrivateSchemas(schemas);
  });

  test('every flow, then every mirrored object compared with GET', { timeout: 120_000 }, async () => {
    const mirror = mirrorReceiver(4);
    const url = await mirror.listen();
    try {
      const acct = await s.newAccount();
      const stripe = s.stripe({ key: acct.key });
      await stripe.webhookEndpoints.create({ url, enabled_events: ['*'] });

      // Customers: created, changed twice, one deleted.
      const customer = await stripe.customers.create({ email: 'mirror@example.com', name: 'Mirror', invoice_settings: { default_payment_method: 'pm_card_visa' } });
      await stripe.customers.update(customer.id, { metadata: { tier: 'gold' } });
      await stripe.customers.update(customer.id, { description: 'changed twice' });
      const gone = await stripe.customers.create({ name: 'to delete' });
      await stripe.customers.del(gone.id);

      // Payments: automatic capture, manual with a partial capture, a decline, a cancel, refunds.
      const paid = await stripe.paymentIntents.create({ amount: 5000, currency: 'usd', customer: customer.id, payment_method: 'pm_card_visa', confirm: true });
      const manual = await stripe.paymentIntents.create({ amount: 3000, currency: 'usd', payment_method: 'pm_card_visa', capture_method: 'manual', confirm: true });
      await stripe.paymentIntents.capture(manual.id, { amount_to_capture: 2000 });
      await stripe.paymentIntents.create({ amount: 1500, currency: 'usd', payment_method: 'pm_card_visa_chargeDeclined', confirm: true }).catch((e: Stripe.errors.StripeError) => {
        assert.equal(e.type, 'StripeCardError');
      });
      const canceled = await stripe.paymentIntents.create({ amount: 700, currency: 'usd' });
      await stripe.paymentIntents.cancel(canceled.id);
      await stripe.refunds.create({ payment_intent: paid.id, amount: 1000 });
      await stripe.refunds.create({ payment_intent: paid.id, amount: 1500 });

      // Invoices: paid with a card, paid out of band, voided, uncollectible.
      const invoice = async () => {
        await stripe.invoiceItems.create({ customer: customer.id, amount: 2500, currency: 'usd', description: 'work' });
        const inv = await stripe.invoices.create({ customer: customer.id, pending_invoice_items_behavior: 'include' });
        return stripe.invoices.finalizeInvoice(inv.id);
      };
      await stripe.invoices.pay((await invoice()).id);
      await stripe.invoices.pay((await invoice()).id, { paid_out_of_band: true });
      await stripe.invoices.voidInvoice((await invoice()).id);
      await stripe.invoices.markUncollectible((await invoice()).id);

      // Subscriptions: one created and canceled; one on a test clock, renewed by advancing it.
      const price = await stripe.prices.create({ currency: 'usd', unit_amount: 1200, product_data: { name: 'Mirror plan' }, recurring: { interval: 'month' } });
      const sub = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: price.id }] });
      await stripe.subscriptions.cancel(sub.id);
      const start = Math.floor(Date.UTC(2027, 0, 15) / 1000);
      const clock = await stripe.testHelpers.testClocks.create({ frozen_time: start });
      const onClock = await stripe.customers.create({ email: 'clock@example.com', test_clock: clock.id, invoice_settings: { default_payment_method: 'pm_card_visa' } });
      await stripe.subscriptions.create({ customer: onClock.id, items: [{ price: price.id }] });
      await stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: start + 40 * 86_400 });
      await eventually('the clock to be ready', async () => ((await stripe.testHelpers.testClocks.retrieve(clock.id)).status === 'ready' ? true : undefined));

      // Every event delivered (the mirror has applied each once).
      const total = await eventually('every event stored', async () => {
        const { rows } = await s.oncepay.db.query<{ n: number; pending: number }>(
          `SELECT (SELECT count(*)::int FROM events WHERE account_id = $1) AS n,
                  (SELECT count(*)::int FROM webhook_deliveries WHERE account_id = $1 AND status = 'pending') AS pending`, [acct.accountId]);
        return rows[0].pending === 0 ? rows[0].n : undefined;
      });
      await eventually('every event delivered to the mirror', async () => (mirror.delivered.size === total ? true : undefined));

      const wrong: string[] = [];
      for (const o of mirror.objects.values()) {
        if (o.object === 'webhook_endpoint') continue; // its secret is shown only at creation
        const diff = differences(o, await retrieve(s, acct.key, o));
        if (diff.length > 0) wrong.push(`${o.object} ${o.id}:\n    ${diff.join('\n    ')}`);
      }
      assert.ok(mirror.objects.size >= 20, `the flows touched ${mirror.objects.size} objects`);
      assert.deepEqual(wrong, [], `${wrong.length} of ${mirror.objects.size} mirrored objects differ from the API:\n${wrong.join('\n')}`);
    } finally {
      await mirror.close();
    }
  });
});
