/**
 * A full card number is never kept anywhere: after a real server process has been sent every
 * documented test number (as payment methods, written plainly and with spaces, paid with,
 * attached; as tokens and customer sources; refused ones too: a failed Luhn check, a live card,
 * a bad expiry; as tokens charged, and card hashes given as a customer's source), no number appears in any table of its database (request logs, idempotency keys,
 * events and webhook deliveries included), in anything the process wrote (at debug level), in the
 * webhook bodies it delivered, or in its request logs and key inspector read through the API.
 * Only brand, last4 and the fingerprint are kept, and the test checks that those are there, so a
 * search that finds nothing has looked in the right places.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type Stripe from 'stripe';
import { cleanupServersAndStores, newStore, pollUntil, spawnServer } from '../helpers/processes.ts';
import { TEST_NUMBERS } from '../helpers/test_numbers.ts';
import { openDatabase } from '../../src/store/db.ts';
import { accountTables } from '../../src/accounts/reset.ts';

after(cleanupServersAndStores);

const NEXT_YEAR = new Date().getUTCFullYear() + 1;
/** Numbers that are refused, which must not be kept either. */
const REFUSED = ['4242424242424241', '4111111111111111', '5555555555554443'];

const spaced = (n: string) => n.replace(/(\d{4})(?=\d)/g, '$1 ');

test('no full card number in the database, the process output, webhooks, request logs or key inspection', { timeout: 240_000 }, async () => {
  const bodies: string[] = [];
  const receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => { bodies.push(body); res.writeHead(200).end('ok'); });
  });
  await new Promise<void>((ok) => receiver.listen(0, '127.0.0.1', ok));
  const store = await newStore();
  const srv = await spawnServer({ store, env: { ONCEPAY_LOG_LEVEL: 'debug' } });
  try {
    const stripe = srv.stripe();
    await stripe.webhookEndpoints.create({ url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`, enabled_events: ['*'] });
    const customer = await stripe.customers.create({ email: 'pan@example.com' });
    const made: Stripe.PaymentMethod[] = [];
    const numbers = TEST_NUMBERS.map(([n]) => n);
    for (const [i, number] of numbers.entries()) {
      const written = i % 2 === 0 ? number : spaced(number);
      const cvc = number.length === 15 ? '1234' : '123';
      const pm = await stripe.paymentMethods.create({ type: 'card', card: { number: written, exp_month: 12, exp_year: NEXT_YEAR, cvc } },
        { idempotencyKey: `pm-${i}` });
      made.push(pm);
      await stripe.paymentMethods.attach(pm.id, { customer: customer.id }).catch(() => undefined);
      await stripe.paymentIntents.create({ amount: 1000, currency: 'usd', customer: customer.id, payment_method: pm.id, confirm: true })
        .catch(() => undefined);
      const token = await stripe.tokens.create({ card: { number: written, exp_month: '12', exp_year: String(NEXT_YEAR), cvc } });
      await stripe.customers.createSource(customer.id, { source: token.id }).catch(() => undefined);
      const charged = await stripe.tokens.create({ card: { number: written, exp_month: '12', exp_year: String(NEXT_YEAR), cvc } });
      await stripe.charges.create({ amount: 700, currency: 'usd', source: charged.id }).catch(() => undefined);
      // A card hash as the source: the number travels in the source itself.
      await stripe.customers.createSource(customer.id, {
        source: { object: 'card', number: written, exp_month: 12, exp_year: NEXT_YEAR, cvc } as unknown as string,
      }, { idempotencyKey: `source-${i}` }).catch(() => undefined);
    }
    for (const number of REFUSED) {
      await assert.rejects(stripe.paymentMethods.create({ type: 'card', card: { number, exp_month: 12, exp_year: NEXT_YEAR, cvc: '123' } }));
      await assert.rejects(stripe.tokens.create({ card: { number, exp_month: '12', exp_year: String(NEXT_YEAR), cvc: '123' } }));
    }
    await assert.rejects(stripe.paymentMethods.create({ type: 'card', card: { number: numbers[0], exp_month: 13, exp_year: NEXT_YEAR } }));

    // The uses went through (declined cards aside): sources from tokens and from card hashes, charges.
    const sources = await stripe.customers.listSources(customer.id, { object: 'card', limit: 100 });
    assert.ok(sources.data.length >= numbers.length, `${sources.data.length} card sources saved`);
    assert.ok((await stripe.charges.list({ limit: 100 })).data.length >= 2 * 20, 'payment intents and token charges were made');

    // Every event delivered (the receiver answers 200 at once).
    const events = await pollUntil(async () => (await stripe.events.list({ limit: 100 })).data.length, () => true);
    await pollUntil(async () => bodies.length, (n) => n >= Math.min(events, 100), { timeoutMs: 60_000 });
    const viaApi = [
      (await srv.raw('GET', '/v1/request_logs?limit=100')).text,
      ...await Promise.all([0, 1, 2, 3].map(async (i) => (await srv.raw('GET', `/v1/idempotency_keys/pm-${i}`)).text)),
    ].join('\n');
    await srv.kill();

    const db = await openDatabase({ databaseUrl: store.databaseUrl, dataDir: store.dataDir ?? 'memory://', poolSize: 1 });
    let dump = '';
    try {
      for (const table of await accountTables(db)) {
        const { rows } = await db.query<{ t: string }>(`SELECT row_to_json(x)::text AS t FROM ${table} x`);
        dump += rows.map((r) => `${table}: ${r.t}`).join('\n') + '\n';
      }
    } finally {
      await db.close();
    }

    const places: [string, string][] = [['the database', dump], ['the process output', srv.output()], ['webhook bodies', bodies.join('\n')], ['request logs and key inspection', viaApi]];
    for (const number of [...numbers, ...REFUSED]) {
      for (const [where, text] of places) {
        const at = Math.max(text.indexOf(number), text.indexOf(spaced(number)));
        assert.ok(at < 0, `${number.slice(-4)}: the full number is in ${where}: …${text.slice(Math.max(0, text.lastIndexOf('\n', at)), at + 40)}`);
      }
    }
    // The search looked where card data is: the cards' public details are there.
    for (const pm of made) {
      assert.ok(dump.includes(pm.id) && dump.includes(pm.card!.fingerprint!), `payment method ${pm.id} and its fingerprint are in the database dump`);
    }
    assert.ok(bodies.some((b) => b.includes('"payment_method.attached"')), 'webhooks were delivered');
    assert.ok(viaApi.includes('/v1/payment_methods'), 'the request logs were read');
    assert.ok(dump.includes('idempotency_keys') || dump.includes('"fingerprint"'), 'the dump holds the keys and the cards');
  } finally {
    receiver.close();
    await srv.kill().catch(() => undefined);
  }
});
