/**
 * The dispatcher claims after a commit only when that commit may have written deliveries (its
 * commit notes: events of a type an enabled endpoint of the account wants, or a redelivery), and
 * wakes coalesce: one claim statement at a time. The server's poll is set to an hour, so every
 * delivery here is the work of a wake, and claims are counted by the server's own metric
 * (oncepay_webhook_claims_total).
 *
 * On PostgreSQL the server gets a private schema, so no other test process's deliveries are claimed.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type Stripe from 'stripe';
import { startTestServer, usingPostgres, type TestServer } from '../helpers/server.ts';
import { createPrivateSchema, dropPrivateSchemas } from '../helpers/processes.ts';
import { STORE } from '../helpers/store.ts';

/** A receiver answering 200 to everything, recording event ids in arrival order. */
function receiver() {
  const received: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      received.push((JSON.parse(Buffer.concat(chunks).toString('utf8')) as Stripe.Event).id);
      res.writeHead(200).end('ok');
    });
  });
  return {
    received,
    listen: () => new Promise<string>((r) => server.listen(0, '127.0.0.1', () => r(`http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`))),
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

async function eventually(what: string, probe: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe(`webhook dispatcher wakes only for deliveries [${STORE}]`, () => {
  let s: TestServer;
  const schemas: string[] = [];
  const r = receiver();
  let url: string;

  before(async () => {
    const databaseUrl = usingPostgres() ? (await createPrivateSchema('wh_wake').then((x) => { schemas.push(x.schema); return x.url; })) : undefined;
    s = await startTestServer({ config: { ...(databaseUrl ? { databaseUrl } : {}), webhookIntervalMs: 3_600_000 } });
    url = await r.listen();
  });
  after(async () => {
    await s?.close();
    await r.close();
    await dropPrivateSchemas(schemas);
  });

  const claims = async () => (await s.oncepay.metrics.webhookClaims.get()).values[0]?.value ?? 0;
  /** Lets wakes in flight (an endpoint lookup, a claim) finish before counting. */
  const settle = () => new Promise((res) => setTimeout(res, 200));
  const pay = (c: Stripe) => c.paymentIntents.create({ amount: 1200, currency: 'usd', payment_method: 'pm_card_visa', confirm: true });

  test('commits of an account without endpoints run no claim', async () => {
    const acct = await s.newAccount();
    const c = s.stripe({ key: acct.key });
    await settle();
    const before = await claims();
    await Promise.all(Array.from({ length: 8 }, () => pay(c)));
    for (let i = 0; i < 4; i++) await c.customers.create({ name: `quiet ${i}` });
    await settle();
    assert.equal(await claims() - before, 0);
  });

  test('events no endpoint wants run no claim; a wanted one is delivered at once (no poll), and so is a redelivery', async () => {
    const acct = await s.newAccount();
    const c = s.stripe({ key: acct.key });
    await c.customers.create({ name: 'before the endpoint' }); // the account's interest is now known: none
    await c.webhookEndpoints.create({ url, enabled_events: ['customer.created'] });
    await settle();
    const before = await claims();
    await pay(c);
    await pay(c);
    await settle();
    assert.equal(await claims() - before, 0, 'payment events: no endpoint wants them');
    const customer = await c.customers.create({ name: 'after the endpoint' });
    const created = (await c.events.list({ type: 'customer.created', limit: 1 })).data[0];
    assert.equal((created.data.object as Stripe.Customer).id, customer.id);
    await eventually('customer.created delivered', () => r.received.includes(created.id));
    assert.ok(await claims() - before >= 1);
    const n = r.received.filter((id) => id === created.id).length;
    await c.rawRequest('POST', `/v1/events/${created.id}/redeliver`, {});
    await eventually('the redelivery', () => r.received.filter((id) => id === created.id).length === n + 1);
  });

  test('concurrent commits with deliveries: every delivery goes, claims coalesce', async () => {
    const acct = await s.newAccount();
    const c = s.stripe({ key: acct.key });
    await c.webhookEndpoints.create({ url, enabled_events: ['*'] });
    await settle();
    const before = await claims();
    const requests = 24;
    const pis = await Promise.all(Array.from({ length: requests }, () => pay(c)));
    const eventIds: string[] = [];
    for await (const e of c.events.list({ limit: 100 })) eventIds.push(e.id);
    assert.ok(eventIds.length >= pis.length * 3, 'each payment emits created, charge.succeeded and succeeded');
    await eventually('every event delivered', () => eventIds.every((id) => r.received.includes(id))).catch(async (err) => {
      const { rows } = await s.oncepay.db.query(`SELECT status, next_attempt_at > now() AS later, count(*)::int AS n FROM webhook_deliveries WHERE account_id = $1 GROUP BY 1, 2`, [acct.accountId]);
      throw new Error(`${err.message}: ${eventIds.filter((id) => !r.received.includes(id)).length} of ${eventIds.length} missing; deliveries ${JSON.stringify(rows)}`);
    });
    const used = await claims() - before;
    // Each request commits its events in two phases; every wake of one claim in flight folds
    // into the next one, so there are at most as many claims as committed phases with events.
    assert.ok(used >= 1 && used <= requests * 2, `claims for ${requests} concurrent payments: ${used}`);
    console.log(`${STORE}: ${used} claim statements for ${requests} concurrent create+confirm (${eventIds.length} deliveries)`);
  });
});
