/**
 * The webhook receiver helper (src/receiver): verification against headers made by our own
 * signer, the official `stripe` package and the `standardwebhooks` package; processing once in
 * memory and in PostgreSQL (DATABASE_URL when set, else embedded PGlite).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import pg from 'pg';
import { PGlite } from '@electric-sql/pglite';
import Stripe from 'stripe';
import { Webhook } from 'standardwebhooks';
import { newWebhookSecret, signedHeaders, standardWebhooksSignature, stripeSignatureHeader } from '../../src/events/signing.ts';
import {
  InMemoryProcessedEvents, PostgresProcessedEvents, processOnce, processOnceInTransaction, verifyWebhook,
  verifyWebhookDetailed, withTransaction, WebhookVerificationError,
  type PoolLike, type ProcessOutcome, type SqlExecutor, type TransactionSource, type VerificationFailure, type VerifyWebhookOptions,
} from '../../src/receiver/index.ts';

const stripe = new Stripe('sk_test_receiver');
const nowS = () => Math.floor(Date.now() / 1000);
const newEventId = () => `evt_${randomBytes(12).toString('hex')}`;

function eventBody(id = newEventId(), extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    id, object: 'event', api_version: '2026-10-28.endive', created: nowS(), livemode: false, pending_webhooks: 1,
    request: { id: null, idempotency_key: null }, type: 'payment_intent.succeeded',
    data: { object: { id: 'pi_123', object: 'payment_intent', amount: 1000, description: 'café ✓' } }, ...extra,
  });
}

const stripeOnly = (h: Record<string, string>) => ({ 'stripe-signature': h['stripe-signature'] });
const standardOnly = (h: Record<string, string>) => ({
  'webhook-id': h['webhook-id'], 'webhook-timestamp': h['webhook-timestamp'], 'webhook-signature': h['webhook-signature'],
});

function rejects(opts: VerifyWebhookOptions, reason: VerificationFailure) {
  assert.throws(() => verifyWebhook(opts), (err: unknown) => {
    assert.ok(err instanceof WebhookVerificationError, `expected WebhookVerificationError, got ${err}`);
    assert.equal(err.reason, reason, err.message);
    return true;
  });
}

// -------------------------------------------------------------------------------------------
// Verification

test('verifies headers made by src/events/signing.ts, with either scheme', () => {
  const secret = newWebhookSecret();
  const id = newEventId();
  const body = eventBody(id);
  const headers = signedHeaders([secret], id, body);

  const both = verifyWebhookDetailed({ body, headers, secrets: secret });
  assert.equal(both.event.id, id);
  assert.equal(both.event.type, 'payment_intent.succeeded');
  assert.equal(both.scheme, 'standard-webhooks');

  const viaStripe = verifyWebhookDetailed({ body, headers: stripeOnly(headers), secrets: secret });
  assert.equal(viaStripe.scheme, 'stripe');
  assert.equal(viaStripe.event.id, id);

  const viaStandard = verifyWebhookDetailed({ body: Buffer.from(body), headers: standardOnly(headers), secrets: [secret] });
  assert.equal(viaStandard.scheme, 'standard-webhooks');
  assert.deepEqual(viaStandard.event, JSON.parse(body));

  // The same headers satisfy the official verifiers too (what our helper claims to be compatible with).
  assert.equal(stripe.webhooks.constructEvent(body, headers['stripe-signature'], secret).id, id);
  assert.equal((new Webhook(secret).verify(body, standardOnly(headers)) as { id: string }).id, id);
});

test('verifies a Stripe-Signature made by the stripe package test helper', () => {
  const secret = newWebhookSecret();
  const body = eventBody();
  const header = stripe.webhooks.generateTestHeaderString({ payload: body, secret });
  assert.equal(verifyWebhook({ body, headers: { 'stripe-signature': header }, secrets: secret }).id, JSON.parse(body).id);
  assert.equal(verifyWebhook({ body: Buffer.from(body, 'utf8'), headers: { 'Stripe-Signature': header }, secrets: secret }).id, JSON.parse(body).id);
  // A secret in Stripe's own format (not base64) works for this scheme as well.
  const stripeStyle = 'whsec_test_' + randomBytes(16).toString('hex');
  const h2 = stripe.webhooks.generateTestHeaderString({ payload: body, secret: stripeStyle });
  assert.equal(verifyWebhook({ body, headers: { 'stripe-signature': h2 }, secrets: stripeStyle }).type, 'payment_intent.succeeded');
  rejects({ body, headers: { 'stripe-signature': h2 }, secrets: secret }, 'bad_signature');
});

test('verifies webhook-* headers made by the standardwebhooks package', () => {
  const secret = newWebhookSecret();
  const id = newEventId();
  const body = eventBody(id);
  const now = new Date();
  const headers = {
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
    'webhook-signature': new Webhook(secret).sign(id, now, body),
  };
  assert.equal(verifyWebhook({ body, headers, secrets: secret }).id, id);
  rejects({ body, headers, secrets: newWebhookSecret() }, 'bad_signature');
});

test('wrong secret and tampered body are bad_signature, in both schemes', () => {
  const secret = newWebhookSecret();
  const id = newEventId();
  const body = eventBody(id);
  const headers = signedHeaders([secret], id, body);
  const tampered = body.replace('"amount":1000', '"amount":1');
  assert.notEqual(tampered, body);
  for (const h of [stripeOnly(headers), standardOnly(headers)]) {
    rejects({ body, headers: h, secrets: newWebhookSecret() }, 'bad_signature');
    rejects({ body: tampered, headers: h, secrets: secret }, 'bad_signature');
    rejects({ body: body + ' ', headers: h, secrets: secret }, 'bad_signature');
    // Re-serialized JSON (a framework that parsed the body) no longer matches either.
    rejects({ body: JSON.stringify(JSON.parse(body), null, 2), headers: h, secrets: secret }, 'bad_signature');
  }
  // A signature for another timestamp: the timestamp is signed.
  const forged = headers['stripe-signature'].replace(/^t=\d+/, `t=${nowS() - 1}`);
  rejects({ body, headers: { 'stripe-signature': forged }, secrets: secret }, 'bad_signature');
  rejects({ body, headers: { ...standardOnly(headers), 'webhook-timestamp': String(nowS() - 1) }, secrets: secret }, 'bad_signature');
});

test('timestamps outside the tolerance are refused, in both directions', () => {
  const secret = newWebhookSecret();
  const id = newEventId();
  const body = eventBody(id);
  const now = nowS();
  // The verifier's clock is pinned to `now`: a second ticking by mid-test must not move a boundary.
  const clock = new Date(now * 1000);
  for (const pick of [stripeOnly, standardOnly]) {
    const at = (t: number) => pick(signedHeaders([secret], id, body, t));
    rejects({ body, headers: at(now - 301), secrets: secret, now: clock }, 'timestamp_out_of_tolerance');
    rejects({ body, headers: at(now + 301), secrets: secret, now: clock }, 'timestamp_out_of_tolerance');
    assert.equal(verifyWebhook({ body, headers: at(now - 290), secrets: secret, now: clock }).id, id);
    assert.equal(verifyWebhook({ body, headers: at(now + 290), secrets: secret, now: clock }).id, id);
    rejects({ body, headers: at(now - 11), secrets: secret, toleranceSeconds: 10, now: clock }, 'timestamp_out_of_tolerance');
    // An injected clock: an old delivery is fresh "then".
    const old = now - 86_400;
    assert.equal(verifyWebhook({ body, headers: at(old), secrets: secret, now: new Date(old * 1000 + 5000) }).id, id);
  }
});

test('missing and malformed headers', () => {
  const secret = newWebhookSecret();
  const id = newEventId();
  const body = eventBody(id);
  const headers = signedHeaders([secret], id, body);
  rejects({ body, headers: {}, secrets: secret }, 'missing_signature');
  rejects({ body, headers: { 'content-type': 'application/json', 'stripe-signature': undefined }, secrets: secret }, 'missing_signature');
  // An incomplete webhook-* set alone is malformed; with a Stripe-Signature, that one is used.
  rejects({ body, headers: { 'webhook-id': id, 'webhook-signature': headers['webhook-signature'] }, secrets: secret }, 'malformed_header');
  assert.equal(verifyWebhook({ body, headers: { ...stripeOnly(headers), 'webhook-id': id }, secrets: secret }).id, id);
  rejects({ body, headers: { 'stripe-signature': 'nonsense' }, secrets: secret }, 'malformed_header');
  rejects({ body, headers: { 'stripe-signature': `t=${nowS()}` }, secrets: secret }, 'malformed_header');
  rejects({ body, headers: { 'stripe-signature': `t=soon,v1=${'a'.repeat(64)}` }, secrets: secret }, 'malformed_header');
  rejects({ body, headers: { 'stripe-signature': `v1=${'a'.repeat(64)}` }, secrets: secret }, 'malformed_header');
  rejects({ body, headers: { ...standardOnly(headers), 'webhook-signature': 'v1,notbase64' }, secrets: secret }, 'malformed_header');
  rejects({ body, headers: { ...standardOnly(headers), 'webhook-signature': '' }, secrets: secret }, 'malformed_header');
  rejects({ body, headers: { ...standardOnly(headers), 'webhook-timestamp': 'yesterday' }, secrets: secret }, 'malformed_header');
  // Other header shapes: any letter case, arrays, a Fetch API Headers.
  const upper = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toUpperCase(), v]));
  assert.equal(verifyWebhook({ body, headers: upper, secrets: secret }).id, id);
  assert.equal(verifyWebhook({ body, headers: { 'stripe-signature': [headers['stripe-signature']] }, secrets: secret }).id, id);
  rejects({ body, headers: { 'stripe-signature': [headers['stripe-signature'], `t=1,v1=${'b'.repeat(64)}`] }, secrets: secret }, 'malformed_header');
  assert.equal(verifyWebhook({ body, headers: new Headers(standardOnly(headers)), secrets: secret }).id, id);
  assert.throws(() => verifyWebhook({ body, headers, secrets: [] }), TypeError);
});

test('rotation: either of two secrets verifies, in both schemes', () => {
  const oldSecret = newWebhookSecret();
  const newSecret = newWebhookSecret();
  const id = newEventId();
  const body = eventBody(id);
  const during = signedHeaders([newSecret, oldSecret], id, body); // the sender during the grace period
  assert.match(during['stripe-signature'], /^t=\d+,v1=[0-9a-f]{64},v1=[0-9a-f]{64}$/);
  assert.equal(during['webhook-signature'].split(' ').length, 2);
  for (const pick of [stripeOnly, standardOnly]) {
    for (const secrets of [oldSecret, newSecret, [newSecret, oldSecret], [newWebhookSecret(), oldSecret]]) {
      assert.equal(verifyWebhook({ body, headers: pick(during), secrets }).id, id);
    }
    rejects({ body, headers: pick(during), secrets: [newWebhookSecret(), newWebhookSecret()] }, 'bad_signature');
    // The receiver moved to [new, old] before the sender: a delivery signed by the old one only still passes.
    assert.equal(verifyWebhook({ body, headers: pick(signedHeaders([oldSecret], id, body)), secrets: [newSecret, oldSecret] }).id, id);
  }
});

test('webhook-id must be the event id', () => {
  const secret = newWebhookSecret();
  const body = eventBody('evt_body');
  const t = nowS();
  const headers = { 'webhook-id': 'evt_other', 'webhook-timestamp': String(t), 'webhook-signature': standardWebhooksSignature([secret], 'evt_other', t, body) };
  rejects({ body, headers, secrets: secret }, 'id_mismatch');
});

test('a verified body that is not an event is malformed_body', () => {
  const secret = newWebhookSecret();
  const t = nowS();
  for (const body of ['not json', '[]', '{"id":"evt_1"}', '{"id":"","object":"event","type":"x","data":{}}']) {
    rejects({ body, headers: { 'stripe-signature': stripeSignatureHeader([secret], t, body) }, secrets: secret }, 'malformed_body');
  }
  const invalidUtf8 = Buffer.from([0x7b, 0xff, 0x7d]);
  const sig = stripe.webhooks.generateTestHeaderString({ payload: invalidUtf8.toString('latin1'), secret });
  // (signature made over different bytes; either way the body is refused)
  assert.throws(() => verifyWebhook({ body: invalidUtf8, headers: { 'stripe-signature': sig }, secrets: secret }), WebhookVerificationError);
  // A parsed object instead of the raw body is a programming error we name clearly.
  rejects({ body: JSON.parse(eventBody()) as unknown as string, headers: { 'stripe-signature': sig }, secrets: secret }, 'malformed_body');
});

// -------------------------------------------------------------------------------------------
// Processing once, in memory

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const event = (id = newEventId()) => ({ id, type: 'payment_intent.succeeded' });

test('in memory: a duplicate is skipped, a failure is not recorded', async () => {
  const store = new InMemoryProcessedEvents();
  const e = event();
  let runs = 0;
  const handler = async () => ++runs;
  assert.deepEqual(await processOnce({ event: e, store, handler }), { processed: true, result: 1 });
  assert.deepEqual(await processOnce({ event: e, store, handler }), { processed: false, reason: 'duplicate' });
  assert.equal(runs, 1);

  const f = event();
  await assert.rejects(processOnce({ event: f, store, handler: async () => { throw new Error('boom'); } }), /boom/);
  assert.equal(store.has(f.id), false);
  assert.deepEqual(await processOnce({ event: f, store, handler }), { processed: true, result: 2 });
});

test('in memory: 20 concurrent deliveries run the handler once; a failed first lets a waiter run', async () => {
  const store = new InMemoryProcessedEvents();
  const e = event();
  let runs = 0;
  const outcomes = await Promise.all(Array.from({ length: 20 }, () =>
    processOnce({ event: e, store, handler: async () => { runs++; await sleep(20); } })));
  assert.equal(runs, 1);
  assert.equal(outcomes.filter((o) => o.processed).length, 1);

  const f = event();
  let attempts = 0;
  const settled = await Promise.allSettled(Array.from({ length: 5 }, () =>
    processOnce({ event: f, store, handler: async () => { await sleep(10); if (++attempts === 1) throw new Error('first fails'); } })));
  assert.equal(settled.filter((s) => s.status === 'rejected').length, 1);
  assert.equal(settled.filter((s) => s.status === 'fulfilled' && s.value.processed).length, 1);
  assert.equal(attempts, 2);
});

test('in memory: bounded, and ids expire after the TTL', async () => {
  const bounded = new InMemoryProcessedEvents({ maxEntries: 2 });
  const [a, b, c] = [event(), event(), event()];
  for (const e of [a, b, c]) await bounded.runOnce(e, async () => {});
  assert.equal(bounded.size, 2);
  assert.equal(bounded.has(a.id), false);
  assert.equal(bounded.has(c.id), true);

  let clock = 1_000_000;
  const ttl = new InMemoryProcessedEvents({ ttlSeconds: 60, now: () => clock });
  const e = event();
  assert.equal((await ttl.runOnce(e, async () => {})).processed, true);
  clock += 59_000;
  assert.equal((await ttl.runOnce(e, async () => {})).processed, false);
  clock += 2_000;
  assert.equal((await ttl.runOnce(e, async () => {})).processed, true);
});

test('in memory: a handler that throws synchronously leaves nothing in flight', async () => {
  const store = new InMemoryProcessedEvents();
  const e = event();
  const throwsAtOnce = (() => { throw new Error('sync'); }) as () => Promise<void>;
  await assert.rejects(store.runOnce(e, throwsAtOnce), /sync/);
  assert.deepEqual(await store.runOnce(e, async () => 'ok'), { processed: true, result: 'ok' });
});

// -------------------------------------------------------------------------------------------
// A pool whose connection the server ends (a restart's FATAL 57P01), with a scripted pg-like client

/** An EventEmitter with query and release, as a pg.PoolClient: `script` may fail or delay a statement. */
class FakeClient extends EventEmitter {
  readonly queries: string[] = [];
  readonly released: (Error | boolean | undefined)[] = [];
  constructor(private readonly script: (text: string, client: FakeClient) => Promise<void> | void = () => {}) {
    super();
  }
  async query(text: string): Promise<{ rows: unknown[]; command: string }> {
    this.queries.push(text);
    await this.script(text, this);
    return { rows: [], command: text.split(' ')[0] };
  }
  release(err?: Error | boolean): void {
    this.released.push(err);
  }
}
const fakePool = (client: FakeClient): PoolLike<FakeClient> => ({ connect: async () => client });
const adminShutdown = () => Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' });
const terminated = () => new Error('Connection terminated unexpectedly');
const connectionLost = (cause: Error) => (err: unknown) => {
  assert.ok(err instanceof Error);
  assert.match(err.message, /database connection was lost/);
  assert.equal(err.cause, cause);
  return true;
};

test('pool: the connection lost between queries: rejects, never COMMITs, discards the client', async () => {
  const client = new FakeClient();
  const fatal = adminShutdown();
  await assert.rejects(withTransaction(fakePool(client), async (tx) => {
    assert.equal(tx.listenerCount('error'), 1, 'listening while checked out');
    tx.emit('error', fatal); // no query pending: pg emits the FATAL, then the socket's end
    tx.emit('error', terminated());
    return 'looks done';
  }), connectionLost(fatal));
  assert.deepEqual(client.queries, ['BEGIN']);
  assert.deepEqual(client.released, [fatal]);
  assert.equal(client.listenerCount('error'), 0, 'not listening after release');
});

test('pool: BEGIN failing on a lost connection rejects without running the handler', async () => {
  const fatal = adminShutdown();
  const client = new FakeClient((text, c) => {
    if (text === 'BEGIN') { c.emit('error', fatal); throw fatal; }
  });
  let ran = false;
  await assert.rejects(withTransaction(fakePool(client), async () => { ran = true; }), connectionLost(fatal));
  assert.equal(ran, false);
  assert.deepEqual(client.released, [fatal]);
  assert.equal(client.listenerCount('error'), 0);
});

test('pool: a statement cut off by the loss: the cause is its 57P01, not the socket\'s end', async () => {
  const fatal = adminShutdown();
  const end = terminated();
  const client = new FakeClient((text, c) => {
    if (text === 'SELECT 1') throw fatal; // the running statement gets the FATAL...
    if (text === 'ROLLBACK') { c.emit('error', end); throw end; } // ...then the socket closes
  });
  await assert.rejects(withTransaction(fakePool(client), (tx) => tx.query('SELECT 1')), connectionLost(fatal));
  assert.deepEqual(client.queries, ['BEGIN', 'SELECT 1', 'ROLLBACK']);
  assert.deepEqual(client.released, [end]);
  assert.equal(client.listenerCount('error'), 0);
});

test('pool: a healthy connection: handler errors pass through unchanged, the client goes back to the pool', async () => {
  const client = new FakeClient();
  assert.equal(await withTransaction(fakePool(client), async () => 'ok'), 'ok');
  const boom = new Error('handler failed');
  await assert.rejects(withTransaction(fakePool(client), async () => { throw boom; }), (err) => err === boom);
  assert.deepEqual(client.queries, ['BEGIN', 'COMMIT', 'BEGIN', 'ROLLBACK']);
  assert.deepEqual(client.released, [undefined, undefined]);
  assert.equal(client.listenerCount('error'), 0);
});

test('pool: the connection lost right after COMMIT: the commit stands, the client is discarded', async () => {
  const end = terminated();
  const client = new FakeClient((text, c) => { if (text === 'COMMIT') c.emit('error', end); });
  assert.equal(await withTransaction(fakePool(client), async () => 'committed'), 'committed');
  assert.deepEqual(client.released, [end]);
  assert.equal(client.listenerCount('error'), 0);
});

// -------------------------------------------------------------------------------------------
// Processing once, in PostgreSQL

type Engine = TransactionSource & SqlExecutor;

describe(`postgres store (${process.env.DATABASE_URL ? 'DATABASE_URL' : 'embedded PGlite'})`, () => {
  let db: Engine;
  let close: () => Promise<void>;
  const suffix = `${process.pid}_${randomBytes(4).toString('hex')}`;
  const table = `receiver_test_processed_${suffix}`;
  const effects = `receiver_test_effects_${suffix}`;
  let store: PostgresProcessedEvents;

  const effectCount = async (eventId: string) =>
    Number(((await db.query(`SELECT count(*)::int AS n FROM ${effects} WHERE event_id = $1`, [eventId])).rows[0] as { n: number }).n);
  const recorded = async (eventId: string) =>
    (await db.query(`SELECT event_type FROM ${table} WHERE event_id = $1`, [eventId])).rows as { event_type: string }[];
  const writeEffect = (tx: SqlExecutor, eventId: string) => tx.query(`INSERT INTO ${effects} (event_id) VALUES ($1)`, [eventId]);

  before(async () => {
    if (process.env.DATABASE_URL) {
      const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 25 });
      db = pool;
      close = () => pool.end();
    } else {
      const lite = new PGlite();
      await lite.waitReady;
      db = lite;
      close = () => lite.close();
    }
    store = new PostgresProcessedEvents({ db, table });
    await store.ensureTable();
    await store.ensureTable(); // idempotent
    await db.query(`CREATE TABLE ${effects} (event_id text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())`);
  });

  after(async () => {
    await db?.query(`DROP TABLE IF EXISTS ${table}`);
    await db?.query(`DROP TABLE IF EXISTS ${effects}`);
    await close?.();
  });

  test('a duplicate is skipped; the id is recorded with the handler\'s write', async () => {
    const e = event();
    let runs = 0;
    const handler = async (ev: { id: string }, tx: SqlExecutor) => { runs++; await writeEffect(tx, ev.id); return 'done'; };
    assert.deepEqual(await processOnce({ event: e, store, handler }), { processed: true, result: 'done' });
    assert.deepEqual(await processOnce({ event: e, store, handler }), { processed: false, reason: 'duplicate' });
    assert.deepEqual(await processOnceInTransaction(db, e, handler, { table }), { processed: false, reason: 'duplicate' });
    assert.equal(runs, 1);
    assert.equal(await effectCount(e.id), 1);
    assert.deepEqual(await recorded(e.id), [{ event_type: 'payment_intent.succeeded' }]);
  });

  test('a handler failure rolls back its write and the id; the retry processes it', async () => {
    const e = event();
    await assert.rejects(processOnceInTransaction(db, e, async (ev, tx) => {
      await writeEffect(tx, ev.id);
      throw new Error('handler failed');
    }, { table }), /handler failed/);
    assert.equal(await effectCount(e.id), 0);
    assert.deepEqual(await recorded(e.id), []);

    const retry = await processOnceInTransaction(db, e, async (ev, tx) => { await writeEffect(tx, ev.id); }, { table });
    assert.equal(retry.processed, true);
    assert.equal(await effectCount(e.id), 1);
    assert.equal((await recorded(e.id)).length, 1);
  });

  test('an error the handler swallowed still aborts: not reported as processed', async () => {
    const e = event();
    await assert.rejects(store.runOnce(e, async (tx) => {
      await writeEffect(tx, e.id);
      try { await tx.query('SELECT 1/0'); } catch { /* ignored by a careless handler */ }
    }));
    assert.equal(await effectCount(e.id), 0);
    assert.deepEqual(await recorded(e.id), []);
    assert.equal((await store.runOnce(e, async (tx) => { await writeEffect(tx, e.id); })).processed, true);
  });

  test('20 concurrent deliveries of one event: the handler runs once, its write happens once', async () => {
    const e = event();
    let runs = 0;
    const outcomes: ProcessOutcome<void>[] = await Promise.all(Array.from({ length: 20 }, () =>
      processOnceInTransaction(db, e, async (ev, tx) => {
        runs++;
        await writeEffect(tx, ev.id);
        await sleep(30); // hold the row while the others arrive
      }, { table })));
    assert.equal(runs, 1);
    assert.equal(outcomes.filter((o) => o.processed).length, 1);
    assert.equal(outcomes.filter((o) => !o.processed && o.reason === 'duplicate').length, 19);
    assert.equal(await effectCount(e.id), 1);
  });

  test('concurrent deliveries where the first attempt fails: exactly one later attempt succeeds', async () => {
    const e = event();
    let attempts = 0;
    const settled = await Promise.allSettled(Array.from({ length: 8 }, () =>
      store.runOnce(e, async (tx) => {
        const n = ++attempts;
        await writeEffect(tx, e.id);
        await sleep(20);
        if (n === 1) throw new Error('first attempt fails');
      })));
    assert.equal(settled.filter((s) => s.status === 'rejected').length, 1);
    assert.equal(settled.filter((s) => s.status === 'fulfilled' && s.value.processed).length, 1);
    assert.equal(attempts, 2);
    assert.equal(await effectCount(e.id), 1);
  });

  test('claim inside the caller\'s own transaction, and prune', async () => {
    const e = event();
    const first = await withTransaction(db, async (tx) => {
      const isNew = await store.claim(tx, e);
      if (isNew) await writeEffect(tx, e.id);
      return isNew;
    });
    const second = await withTransaction(db, (tx) => store.claim(tx, e));
    assert.deepEqual([first, second], [true, false]);
    assert.equal(await effectCount(e.id), 1);

    assert.equal(await store.prune(3600), 0);
    await sleep(5);
    assert.ok(await store.prune(0) >= 1);
    assert.deepEqual(await recorded(e.id), []);
    assert.throws(() => new PostgresProcessedEvents({ db, table: 'x; DROP TABLE y' }), TypeError);
  });
});
