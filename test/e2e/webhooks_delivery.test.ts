/**
 * Webhook delivery end to end, against real HTTP receivers on loopback that this file controls
 * (node:http servers that can be down, slow, answer 500, cut the connection, or hold requests).
 *
 * - Signatures: every delivery verifies with the official `stripe` package's
 *   `webhooks.constructEvent` and with the `standardwebhooks` package; `webhook-id` is the event id.
 * - Failure modes (port closed, slower than ONCEPAY_WEBHOOK_TIMEOUT, 500, connection destroyed),
 *   each for the first attempts, then recovery: no event lost, final state delivered, and the
 *   history (/v1/events/:id/deliveries) shows every attempt with its outcome, status and error.
 * - Backoff: `withJitter` stays within ±20%; observed retry gaps follow the schedule; after the
 *   last scheduled retry the delivery is failed and nothing more is sent.
 * - Endpoint disabling after failing continuously longer than ONCEPAY_WEBHOOK_DISABLE_AFTER.
 * - Secret rotation: two signatures (both verify, both schemes) during the grace period, then one.
 * - URL safety (SSRF) in production and in test mode, the allow-list, refusal at delivery time.
 * - Bad webhook endpoint input; redelivery (idempotent); replays emit no events.
 * - Two server processes on one PostgreSQL (DATABASE_URL only): a burst with no duplicate sends,
 *   and SIGKILL of one process mid-burst: every event still arrives.
 *
 * Servers in this file run their dispatchers over every account of their database with short
 * schedules and timeouts. On PostgreSQL each server (or group of servers meant to share data)
 * therefore gets a private schema, so they never take deliveries of other test files, nor of
 * each other (a dispatcher with another configuration would deliver them on its own schedule).
 */
import type { DeliveryAttempt } from '../../src/events/event_objects.ts';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http, { type IncomingHttpHeaders } from 'node:http';
import { hostname } from 'node:os';
import { lookup } from 'node:dns/promises';
import { BlockList, isIP, type AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import Stripe from 'stripe';
import { Webhook } from 'standardwebhooks';
import pg from 'pg';
import pino from 'pino';
import qs from 'qs';
import { waitFor } from '../helpers/wait.ts';
import { startTestServer, usingPostgres, type TestServer } from '../helpers/server.ts';
import { assertOk, assertStripeError, send, type Reply } from '../helpers/stripe_errors.ts';
import { cleanupServersAndStores, createPrivateSchema, dropPrivateSchemas, freePort, mapLimit, newSecretKey, spawnServer, STORE, type ServerProcess, type Store } from '../helpers/processes.ts';
import { loadConfig, type Config } from '../../src/config.ts';
import { createOncepay, type Oncepay } from '../../src/server.ts';
import { openDatabase, type Db } from '../../src/store/db.ts';
import { createAccount } from '../../src/accounts/keys.ts';
import { DEFAULT_SCHEDULE_MS, withJitter } from '../../src/events/dispatcher.ts';
import { SHARED_DATABASE_ONLY } from '../helpers/store.ts';

/** The main (test-mode) server: fast retries, a timeout short enough for the slow receiver. */
const SCHEDULE = [100, 200, 400, 800];
const TIMEOUT_MS = 1000;
const SLOW_MS = 2 * TIMEOUT_MS;
/** How late a retry may arrive beyond its jittered delay (poll interval, recording, a busy 2-core machine). */
const LATE_SLACK_MS = 300;

/** The production server: disables endpoints failing for more than a second; retries every 100 ms meanwhile. */
const PROD_SCHEDULE = Array.from({ length: 40 }, () => 100);
const DISABLE_AFTER_MS = 1000;
/** Allow-listed in production: a loopback address other than 127.0.0.1, so 127.0.0.1 itself stays refused. */
const ALLOWED_HOST = '127.0.0.2';

const FLOW_TYPES = ['payment_intent.created', 'charge.succeeded', 'payment_intent.succeeded'];

// ---------------------------------------------------------------------------------------------
// Small helpers

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** Where to send API calls: a base URL and a secret key (in-process servers and child processes alike). */
interface Api {
  url: string;
  key: string;
}

const asServer = (api: Api) => api as unknown as TestServer;

/** A form-encoded (Stripe-style) or JSON API call; GET parameters go in the query string. */
async function call(api: Api, method: string, path: string, params?: Record<string, unknown>, opts: { idempotencyKey?: string; json?: boolean } = {}): Promise<Reply> {
  const headers: Record<string, string> = opts.idempotencyKey ? { 'Idempotency-Key': opts.idempotencyKey } : {};
  if (method === 'GET' || params === undefined) {
    const query = params ? qs.stringify(params, { arrayFormat: 'indices' }) : '';
    return send(asServer(api), method, query ? `${path}?${query}` : path, { headers, timeoutMs: 15_000 });
  }
  if (opts.json) return send(asServer(api), method, path, { body: JSON.stringify(params), contentType: 'application/json', headers, timeoutMs: 15_000 });
  return send(asServer(api), method, path, { body: qs.stringify(params, { arrayFormat: 'indices' }), headers, timeoutMs: 15_000 });
}

async function createEndpoint(api: Api, url: string, enabledEvents: string[] = ['*']): Promise<{ id: string; secret: string; url: string; status: string }> {
  const e = assertOk(await call(api, 'POST', '/v1/webhook_endpoints', { url, enabled_events: enabledEvents }));
  assert.match(e.id, /^we_/);
  assert.match(e.secret, /^whsec_/);
  assert.equal(e.status, 'enabled');
  return e;
}

async function createAndConfirm(api: Api, opts: { amount?: number; idempotencyKey?: string } = {}): Promise<Reply> {
  const r = await call(api, 'POST', '/v1/payment_intents',
    { amount: opts.amount ?? 2000, currency: 'usd', payment_method: 'pm_card_visa', confirm: 'true' }, { idempotencyKey: opts.idempotencyKey });
  const pi = assertOk(r);
  assert.equal(pi.status, 'succeeded');
  return r;
}

async function createCustomer(api: Api, email = 'jenny@example.com'): Promise<any> {
  return assertOk(await call(api, 'POST', '/v1/customers', { email }));
}

/** Every event of the account, oldest first. */
async function listEvents(api: Api, params: Record<string, unknown> = {}): Promise<any[]> {
  const all: any[] = [];
  let startingAfter: string | undefined;
  for (;;) {
    const page = assertOk(await call(api, 'GET', '/v1/events', { limit: 100, ...params, ...(startingAfter ? { starting_after: startingAfter } : {}) }));
    all.push(...page.data);
    if (!page.has_more) break;
    startingAfter = page.data[page.data.length - 1].id;
  }
  return all.reverse();
}

/** A delivery attempt as the history API returns it. */
type Attempt = DeliveryAttempt;

/** The delivery history of an event (optionally to one endpoint), oldest attempt first. */
async function history(api: Api, eventId: string, endpointId?: string): Promise<Attempt[]> {
  const list = assertOk(await call(api, 'GET', `/v1/events/${eventId}/deliveries`, { limit: 100 }));
  assert.equal(list.object, 'list');
  const data = (list.data as Attempt[]).filter((a) => endpointId === undefined || a.webhook_endpoint === endpointId);
  return data.reverse();
}

/** The three events of a create+confirm, in any order (their order is checked by a test of its own). */
function assertFlowTypes(events: Array<{ type: string }>): void {
  assert.deepEqual(events.map((e) => e.type).sort(), [...FLOW_TYPES].sort());
}

/** Every attempt to an endpoint (all pages), oldest first. */
async function endpointAttempts(api: Api, endpointId: string): Promise<Attempt[]> {
  const all: Attempt[] = [];
  let startingAfter: string | undefined;
  for (;;) {
    const page = assertOk(await call(api, 'GET', `/v1/webhook_endpoints/${endpointId}/deliveries`, { limit: 100, ...(startingAfter ? { starting_after: startingAfter } : {}) }));
    all.push(...page.data);
    if (!page.has_more) break;
    startingAfter = page.data[page.data.length - 1].id;
  }
  return all.reverse();
}

const lastOutcome = (h: Attempt[]) => h[h.length - 1]?.outcome;

/** The stored state of one delivery row (status and attempts), straight from the database. */
async function deliveryRow(db: Db, accountId: string, eventId: string, endpointId: string): Promise<{ status: string; attempts: number } | undefined> {
  const { rows } = await db.query<{ status: string; attempts: number }>(
    'SELECT status, attempts FROM webhook_deliveries WHERE account_id = $1 AND event_id = $2 AND endpoint_id = $3', [accountId, eventId, endpointId]);
  return rows[0];
}

/** Common shape checks of one attempt object. */
function assertAttemptShape(a: Attempt, ev: { id: string; type: string }, endpoint: { id: string; url: string }): void {
  assert.match(a.id, /^wha_/);
  assert.equal(a.object, 'webhook_delivery_attempt');
  assert.equal(a.event, ev.id);
  assert.equal(a.event_type, ev.type);
  assert.equal(a.webhook_endpoint, endpoint.id);
  assert.equal(a.url, endpoint.url);
  assert.ok(Number.isInteger(a.latency_ms) && a.latency_ms >= 0, `latency_ms: ${a.latency_ms}`);
  assert.ok(Number.isInteger(a.created), `created: ${a.created}`);
}

/** The attempt numbers are 1..n, each once, in the order they were made. */
function assertConsecutive(h: Attempt[], what: string): void {
  assert.deepEqual(h.map((a) => a.attempt), range(h.length).map((i) => i + 1), `${what}: attempt numbers must be 1..n without gaps or duplicates`);
}

// ---------------------------------------------------------------------------------------------
// Receivers

type Behaviour = 'ok' | '500' | 'slow' | 'destroy' | 'hold' | 'redirect';

interface Hit {
  id: string;
  /** The how-many-th request carrying this webhook-id. */
  nth: number;
  at: number;
  headers: IncomingHttpHeaders;
  body: string;
  behaviour: Behaviour;
  /** Answered with a 2xx that was handed to the connection. */
  acked: boolean;
  /** The connection closed before this request was answered (a sender that died or gave up). */
  abandoned: boolean;
}

const receivers = new Set<Receiver>();

class Receiver {
  readonly hits: Hit[] = [];
  port = 0;
  private readonly server: http.Server;
  private held: Array<() => void> = [];
  private listening = false;

  /** Where 'redirect' points (Location). */
  redirectTo = '';

  private constructor(readonly host: string, public behave: (id: string, nth: number) => Behaviour) {
    this.server = http.createServer((req, res) => this.handle(req, res));
    receivers.add(this);
  }

  /** Starts listening, unless `down` (then it only reserves a free port, which stays closed until up()). */
  static async start(opts: { host?: string; behave?: (id: string, nth: number) => Behaviour; down?: boolean } = {}): Promise<Receiver> {
    const r = new Receiver(opts.host ?? '127.0.0.1', opts.behave ?? (() => 'ok'));
    if (opts.down) r.port = await freePort();
    else await r.up();
    return r;
  }

  url(path = '/hooks/oncepay'): string {
    return `http://${this.host}:${this.port}${path}`;
  }

  up(): Promise<void> {
    return new Promise((ok, fail) => {
      this.server.once('error', fail);
      this.server.listen(this.port, this.host, () => {
        this.server.off('error', fail);
        this.port = (this.server.address() as AddressInfo).port;
        this.listening = true;
        ok();
      });
    });
  }

  async close(): Promise<void> {
    this.release();
    if (!this.listening) return;
    this.listening = false;
    this.server.closeAllConnections();
    await new Promise<void>((ok) => this.server.close(() => ok()));
  }

  /** Answers every held request with 200. */
  release(): void {
    const held = this.held;
    this.held = [];
    for (const answer of held) answer();
  }

  heldCount(): number {
    return this.held.length;
  }

  count(id: string): number {
    return this.hits.filter((h) => h.id === id).length;
  }

  hitsOf(id: string): Hit[] {
    return this.hits.filter((h) => h.id === id);
  }

  acked(id: string): boolean {
    return this.hits.some((h) => h.id === id && h.acked);
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const id = String(req.headers['webhook-id'] ?? '');
    const nth = this.count(id) + 1;
    const behaviour = this.behave(id, nth);
    const hit: Hit = { id, nth, at: Date.now(), headers: req.headers, body: '', behaviour, acked: false, abandoned: false };
    this.hits.push(hit);
    req.on('error', () => {});
    res.on('error', () => {});
    if (behaviour === 'destroy') {
      // Mid-request: the headers are in, the body is not read, and the connection is cut.
      req.socket.destroy();
      return;
    }
    res.on('close', () => { if (!res.writableFinished) hit.abandoned = true; });
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      hit.body = Buffer.concat(chunks).toString('utf8');
      const answer = (status: number, text: string, ack: boolean) => {
        if (res.destroyed || res.writableEnded) return;
        res.on('finish', () => { if (ack) hit.acked = true; });
        res.writeHead(status, { 'content-type': 'text/plain' }).end(text);
      };
      switch (behaviour) {
        case 'ok': return answer(200, 'ok', true);
        // A long body: only an excerpt of it is kept in the history.
        case '500': return answer(500, `boom ${nth} ${'x'.repeat(4000)}`, false);
        case 'redirect': {
          res.writeHead(307, { location: this.redirectTo }).end();
          return;
        }
        case 'slow': {
          // Answers after the sender's timeout: the sender has given up by then.
          setTimeout(() => answer(200, 'too late', false), SLOW_MS).unref();
          return;
        }
        case 'hold': {
          this.held.push(() => answer(200, 'released', true));
          return;
        }
      }
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Signatures

const stripeLib = new Stripe('sk_test_only_used_to_verify_webhooks', { telemetry: false });

function verifyBoth(hit: Hit, secret: string): any {
  const event = stripeLib.webhooks.constructEvent(hit.body, String(hit.headers['stripe-signature']), secret);
  assert.equal(event.id, hit.id, 'constructEvent: the event id is the webhook-id');
  const sw = new Webhook(secret).verify(hit.body, hit.headers as Record<string, string>) as any;
  assert.equal(sw.id, hit.id, 'standardwebhooks: the event id is the webhook-id');
  return event;
}

function refusedByBoth(hit: Hit, secret: string, why: string): void {
  assert.throws(() => stripeLib.webhooks.constructEvent(hit.body, String(hit.headers['stripe-signature']), secret),
    (e: any) => e?.type === 'StripeSignatureVerificationError', `constructEvent must refuse: ${why}`);
  assert.throws(() => new Webhook(secret).verify(hit.body, hit.headers as Record<string, string>), /signature/i, `standardwebhooks must refuse: ${why}`);
}

const stripeV1Count = (hit: Hit) => String(hit.headers['stripe-signature']).split(',').filter((p) => p.startsWith('v1=')).length;
const standardV1Count = (hit: Hit) => String(hit.headers['webhook-signature']).split(' ').filter((p) => p.startsWith('v1,')).length;

// ---------------------------------------------------------------------------------------------
// Databases and servers

const schemas: string[] = [];

/** DATABASE_URL with search_path on a new schema of its own, or undefined on PGlite. */
async function privateDatabaseUrl(tag: string): Promise<string | undefined> {
  if (!usingPostgres()) return undefined;
  const { schema, url } = await createPrivateSchema(`wh_${tag}`);
  schemas.push(schema);
  return url;
}

const dropSchemas = () => dropPrivateSchemas(schemas.splice(0));

function baseConfig(over: Partial<Config>): Config {
  return {
    ...loadConfig({}),
    dataDir: 'memory://',
    completerIntervalMs: 3_600_000,
    logLevel: 'silent',
    poolSize: 10,
    ...over,
  };
}

/**
 * Two Oncepay instances over one database: a production one (the only dispatcher) and a
 * test-mode one with no dispatcher, to save endpoints that production mode refuses, as an
 * operator switching ONCEPAY_ENV would leave them.
 */
interface Pair {
  db: Db;
  prod: Oncepay;
  dev: Oncepay;
  prodUrl: string;
  devUrl: string;
  close(): Promise<void>;
}

async function startPair(): Promise<Pair> {
  const databaseUrl = await privateDatabaseUrl('prod');
  const db = await openDatabase({ databaseUrl, dataDir: 'memory://', poolSize: 10 });
  const logger = pino({ level: process.env.ONCEPAY_TEST_LOG ?? 'silent' });
  const prod = await createOncepay(baseConfig({
    databaseUrl, production: true, webhookAllowedHosts: [ALLOWED_HOST], webhookScheduleMs: PROD_SCHEDULE,
    webhookTimeoutMs: 1000, webhookIntervalMs: 25, webhookDisableAfterMs: DISABLE_AFTER_MS,
  }), { db, logger });
  const dev = await createOncepay(baseConfig({ databaseUrl, production: false, webhookIntervalMs: 0 }), { db, logger });
  const urls: string[] = [];
  for (const o of [prod, dev]) {
    await o.app.listen({ port: 0, host: '127.0.0.1' });
    urls.push(`http://127.0.0.1:${(o.app.server.address() as AddressInfo).port}`);
  }
  return {
    db, prod, dev, prodUrl: urls[0], devUrl: urls[1],
    async close() {
      await prod.close();
      await dev.close();
      await db.close();
    },
  };
}

let main: TestServer | undefined;
let pair: Pair | undefined;

/** A fresh account on the main server, so each test sees only its own events. */
async function mainAccount(): Promise<Api & { accountId: string }> {
  const a = await main!.newAccount();
  return { url: main!.url, key: a.key, accountId: a.accountId };
}

before(async () => {
  // All in-process servers start before any test: PGlite's start blocks the event loop for a
  // while, which must not happen while deliveries with a short timeout are being timed.
  main = await startTestServer({
    config: {
      ...(usingPostgres() ? { databaseUrl: await privateDatabaseUrl('main') } : {}),
      webhookScheduleMs: SCHEDULE, webhookTimeoutMs: TIMEOUT_MS, webhookIntervalMs: 25, webhookDisableAfterMs: 3_600_000,
    },
  });
  pair = await startPair();
});

after(async () => {
  await Promise.all([...receivers].map((r) => r.close()));
  await cleanupServersAndStores();
  await main?.close();
  await pair?.close();
  await dropSchemas();
});

// ---------------------------------------------------------------------------------------------
// Unit: jitter

describe('backoff jitter (unit)', () => {
  test('withJitter stays within ±20% of the scheduled delay, and actually spreads', () => {
    assert.equal(withJitter(1000, () => 0), 800);
    assert.equal(withJitter(1000, () => 0.5), 1000);
    assert.equal(withJitter(1000, () => 0.999_999), 1200);
    for (const ms of [...SCHEDULE, ...PROD_SCHEDULE.slice(0, 1), ...DEFAULT_SCHEDULE_MS]) {
      for (let i = 0; i < 200; i++) {
        const d = withJitter(ms);
        assert.ok(Number.isInteger(d), `integer delay: ${d}`);
        assert.ok(d >= Math.round(ms * 0.8) && d <= Math.round(ms * 1.2), `withJitter(${ms}) = ${d} is outside ±20%`);
      }
    }
    const samples = range(2000).map(() => withJitter(10_000));
    const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
    assert.ok(Math.min(...samples) < 8_400 && Math.max(...samples) > 11_600, `jitter should use the whole ±20% band: ${Math.min(...samples)}..${Math.max(...samples)}`);
    assert.ok(mean > 9_800 && mean < 10_200, `jitter should be centred on the delay: mean ${mean}`);
  });

  test('the default schedule: starts at a minute, never exceeds 12 hours, never decreases', () => {
    assert.equal(DEFAULT_SCHEDULE_MS[0], 60_000);
    for (let i = 1; i < DEFAULT_SCHEDULE_MS.length; i++) assert.ok(DEFAULT_SCHEDULE_MS[i] >= DEFAULT_SCHEDULE_MS[i - 1]);
    assert.ok(Math.max(...DEFAULT_SCHEDULE_MS) <= 12 * 3_600_000);
  });
});

describe(`webhooks [${STORE}]`, { concurrency: true }, () => {
  // -------------------------------------------------------------------------------------------
  // The main server (test mode): one scenario at a time, since a slow receiver holds up its
  // dispatcher's whole pass and would distort the timing of the others.

  describe('delivery, retries and history (test mode)', { concurrency: 1 }, () => {
    test('a create+confirm flow: three events, each signed so that stripe.webhooks.constructEvent and standardwebhooks verify it, webhook-id = event id', { timeout: 30_000 }, async () => {
      const api = await mainAccount();
      const receiver = await Receiver.start();
      const we = await createEndpoint(api, receiver.url());
      const pi = assertOk(await createAndConfirm(api));
      const events = await listEvents(api);
      assertFlowTypes(events);
      await waitFor('all three events acknowledged by the receiver', () => events.map((e) => receiver.acked(e.id)), (v) => v.every(Boolean));
      for (const ev of events) {
        const [hit] = receiver.hitsOf(ev.id);
        assert.equal(receiver.count(ev.id), 1, `${ev.type} delivered once`);
        assert.match(String(hit.headers['content-type']), /^application\/json/);
        const verified = verifyBoth(hit, we.secret);
        assert.equal(verified.type, ev.type);
        assert.equal(hit.headers['webhook-id'], ev.id);
        const t = Number(hit.headers['webhook-timestamp']);
        assert.ok(Math.abs(t - Date.now() / 1000) < 60, `webhook-timestamp is now: ${t}`);
        assert.equal(String(hit.headers['stripe-signature']).split(',')[0], `t=${t}`, 'both schemes sign the same timestamp');
        assert.equal(stripeV1Count(hit), 1);
        assert.equal(standardV1Count(hit), 1);
        // The body is the event as the API shows it (pending_webhooks aside: it counts this delivery).
        const body = JSON.parse(hit.body);
        const stored = assertOk(await call(api, 'GET', `/v1/events/${ev.id}`));
        assert.equal(stored.pending_webhooks, 0, 'delivered: nothing pending');
        assert.equal(body.pending_webhooks, 1, 'while being delivered, this delivery is pending');
        assert.deepEqual({ ...body, pending_webhooks: 0 }, stored);
        assert.equal((body.data.object as any).id, ev.type.startsWith('charge.') ? pi.latest_charge : pi.id);
        // Wrong secret, tampered body: both libraries refuse.
        refusedByBoth(hit, `whsec_${randomBytes(32).toString('base64')}`, 'another secret');
        refusedByBoth({ ...hit, body: hit.body.replace(/"livemode": *false/, '"livemode": true') }, we.secret, 'a tampered body');
      }
      const h = await history(api, events[2].id);
      assert.equal(h.length, 1);
      assertAttemptShape(h[0], events[2], we);
      assert.equal(h[0].outcome, 'delivered');
      assert.equal(h[0].status_code, 200);
      assert.equal(h[0].response_body_excerpt, 'ok');
      assert.equal(h[0].error, null);
      assert.equal(h[0].next_retry_at, null);
    });

    type Failures = number | { atLeast: number };

    /** The events (oldest first) that are the first of their object: the heads of the delivery queues. */
    const firstOfEachObject = (events: any[]) => events.filter((e, i) => events.findIndex((x) => x.data.object.id === e.data.object.id) === i);

    /**
     * The receiver fails in some way, then recovers. Every event of a create+confirm flow is
     * acknowledged in the end; each one's history is failures (checked by `failedAttempt`) then
     * one delivery, with attempt numbers 1..n; its delivery row is delivered.
     */
    async function recovery(opts: {
      receiver: Receiver;
      /** Called once the flow ran (e.g. to bring a closed port up after some attempts). */
      recover?: (api: Api, events: any[]) => Promise<void>;
      /** Exact number of failed attempts per event, or a minimum (or either, by event). */
      failures: Failures | ((ev: any, events: any[]) => Failures);
      /** Whether the failed attempts reached the receiver (all but a closed port). */
      reached: boolean;
      failedAttempt: (a: Attempt) => void;
    }) {
      const api = await mainAccount();
      const { receiver } = opts;
      const we = await createEndpoint(api, receiver.url());
      await createAndConfirm(api);
      const events = await listEvents(api);
      assertFlowTypes(events);
      await opts.recover?.(api, events);
      await waitFor('every event of the flow acknowledged', () => events.map((e) => receiver.acked(e.id)), (v) => v.every(Boolean));
      for (const ev of events) {
        const h = await waitFor(`the history of ${ev.type} to end delivered`, () => history(api, ev.id), (x) => lastOutcome(x) === 'delivered', { timeoutMs: 5_000 });
        assertConsecutive(h, ev.type);
        const failed = h.slice(0, -1);
        const failures = typeof opts.failures === 'function' ? opts.failures(ev, events) : opts.failures;
        if (typeof failures === 'number') assert.equal(failed.length, failures, `${ev.type}: ${JSON.stringify(h)}`);
        else assert.ok(failed.length >= failures.atLeast, `${ev.type}: at least ${failures.atLeast} failed attempts: ${JSON.stringify(h)}`);
        for (const a of failed) {
          assertAttemptShape(a, ev, we);
          assert.equal(a.outcome, 'failed', JSON.stringify(a));
          assert.ok(a.next_retry_at !== null && a.next_retry_at >= a.created + 1, `a failed attempt names its next retry: ${JSON.stringify(a)}`);
          opts.failedAttempt(a);
        }
        const last = h[h.length - 1];
        assertAttemptShape(last, ev, we);
        assert.deepEqual([last.outcome, last.status_code, last.error, last.next_retry_at, last.response_body_excerpt], ['delivered', 200, null, null, 'ok']);
        // The receiver saw exactly the attempts that reached it, and it verifies the delivered one.
        assert.equal(receiver.count(ev.id), opts.reached ? h.length : 1, `${ev.type}: requests seen by the receiver vs attempts recorded`);
        verifyBoth(receiver.hitsOf(ev.id).find((x) => x.acked)!, we.secret);
        assert.equal((await deliveryRow(main!.oncepay.db, api.accountId, ev.id, we.id))?.status, 'delivered');
        assert.equal(assertOk(await call(api, 'GET', `/v1/events/${ev.id}`)).pending_webhooks, 0);
      }
      assert.equal(assertOk(await call(api, 'GET', `/v1/webhook_endpoints/${we.id}`)).status, 'enabled');
      return { api, events, we };
    }

    test('receiver down (port closed) for a while, then up: every event arrives; refused connections recorded as failed attempts', { timeout: 30_000 }, async () => {
      const receiver = await Receiver.start({ down: true });
      await recovery({
        receiver,
        async recover(api, events) {
          // Keep the port closed until the first event of each object has failed at least twice
          // (the later ones of an object wait behind it: one object's events go in order).
          const heads = firstOfEachObject(events);
          await waitFor('two failed attempts per first event of an object', () => Promise.all(heads.map((e) => history(api, e.id))), (hs) => hs.every((h) => h.length >= 2), { intervalMs: 10 });
          await receiver.up();
        },
        failures: (ev, events) => ({ atLeast: firstOfEachObject(events).includes(ev) ? 2 : 0 }),
        reached: false,
        failedAttempt(a) {
          assert.equal(a.status_code, null);
          assert.equal(a.response_body_excerpt, null);
          assert.match(String(a.error), /ECONNREFUSED/);
        },
      });
    });

    test(`receiver slower than ONCEPAY_WEBHOOK_TIMEOUT (${TIMEOUT_MS} ms) for the first 2 attempts: timed out attempts, then delivered`, { timeout: 30_000 }, async () => {
      const receiver = await Receiver.start({ behave: (_id, nth) => (nth <= 2 ? 'slow' : 'ok') });
      await recovery({
        receiver,
        failures: 2,
        reached: true,
        failedAttempt(a) {
          assert.equal(a.status_code, null);
          assert.equal(a.error, `timed out after ${TIMEOUT_MS} ms`);
          assert.ok(a.latency_ms >= TIMEOUT_MS - 5 && a.latency_ms < SLOW_MS, `latency of a timed out attempt: ${a.latency_ms}`);
        },
      });
    });

    test('receiver answering 500 for the first 3 attempts: status and body recorded, then delivered', { timeout: 30_000 }, async () => {
      const receiver = await Receiver.start({ behave: (_id, nth) => (nth <= 3 ? '500' : 'ok') });
      await recovery({
        receiver,
        failures: 3,
        reached: true,
        failedAttempt(a) {
          assert.equal(a.status_code, 500);
          assert.equal(a.error, null);
          assert.match(String(a.response_body_excerpt), /^boom [123] x+$/);
          assert.equal(a.response_body_excerpt!.length, 1024, 'the response body is kept as a 1 KiB excerpt');
        },
      });
    });

    test('receiver destroying the connection mid-request for the first 2 attempts: connection errors recorded, then delivered', { timeout: 30_000 }, async () => {
      const receiver = await Receiver.start({ behave: (_id, nth) => (nth <= 2 ? 'destroy' : 'ok') });
      await recovery({
        receiver,
        failures: 2,
        reached: true,
        failedAttempt(a) {
          assert.equal(a.status_code, null);
          assert.equal(a.response_body_excerpt, null);
          assert.match(String(a.error), /fetch failed|socket|ECONNRESET|closed|terminated/i);
        },
      });
    });

    test(`backoff: retries follow the schedule ${SCHEDULE.join(',')} ms with ±20% jitter; after the last one the delivery is failed and nothing more is sent`, { timeout: 30_000 }, async () => {
      const api = await mainAccount();
      const receiver = await Receiver.start({ behave: () => '500' });
      const we = await createEndpoint(api, receiver.url(), ['customer.created']);
      await createCustomer(api);
      const [ev] = await listEvents(api);
      const total = SCHEDULE.length + 1;
      const h = await waitFor(`${total} attempts, the last without a next retry`, () => history(api, ev.id),
        (x) => x.length === total && x[total - 1].next_retry_at === null, { timeoutMs: 10_000 });
      assertConsecutive(h, 'always 500');
      h.forEach((a, i) => {
        assertAttemptShape(a, ev, we);
        assert.deepEqual([a.outcome, a.status_code], ['failed', 500]);
        if (i === total - 1) return;
        // next_retry_at is in whole seconds: created + the jittered delay, rounded.
        const lo = Math.ceil((SCHEDULE[i] * 0.8) / 1000);
        const hi = Math.ceil((SCHEDULE[i] * 1.2) / 1000) + 1;
        assert.ok(a.next_retry_at! - a.created >= lo && a.next_retry_at! - a.created <= hi,
          `attempt ${a.attempt}: next_retry_at ${a.next_retry_at} for a delay of ${SCHEDULE[i]} ms after ${a.created}`);
      });
      // The gaps the receiver observed between attempts: the scheduled delay, jittered by ±20%.
      const at = receiver.hitsOf(ev.id).map((x) => x.at);
      assert.equal(at.length, total);
      for (let i = 0; i < SCHEDULE.length; i++) {
        const gap = at[i + 1] - at[i];
        assert.ok(gap >= SCHEDULE[i] * 0.8 - 2, `retry ${i + 1} came too early: ${gap} ms after the previous attempt, scheduled ${SCHEDULE[i]} ms -20%`);
        assert.ok(gap <= SCHEDULE[i] * 1.2 + LATE_SLACK_MS, `retry ${i + 1} came too late: ${gap} ms after the previous attempt, scheduled ${SCHEDULE[i]} ms +20%`);
      }
      // Given up: failed, not pending, and no further attempt however long we wait.
      await sleep(SCHEDULE[SCHEDULE.length - 1] * 1.2 + 700);
      assert.equal(receiver.count(ev.id), total, 'no attempt after the last scheduled retry');
      assert.equal((await history(api, ev.id)).length, total);
      assert.deepEqual(await deliveryRow(main!.oncepay.db, api.accountId, ev.id, we.id), { status: 'failed', attempts: total });
      assert.equal(assertOk(await call(api, 'GET', `/v1/events/${ev.id}`)).pending_webhooks, 0);
      assert.equal(assertOk(await call(api, 'GET', `/v1/webhook_endpoints/${we.id}`)).status, 'enabled', 'the main server disables only after an hour');
    });

    test('deleting an endpoint stops its deliveries: pending retries are canceled', { timeout: 30_000 }, async () => {
      const api = await mainAccount();
      const receiver = await Receiver.start({ behave: () => '500' });
      const we = await createEndpoint(api, receiver.url(), ['customer.created']);
      await createCustomer(api);
      const [ev] = await listEvents(api);
      await waitFor('two failed attempts', () => receiver.count(ev.id), (n) => n >= 2);
      const deleted = assertOk(await call(api, 'DELETE', `/v1/webhook_endpoints/${we.id}`));
      assert.deepEqual(deleted, { id: we.id, object: 'webhook_endpoint', deleted: true });
      await sleep(200);
      const seen = receiver.count(ev.id);
      await sleep(SCHEDULE.reduce((a, b) => a + b, 0));
      assert.equal(receiver.count(ev.id), seen, 'no attempt after the endpoint was deleted');
      assert.equal((await deliveryRow(main!.oncepay.db, api.accountId, ev.id, we.id))?.status, 'canceled');
      assert.equal(assertOk(await call(api, 'GET', `/v1/events/${ev.id}`)).pending_webhooks, 0);
      assertStripeError(await call(api, 'GET', `/v1/webhook_endpoints/${we.id}`), { status: 404, code: 'resource_missing' });
    });

    test('redirects are not followed: a 307 is a failed attempt, and its target gets nothing', { timeout: 30_000 }, async () => {
      const api = await mainAccount();
      const target = await Receiver.start();
      const receiver = await Receiver.start({ behave: (_id, nth) => (nth === 1 ? 'redirect' : 'ok') });
      receiver.redirectTo = target.url('/elsewhere');
      const we = await createEndpoint(api, receiver.url(), ['customer.created']);
      await createCustomer(api);
      const [ev] = await listEvents(api);
      await waitFor('delivery after the redirect', () => receiver.acked(ev.id), Boolean);
      const h = await waitFor('history', () => history(api, ev.id), (x) => lastOutcome(x) === 'delivered');
      assertConsecutive(h, 'redirect then ok');
      assert.deepEqual(h.map((a) => [a.outcome, a.status_code]), [['failed', 307], ['delivered', 200]]);
      assertAttemptShape(h[0], ev, we);
      assert.equal(target.hits.length, 0, 'the redirect target was never called');
    });

    test('secret rotation: both secrets sign (two v1 signatures, both verify with both libraries) until the grace period ends, then only the new one', { timeout: 30_000 }, async () => {
      const api = await mainAccount();
      const receiver = await Receiver.start();
      const we = await createEndpoint(api, receiver.url(), ['customer.created']);
      const old = we.secret;
      const deliverOne = async (email: string) => {
        const cus = await createCustomer(api, email);
        const ev = (await listEvents(api, { type: 'customer.created' })).find((e) => e.data.object.id === cus.id);
        await waitFor('delivery of a customer.created', () => receiver.acked(ev.id), Boolean);
        return receiver.hitsOf(ev.id)[0];
      };

      const before = await deliverOne('before@example.com');
      assert.equal(stripeV1Count(before), 1);
      verifyBoth(before, old);

      const key = `rotate_${randomBytes(6).toString('hex')}`;
      const rotatedRes = await call(api, 'POST', `/v1/webhook_endpoints/${we.id}/rotate_secret`, { previous_secret_expires_in: 2 }, { idempotencyKey: key });
      const rotated = assertOk(rotatedRes);
      assert.match(rotated.secret, /^whsec_/);
      assert.notEqual(rotated.secret, old);
      assert.ok(Math.abs(rotated.previous_secret_expires_at - (Date.now() / 1000 + 2)) <= 2, `previous_secret_expires_at: ${rotated.previous_secret_expires_at}`);
      // Idempotent like every POST: the same key replays the same rotation (same new secret).
      const replay = await call(api, 'POST', `/v1/webhook_endpoints/${we.id}/rotate_secret`, { previous_secret_expires_in: 2 }, { idempotencyKey: key });
      assert.equal(replay.headers.get('idempotent-replayed'), 'true');
      assert.equal(assertOk(replay).secret, rotated.secret);
      // The secret is shown on create and rotation only.
      assert.equal('secret' in assertOk(await call(api, 'GET', `/v1/webhook_endpoints/${we.id}`)), false);

      const during = await deliverOne('during@example.com');
      assert.equal(stripeV1Count(during), 2, `two v1 signatures during the grace period: ${during.headers['stripe-signature']}`);
      assert.equal(standardV1Count(during), 2, `two v1 signatures during the grace period: ${during.headers['webhook-signature']}`);
      verifyBoth(during, old);
      verifyBoth(during, rotated.secret);

      await sleep(Math.max(0, rotated.previous_secret_expires_at * 1000 - Date.now()) + 300);
      const afterGrace = await deliverOne('after@example.com');
      assert.equal(stripeV1Count(afterGrace), 1, `one signature after the grace period: ${afterGrace.headers['stripe-signature']}`);
      assert.equal(standardV1Count(afterGrace), 1);
      verifyBoth(afterGrace, rotated.secret);
      refusedByBoth(afterGrace, old, 'the previous secret after its grace period');

      // previous_secret_expires_in=0 ends the old secret at once.
      const now = assertOk(await call(api, 'POST', `/v1/webhook_endpoints/${we.id}/rotate_secret`, { previous_secret_expires_in: 0 }));
      assert.equal(now.previous_secret_expires_at, null);
      const immediate = await deliverOne('immediate@example.com');
      assert.equal(stripeV1Count(immediate), 1);
      verifyBoth(immediate, now.secret);
      refusedByBoth(immediate, rotated.secret, 'a secret rotated away with no grace period');
    });

    test('redelivery: the event is sent again now (same webhook-id), to one endpoint or to all; the same Idempotency-Key replays without a third delivery', { timeout: 30_000 }, async () => {
      const api = await mainAccount();
      const [r1, r2] = await Promise.all([Receiver.start(), Receiver.start()]);
      const e1 = await createEndpoint(api, r1.url(), ['customer.created']);
      const e2 = await createEndpoint(api, r2.url(), ['customer.created']);
      await createCustomer(api);
      const [ev] = await listEvents(api);
      await waitFor('first deliveries', () => [r1.acked(ev.id), r2.acked(ev.id)], (v) => v.every(Boolean));

      const k1 = `redeliver_${randomBytes(6).toString('hex')}`;
      const first = await call(api, 'POST', `/v1/events/${ev.id}/redeliver`, { webhook_endpoint: e2.id }, { idempotencyKey: k1 });
      const body = assertOk(first);
      assert.equal(body.id, ev.id);
      assert.equal(body.object, 'event');
      await waitFor('the redelivery to the second endpoint', () => r2.hitsOf(ev.id).filter((x) => x.acked).length, (n) => n === 2);
      const again = r2.hitsOf(ev.id)[1];
      assert.equal(again.headers['webhook-id'], ev.id, 'the same webhook-id: receivers can deduplicate');
      const redelivered = verifyBoth(again, e2.secret);
      const original = JSON.parse(r2.hitsOf(ev.id)[0].body);
      assert.deepEqual({ ...redelivered, pending_webhooks: 0 }, { ...original, pending_webhooks: 0 }, 'the same event is sent again');

      const replay = await call(api, 'POST', `/v1/events/${ev.id}/redeliver`, { webhook_endpoint: e2.id }, { idempotencyKey: k1 });
      assert.equal(replay.headers.get('idempotent-replayed'), 'true');
      assert.deepEqual(assertOk(replay), body);
      await sleep(600);
      assert.equal(r2.count(ev.id), 2, 'a replayed redelivery sends nothing');
      assert.equal(r1.count(ev.id), 1, 'a redelivery to one endpoint leaves the others alone');

      // Without webhook_endpoint: every endpoint that wants it.
      assertOk(await call(api, 'POST', `/v1/events/${ev.id}/redeliver`, {}, { idempotencyKey: `${k1}_all` }));
      await waitFor('the redelivery to both endpoints', () => [r1.count(ev.id), r2.count(ev.id)], (v) => v[0] === 2 && v[1] === 3);
      const h2 = await waitFor('history to e2', () => history(api, ev.id, e2.id), (h) => h.length === 3);
      assertConsecutive(h2, 'redeliveries');
      assert.ok(h2.every((a) => a.outcome === 'delivered' && a.next_retry_at === null), JSON.stringify(h2));
      await sleep(400);
      assert.deepEqual([r1.count(ev.id), r2.count(ev.id)], [2, 3], 'nothing sent beyond the redeliveries asked for');

      // Unknown event (in the path): 404; unknown endpoint (a parameter): 400, as Stripe does; nothing sent.
      assertStripeError(await call(api, 'POST', '/v1/events/evt_nope/redeliver', {}), { status: 404, code: 'resource_missing' });
      assertStripeError(await call(api, 'POST', `/v1/events/${ev.id}/redeliver`, { webhook_endpoint: 'we_nope' }), { status: 400, code: 'resource_missing', param: 'webhook_endpoint' });
      await sleep(300);
      assert.deepEqual([r1.count(ev.id), r2.count(ev.id)], [2, 3]);
    });

    test('a redelivery asked for while the first attempt is still in flight is not swallowed by that attempt\'s success', { timeout: 30_000 }, async () => {
      const api = await mainAccount();
      // First attempts are held unanswered; later ones are answered at once. Four held batches
      // keep every sender of the dispatcher busy, so the redelivery cannot be claimed before the
      // first attempt's success is written: that write must not mark the redelivery delivered.
      const receiver = await Receiver.start({ behave: (_id, nth) => (nth === 1 ? 'hold' : 'ok') });
      const we = await createEndpoint(api, receiver.url(), ['customer.created']);
      const ids: string[] = [];
      for (let i = 1; i <= 4; i++) {
        await createCustomer(api);
        await waitFor(`first attempt ${i} in flight`, () => receiver.heldCount(), (n) => n === i);
        ids.push(receiver.hits[receiver.hits.length - 1].id);
      }
      const ev = ids[0];
      assertOk(await call(api, 'POST', `/v1/events/${ev}/redeliver`, { webhook_endpoint: we.id }));
      await sleep(200);
      assert.equal(receiver.count(ev), 1, 'every sender is busy: the redelivery waits');
      receiver.release();
      // The held attempt's 2xx is recorded in the history, and the redelivery is still sent.
      await waitFor('the redelivery', () => receiver.hitsOf(ev).filter((x) => x.acked).length, (n) => n === 2);
      await waitFor('both attempts in the history', () => history(api, ev, we.id), (x) => x.length === 2 && x.every((a: any) => a.outcome === 'delivered'));
      await sleep(400);
      assert.deepEqual(ids.map((id) => receiver.count(id)), [2, 1, 1, 1], 'nothing sent beyond the one redelivery');
    });

    test('replayed idempotent requests emit no extra events: create+confirm emits exactly its three events, delivered once each, however often it is replayed', { timeout: 30_000 }, async () => {
      const api = await mainAccount();
      const receiver = await Receiver.start();
      await createEndpoint(api, receiver.url());
      const key = `flow_${randomBytes(6).toString('hex')}`;
      const first = await createAndConfirm(api, { idempotencyKey: key });
      const events = await listEvents(api);
      assertFlowTypes(events);
      for (const e of events) assert.equal(e.request.idempotency_key, key, 'the events name the request that caused them');
      await waitFor('three deliveries', () => events.map((e) => receiver.acked(e.id)), (v) => v.every(Boolean));
      for (let i = 0; i < 3; i++) {
        const replay = await createAndConfirm(api, { idempotencyKey: key });
        assert.equal(replay.headers.get('idempotent-replayed'), 'true');
        assert.equal(replay.json.id, first.json.id);
      }
      await sleep(500);
      const afterReplays = await listEvents(api);
      assert.deepEqual(afterReplays.map((e) => e.id), events.map((e) => e.id), 'no event from replays');
      assert.deepEqual(events.map((e) => receiver.count(e.id)), [1, 1, 1]);
      assert.equal(receiver.hits.length, 3, 'the receiver got exactly the three events');
    });

    test('GET /v1/events lists a flow\'s events in the order they happened, newest first', { timeout: 30_000 }, async () => {
      const api = await mainAccount();
      await createAndConfirm(api);
      const newestFirst = assertOk(await call(api, 'GET', '/v1/events', { limit: 10 })).data.map((e: any) => e.type);
      assert.deepEqual(newestFirst, [...FLOW_TYPES].reverse(),
        'payment_intent.created, then charge.succeeded, then payment_intent.succeeded (listed newest first)');
      const wildcard = assertOk(await call(api, 'GET', '/v1/events', { type: 'payment_intent.*' })).data.map((e: any) => e.type);
      assert.deepEqual(wildcard, [...FLOW_TYPES].reverse().filter((t) => t.startsWith('payment_intent.')));
    });

    test('bad webhook endpoint input: 400 in Stripe\'s error shape naming the parameter; nothing created or changed', { timeout: 30_000 }, async () => {
      const api = await mainAccount();
      const url = 'http://127.0.0.1:9/hooks';
      const post = (body: string) => send(asServer(api), 'POST', '/v1/webhook_endpoints', { body });
      const postJson = (value: unknown) => send(asServer(api), 'POST', '/v1/webhook_endpoints', { body: JSON.stringify(value), contentType: 'application/json' });
      const u = encodeURIComponent(url);

      assertStripeError(await post('enabled_events[0]=*'), { status: 400, code: 'parameter_missing', param: 'url' });
      assertStripeError(await postJson({ enabled_events: ['*'] }), { status: 400, code: 'parameter_missing', param: 'url' });
      assertStripeError(await post(`url=${u}`), { status: 400, code: 'parameter_missing', param: 'enabled_events' });
      assertStripeError(await post(`url=${u}&enabled_events[0]=charge.exploded`), { status: 400, param: 'enabled_events[0]' });
      assertStripeError(await post(`url=${u}&enabled_events[0]=*&enabled_events[1]=payment_intent.*`), { status: 400, param: 'enabled_events[1]' });
      assertStripeError(await postJson({ url, enabled_events: ['customer.created', 'no_such.event'] }), { status: 400, param: 'enabled_events[1]' });
      assertStripeError(await postJson({ url, enabled_events: [] }), { status: 400, param: 'enabled_events' });
      assertStripeError(await post(`url=${u}&enabled_events=`), { status: 400, param: 'enabled_events' });
      assertStripeError(await post(`url=${u}&enabled_events=*`), { status: 400, param: 'enabled_events' });
      assertStripeError(await postJson({ url, enabled_events: '*' }), { status: 400, param: 'enabled_events' });
      assertStripeError(await postJson({ url, enabled_events: [{ type: '*' }] }), { status: 400, param: 'enabled_events[0]' });
      assertStripeError(await post(`url[nested]=x&enabled_events[0]=*`), { status: 400, param: 'url' });
      assertStripeError(await postJson({ url: ['http://127.0.0.1:9/'], enabled_events: ['*'] }), { status: 400, param: 'url' });
      assertStripeError(await postJson({ url: 42, enabled_events: ['*'] }), { status: 400, param: 'url' });
      assertStripeError(await post(`url=&enabled_events[0]=*`), { status: 400, param: 'url' });
      assertStripeError(await post(`url=not%20a%20url&enabled_events[0]=*`), { status: 400, param: 'url' });
      assertStripeError(await post(`url=${u}&enabled_events[0]=*&description[a]=b`), { status: 400, param: 'description' });
      assertStripeError(await post(`url=${u}&enabled_events[0]=*&metadata=x`), { status: 400, param: 'metadata' });
      assertStripeError(await post(`url=${u}&enabled_events[0]=*&secret=whsec_mine`), { status: 400, code: 'parameter_unknown', param: 'secret' });
      assertStripeError(await post(`url=${u}&enabled_events[0]=*&foo=bar`), { status: 400, code: 'parameter_unknown', param: 'foo' });
      assertStripeError(await post(`url=${u}&enabled_event[0]=*`), { status: 400, code: 'parameter_unknown', param: 'enabled_event' });
      assertStripeError(await postJson({ url, enabled_events: ['*'], status: 'disabled' }), { status: 400, code: 'parameter_unknown', param: 'status' });

      const none = assertOk(await call(api, 'GET', '/v1/webhook_endpoints', { limit: 100 }));
      assert.deepEqual(none.data, [], 'nothing created by refused requests');

      // Update: the same rules, and the endpoint is left as it was.
      const we = await createEndpoint(api, url, ['customer.created']);
      const path = `/v1/webhook_endpoints/${we.id}`;
      const postTo = (body: string) => send(asServer(api), 'POST', path, { body });
      assertStripeError(await postTo('enabled_events[0]=bogus.type'), { status: 400, param: 'enabled_events[0]' });
      assertStripeError(await postTo('enabled_events='), { status: 400, param: 'enabled_events' });
      assertStripeError(await postTo('url=ftp%3A%2F%2Fexample.com%2F'), { status: 400, param: 'url' });
      assertStripeError(await postTo('disabled=maybe'), { status: 400, param: 'disabled' });
      assertStripeError(await postTo('foo=bar'), { status: 400, code: 'parameter_unknown', param: 'foo' });
      assertStripeError(await call(api, 'POST', `/v1/webhook_endpoints/${we.id}/rotate_secret`, { previous_secret_expires_in: -1 }), { status: 400, param: 'previous_secret_expires_in' });
      assertStripeError(await call(api, 'POST', `/v1/webhook_endpoints/${we.id}/rotate_secret`, { previous_secret_expires_in: 'soon' }), { status: 400, param: 'previous_secret_expires_in' });
      assertStripeError(await call(api, 'POST', '/v1/webhook_endpoints/we_missing', { description: 'x' }), { status: 404, code: 'resource_missing' });
      const unchanged = assertOk(await call(api, 'GET', path));
      assert.deepEqual([unchanged.url, unchanged.enabled_events, unchanged.status], [url, ['customer.created'], 'enabled']);
      const list = assertOk(await call(api, 'GET', '/v1/webhook_endpoints', { limit: 100 }));
      assert.deepEqual(list.data.map((e: any) => e.id), [we.id]);
    });

    test('URL safety in test mode: loopback and private networks allowed; link-local (cloud metadata), other schemes and credentials refused', { timeout: 30_000 }, async () => {
      const api = await mainAccount();
      for (const url of ['http://127.0.0.1:9/hooks', 'http://localhost:9/hooks', 'http://10.0.0.5/hooks', 'http://192.168.1.10/hooks', 'http://[::1]:9/hooks', 'https://example.com/hooks']) {
        const we = await createEndpoint(api, url, ['customer.created']);
        assertOk(await call(api, 'DELETE', `/v1/webhook_endpoints/${we.id}`));
      }
      for (const url of [
        'http://169.254.169.254/latest/meta-data/', 'http://169.254.0.1/', 'http://[fe80::1]/', 'http://[::ffff:169.254.169.254]/',
        'ftp://example.com/hooks', 'file:///etc/passwd', 'http://user:pass@example.com/hooks', 'https://token@example.com/hooks', 'example.com/hooks',
      ]) {
        const err = assertStripeError(await call(api, 'POST', '/v1/webhook_endpoints', { url, enabled_events: ['*'] }), { status: 400, param: 'url' });
        assert.ok(err.message.length > 0);
      }
      assert.deepEqual(assertOk(await call(api, 'GET', '/v1/webhook_endpoints', { limit: 100 })).data, []);
    });
  });

  // -------------------------------------------------------------------------------------------
  // The production pair: URL policy, allow-list, refusal at delivery time, endpoint disabling.

  describe('production mode: URL policy, allow-list, delivery-time refusal, disabling', { concurrency: 1 }, () => {
    const prodAccount = async (): Promise<{ prod: Api; dev: Api; accountId: string }> => {
      const a = await createAccount(pair!.db);
      return { prod: { url: pair!.prodUrl, key: a.key }, dev: { url: pair!.devUrl, key: a.key }, accountId: a.accountId };
    };

    test('creating or updating endpoints on loopback, private, link-local addresses, local names, other schemes or with credentials: 400 naming url', { timeout: 30_000 }, async () => {
      const { prod } = await prodAccount();
      const refused = [
        'http://127.0.0.1:8080/hooks', 'http://127.1/hooks', 'http://2130706433/hooks', 'http://localhost/hooks', 'http://LOCALHOST:3000/hooks',
        'http://api.localhost/hooks', 'http://printer.local/hooks', 'http://metadata.google.internal/',
        'http://10.0.0.5/hooks', 'http://10.255.255.255/', 'http://172.16.0.1/', 'http://192.168.1.10/hooks', 'http://100.64.0.1/',
        'http://169.254.169.254/latest/meta-data/', 'http://0.0.0.0:8080/', 'http://[::1]:8080/hooks', 'http://[::]/', 'http://[fc00::1]/',
        'http://[fe80::1]/', 'http://[::ffff:127.0.0.1]/hooks', 'http://[::ffff:169.254.169.254]/',
        'ftp://example.com/hooks', 'gopher://example.com/', 'http://user:pass@example.com/hooks', 'https://user@example.com/hooks',
      ];
      const accepted: string[] = [];
      for (const url of refused) {
        const r = await call(prod, 'POST', '/v1/webhook_endpoints', { url, enabled_events: ['*'] });
        if (r.status === 200) { accepted.push(url); continue; }
        assertStripeError(r, { status: 400, code: 'url_invalid', param: 'url' });
      }
      assert.deepEqual(accepted, [], 'production mode must refuse every one of these URLs when the endpoint is saved');
      assert.deepEqual(assertOk(await call(prod, 'GET', '/v1/webhook_endpoints', { limit: 100 })).data, [], 'nothing created');
      // A public host is fine (checked again after DNS resolution at delivery).
      const we = await createEndpoint(prod, 'https://example.com/hooks', ['customer.created']);
      for (const url of ['http://127.0.0.1:8080/hooks', 'http://localhost/hooks', 'http://169.254.169.254/']) {
        assertStripeError(await call(prod, 'POST', `/v1/webhook_endpoints/${we.id}`, { url }), { status: 400, code: 'url_invalid', param: 'url' });
      }
      assert.equal(assertOk(await call(prod, 'GET', `/v1/webhook_endpoints/${we.id}`)).url, 'https://example.com/hooks');
    });

    test('a fully qualified local name (trailing dot: localhost., api.localhost., metadata.google.internal.) is refused like the name without the dot', { timeout: 30_000 }, async () => {
      const { prod } = await prodAccount();
      const accepted: string[] = [];
      for (const url of ['http://localhost.:3000/hooks', 'http://LocalHost.:3000/hooks', 'http://api.localhost./hooks', 'http://metadata.google.internal./', 'http://printer.local./']) {
        const r = await call(prod, 'POST', '/v1/webhook_endpoints', { url, enabled_events: ['*'] });
        if (r.status === 200) { accepted.push(url); continue; }
        assertStripeError(r, { status: 400, code: 'url_invalid', param: 'url' });
      }
      assert.deepEqual(accepted, [], '"localhost." is the same host as "localhost" (a DNS name with its root label): production mode must refuse it when the endpoint is saved');
    });

    test(`the allow-list (${ALLOWED_HOST}) lets a loopback host through in production: saved and delivered`, { timeout: 30_000 }, async () => {
      const { prod } = await prodAccount();
      const receiver = await Receiver.start({ host: ALLOWED_HOST });
      const we = await createEndpoint(prod, receiver.url(), ['customer.created']);
      await createCustomer(prod);
      const [ev] = await listEvents(prod);
      await waitFor('delivery to the allow-listed host', () => receiver.acked(ev.id), Boolean);
      verifyBoth(receiver.hitsOf(ev.id)[0], we.secret);
      const h = await waitFor('history', () => history(prod, ev.id), (x) => lastOutcome(x) === 'delivered');
      assert.equal(h.length, 1);
    });

    test('a host name resolving to loopback is refused at delivery time in production: outcome refused, nothing sent', { timeout: 30_000 }, async (t) => {
      const { prod, dev } = await prodAccount();
      const receiver = await Receiver.start();
      // `localhost`, saved while the server ran in test mode (the test-mode instance on the same database).
      const local = await createEndpoint(dev, `http://localhost:${receiver.port}/hooks`, ['customer.created']);
      // A host name that passes the static check but resolves to loopback or a private address.
      const name = await nameResolvingToLoopback();
      const resolved = name ? await createEndpoint(prod, `http://${name}:${receiver.port}/hooks`, ['customer.created']) : undefined;
      if (!name) t.diagnostic('no non-"localhost" host name resolving to loopback on this machine: only the localhost case runs');
      await createCustomer(prod);
      const [ev] = await listEvents(prod);
      const cases: Array<[{ id: string; url: string }, RegExp]> = [[local, /localhost/]];
      if (resolved) cases.push([resolved, new RegExp(`${name}.*resolves to .*(loopback|private)`)]);
      for (const [we, why] of cases) {
        const h = await waitFor(`refused attempts to ${we.url}`, () => history(prod, ev.id, we.id), (x) => x.length >= 2);
        assertConsecutive(h, `refusals to ${we.url}`);
        for (const a of h) {
          assertAttemptShape(a, ev, we);
          assert.equal(a.outcome, 'refused', JSON.stringify(a));
          assert.equal(a.status_code, null);
          assert.match(String(a.error), /^refused to deliver: /);
          assert.match(String(a.error), why);
        }
        assert.ok(h[0].next_retry_at !== null, 'a refusal is a failed attempt: retried by the schedule');
      }
      assert.equal(receiver.hits.length, 0, 'no request ever reached the receiver');
    });

    test(`an endpoint failing continuously for longer than ONCEPAY_WEBHOOK_DISABLE_AFTER (${DISABLE_AFTER_MS} ms) is disabled, once; webhook_endpoint.disabled is emitted and delivered; deliveries stop`, { timeout: 30_000 }, async () => {
      const { prod, accountId } = await prodAccount();
      const failing = await Receiver.start({ host: ALLOWED_HOST, behave: () => '500' });
      const watcher = await Receiver.start({ host: ALLOWED_HOST });
      const bad = await createEndpoint(prod, failing.url(), ['customer.created']);
      const good = await createEndpoint(prod, watcher.url(), ['webhook_endpoint.disabled']);
      // Many events at once: many failed deliveries to one endpoint are recorded concurrently, around the threshold too.
      const EVENTS = 12;
      await Promise.all(range(EVENTS).map((i) => createCustomer(prod, `c${i}@example.com`)));
      const customerEvents = await listEvents(prod, { type: 'customer.created' });
      assert.equal(customerEvents.length, EVENTS);

      const disabled = await waitFor('the endpoint to be disabled', async () => assertOk(await call(prod, 'GET', `/v1/webhook_endpoints/${bad.id}`)),
        (e) => e.status === 'disabled', { timeoutMs: 10_000 });
      assert.equal(disabled.status, 'disabled');
      const firstHit = failing.hits[0].at;
      const countAtDisable = failing.hits.length;
      const lastBefore = failing.hits[countAtDisable - 1].at;
      assert.ok(lastBefore - firstHit >= DISABLE_AFTER_MS * 0.9, `disabled only after failing for about ${DISABLE_AFTER_MS} ms, it failed for ${lastBefore - firstHit} ms`);
      // Retried until disabled: every event first sent well before the endpoint was disabled (its
      // second attempt is due ~100 ms after the first; 500 ms leaves room for a loaded machine) was
      // sent again. On a loaded machine some first attempts come late, so those are not judged; the
      // first event always is (it started the failing period, which lasted about a second).
      const before = failing.hits.slice(0, countAtDisable);
      const judged = customerEvents.filter((e) => {
        const first = before.find((h) => h.id === e.id);
        return first !== undefined && lastBefore - first.at >= 500;
      });
      assert.ok(judged.some((e) => e.id === failing.hits[0].id), 'the event that started the failures is judged');
      for (const e of judged) {
        assert.ok(before.filter((h) => h.id === e.id).length >= 2, `event ${e.id} was retried before the endpoint was disabled (${countAtDisable} attempts in all)`);
      }

      const disabledEvents = await listEvents(prod, { type: 'webhook_endpoint.disabled' });
      assert.equal(disabledEvents.length, 1, `exactly one webhook_endpoint.disabled: ${JSON.stringify(disabledEvents.map((e) => e.id))}`);
      const ev = disabledEvents[0];
      assert.equal(ev.data.object.id, bad.id);
      assert.equal(ev.data.object.object, 'webhook_endpoint');
      assert.equal(ev.data.object.status, 'disabled');
      assert.equal(ev.data.previous_attributes, undefined, 'previous_attributes only on *.updated events, as Stripe sends them');
      assert.deepEqual(ev.request, { id: null, idempotency_key: null }, 'caused by the system, not a request');
      assert.equal('secret' in ev.data.object, false, 'the event does not leak the signing secret');
      await waitFor('webhook_endpoint.disabled delivered to the other endpoint', () => watcher.acked(ev.id), Boolean);
      const seen = verifyBoth(watcher.hitsOf(ev.id)[0], good.secret);
      assert.equal(seen.type, 'webhook_endpoint.disabled');
      assert.deepEqual(assertOk(await call(prod, 'GET', '/v1/webhook_endpoints', { status: 'disabled' })).data.map((e: any) => e.id), [bad.id]);

      // Deliveries stop: pending ones were canceled; new events are not queued for it.
      await sleep(300);
      const settled = failing.hits.length;
      await createCustomer(prod, 'after@example.com');
      await sleep(800);
      assert.equal(failing.hits.length, settled, 'no request to a disabled endpoint');
      for (const ce of customerEvents) {
        const row = await deliveryRow(pair!.db, accountId, ce.id, bad.id);
        assert.equal(row?.status, 'canceled', `delivery of ${ce.id}: ${JSON.stringify(row)}`);
        assert.equal(assertOk(await call(prod, 'GET', `/v1/events/${ce.id}`)).pending_webhooks, 0);
      }
      const endpointHistory = await endpointAttempts(prod, bad.id);
      assert.ok(endpointHistory.length > 0 && endpointHistory.every((a) => a.outcome === 'failed' && a.status_code === 500));
      assert.equal(endpointHistory.length, settled, 'every request the receiver saw is in the endpoint\'s history');
      for (const ce of customerEvents) {
        assert.equal((await history(prod, ce.id, bad.id)).length, failing.count(ce.id), `${ce.id}: every attempt the receiver saw is recorded`);
      }
      // Redelivering to a disabled endpoint is refused.
      assertStripeError(await call(prod, 'POST', `/v1/events/${customerEvents[0].id}/redeliver`, { webhook_endpoint: bad.id }), { status: 400, param: 'webhook_endpoint' });
    });
  });

  // -------------------------------------------------------------------------------------------
  // Two real server processes on one PostgreSQL.

  describe('two server processes dispatching from one PostgreSQL', {
    concurrency: 1, skip: SHARED_DATABASE_ONLY,
  }, () => {
    const secret = newSecretKey();
    const env = {
      ONCEPAY_WEBHOOK_RETRY_SCHEDULE: '100ms,200ms,400ms,800ms,1600ms',
      ONCEPAY_WEBHOOK_TIMEOUT: '2s',
      ONCEPAY_WEBHOOK_INTERVAL: '50ms',
      ONCEPAY_WEBHOOK_DISABLE_AFTER: '1h',
    };
    let store: Store;
    const servers: ServerProcess[] = [];

    before(async () => {
      if (!usingPostgres()) return;
      store = { databaseUrl: await privateDatabaseUrl('procs'), dispose() {} };
      servers.push(...await Promise.all([spawnServer({ store, key: secret, env }), spawnServer({ store, key: secret, env })]));
    });

    const explain = (err: unknown): never => {
      const out = servers.map((s) => `--- server pid ${s.pid} ---\n${s.output().slice(-3000)}`).join('\n');
      if (err instanceof Error) err.message += `\n${out}`;
      throw err;
    };

    test('a burst through both processes: every event delivered; no attempt sent twice except by retry', { timeout: 60_000 }, async (t) => {
      try {
        let distinct = 0;
        const failFirst = new Set<string>();
        const receiver = await Receiver.start({
          behave(id, nth) {
            if (nth === 1 && ++distinct % 3 === 0) failFirst.add(id);
            return nth === 1 && failFirst.has(id) ? '500' : 'ok';
          },
        });
        const we = await createEndpoint(servers[0], receiver.url());
        const N = 16;
        await mapLimit(range(N), 4, (i) => createAndConfirm(servers[i % 2], { amount: 1000 + i }));
        const events = await listEvents(servers[1]);
        assert.equal(events.length, N * 3, 'three events per create+confirm');
        await waitFor('every event acknowledged', () => events.filter((e) => !receiver.acked(e.id)).map((e) => e.id), (v) => v.length === 0, { timeoutMs: 30_000 });
        let retried = 0;
        for (const ev of events) {
          const h = await waitFor(`history of ${ev.id}`, () => history(servers[0], ev.id), (x) => lastOutcome(x) === 'delivered', { timeoutMs: 10_000 });
          assertConsecutive(h, ev.id);
          assert.equal(receiver.count(ev.id), h.length, `${ev.id}: each request the receiver saw is one recorded attempt: ${JSON.stringify(h)}`);
          const expected = failFirst.has(ev.id) ? 2 : 1;
          assert.equal(h.length, expected, `${ev.id}: ${JSON.stringify(h)}`);
          if (expected === 2) {
            retried++;
            assert.deepEqual([h[0].outcome, h[0].status_code], ['failed', 500]);
          }
          verifyBoth(receiver.hitsOf(ev.id).find((x) => x.acked)!, we.secret);
        }
        assert.ok(retried > 0, 'some deliveries went through a retry');
        t.diagnostic(`${events.length} events, ${receiver.hits.length} requests, ${retried} retried once`);
        assertOk(await call(servers[0], 'DELETE', `/v1/webhook_endpoints/${we.id}`));
      } catch (err) {
        explain(err);
      }
    });

    test('SIGKILL of one process in the middle of a delivery burst: after a restart every event still arrives', { timeout: 90_000 }, async (t) => {
      try {
        let releasedAll = false;
        // Hold every request until the kill: the victim dies with deliveries in flight.
        const receiver = await Receiver.start({ behave: () => (releasedAll ? 'ok' : 'hold') });
        const [victim, survivor] = servers;
        const earlier = new Set((await listEvents(survivor)).map((e) => e.id));
        await createEndpoint(survivor, receiver.url());
        // Requests go to the victim: its commits wake its own dispatcher, which claims at once.
        const burst = mapLimit(range(12), 4, (i) => createAndConfirm(victim, { amount: 500 + i }).catch(() => undefined));
        await waitFor('deliveries in flight', () => receiver.heldCount(), (n) => n >= 8, { timeoutMs: 20_000 });
        const exit = await victim.kill();
        assert.equal(exit.signal, 'SIGKILL');
        await burst;
        await sleep(100);
        const orphaned = receiver.hits.filter((h) => h.abandoned && !h.acked).map((h) => h.id);
        releasedAll = true;
        receiver.release();
        t.diagnostic(`${orphaned.length} deliveries were in flight from the killed process`);
        assert.ok(orphaned.length > 0, 'the kill should have caught deliveries in flight (else this test proves nothing)');

        servers[0] = await spawnServer({ store, key: secret, env });
        const events = (await listEvents(survivor)).filter((e) => !earlier.has(e.id));
        assert.ok(events.length >= 3, `events committed before the kill: ${events.length}`);
        // Deliveries claimed by the dead process wait out their lease (30 s), then go again.
        await waitFor('every event acknowledged after the restart', () => events.filter((e) => !receiver.acked(e.id)).map((e) => e.id), (v) => v.length === 0,
          { timeoutMs: 70_000, intervalMs: 200 });
        for (const id of orphaned) assert.ok(receiver.count(id) >= 2 && receiver.acked(id), `${id} was sent again after the kill`);
        for (const ev of events) {
          const h = await waitFor(`history of ${ev.id}`, () => history(survivor, ev.id), (x) => lastOutcome(x) === 'delivered', { timeoutMs: 10_000 });
          const numbers = h.map((a) => a.attempt);
          assert.deepEqual(numbers, [...new Set(numbers)].sort((a, b) => a - b), `${ev.id}: attempt numbers increase, never repeat: ${numbers}`);
          assert.equal(assertOk(await call(survivor, 'GET', `/v1/events/${ev.id}`)).pending_webhooks, 0);
        }
        t.diagnostic(`${events.length} events, ${receiver.hits.length} requests; ${new Set(receiver.hits.filter((h) => h.nth > 1).map((h) => h.id)).size} ids sent more than once`);
      } catch (err) {
        explain(err);
      }
    });
  });
});

// ---------------------------------------------------------------------------------------------

const LOCAL_NAME = /^(localhost|.*\.localhost|.*\.local|.*\.internal)$/i;
const NON_PUBLIC = new BlockList();
for (const [net, bits] of [['127.0.0.0', 8], ['10.0.0.0', 8], ['172.16.0.0', 12], ['192.168.0.0', 16]] as const) NON_PUBLIC.addSubnet(net, bits, 'ipv4');
NON_PUBLIC.addAddress('::1', 'ipv6');
NON_PUBLIC.addSubnet('fc00::', 7, 'ipv6');

/** This machine's host name (or another local name) when it resolves only to loopback or private addresses. */
async function nameResolvingToLoopback(): Promise<string | undefined> {
  for (const name of [hostname(), 'ip6-localhost', 'ip6-loopback']) {
    if (!name || isIP(name) || LOCAL_NAME.test(name) || !/^[a-z0-9.-]+$/i.test(name)) continue;
    try {
      const addrs = await lookup(name, { all: true });
      if (addrs.length > 0 && addrs.every((a) => NON_PUBLIC.check(a.address, a.family === 6 ? 'ipv6' : 'ipv4'))) return name;
    } catch {
      // not resolvable here
    }
  }
  return undefined;
}
