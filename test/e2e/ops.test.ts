/**
 * Operations: /healthz, /readyz, Prometheus /metrics (request counters and latency histogram by
 * route pattern, idempotency events, open locks, webhook queue and attempts, pool), the per-key
 * rate limit, and graceful shutdown (in-flight requests finish; past the deadline their locks
 * are released so a retry resumes at once).
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import Stripe from 'stripe';
import { startTestServer, useTestServer, usingPostgres, type TestServer } from '../helpers/server.ts';
import { send, assertOk, assertStripeError, form, type Reply } from '../helpers/stripe_errors.ts';
import { sales } from '../helpers/ledger.ts';
import { uniqueKey } from '../helpers/unique.ts';
import { FaultSwitch } from '../../src/faults.ts';
import { SHARED_DATABASE_ONLY } from '../helpers/store.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns a value other than undefined (or fails after `ms`). */
async function eventually<T>(what: string, check: () => Promise<T | undefined> | T | undefined, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

// ---------------------------------------------------------------------------------------------
// Prometheus text parsing

type Series = Map<string, number>;

function parseLabels(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of text.matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)) out[m[1]] = m[2].replace(/\\(.)/g, (_x, c) => (c === 'n' ? '\n' : c));
  return out;
}
const seriesKey = (name: string, labels: Record<string, string | number>) =>
  `${name}{${Object.keys(labels).sort().map((k) => `${k}=${JSON.stringify(String(labels[k]))}`).join(',')}}`;

function parseMetrics(text: string): Series {
  const series: Series = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/.exec(line);
    assert.ok(m, `not a Prometheus sample line: ${JSON.stringify(line)}`);
    const value = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : Number(m[3]);
    // prom-client writes NaN as "Nan" (Prometheus parses floats case-insensitively).
    assert.ok(!Number.isNaN(value) || /^nan$/i.test(m[3]), `bad sample value in ${line}`);
    series.set(seriesKey(m[1], m[2] ? parseLabels(m[2]) : {}), value);
  }
  return series;
}

async function scrape(server: TestServer): Promise<{ text: string; series: Series; get: (name: string, labels?: Record<string, string | number>) => number }> {
  const r = await send(server, 'GET', '/metrics', { key: null });
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type') ?? '', /^text\/plain/);
  const series = parseMetrics(r.text);
  return { text: r.text, series, get: (name, labels = {}) => series.get(seriesKey(name, labels)) ?? 0 };
}

/** The label sets of every sample of `name`. */
function labelsOf(text: string, name: string): Record<string, string>[] {
  return text.split('\n').filter((l) => l.startsWith(`${name}{`)).map((l) => parseLabels(l.slice(name.length + 1, l.lastIndexOf('}'))));
}

// ---------------------------------------------------------------------------------------------

describe('health, readiness, metrics', () => {
  const { server: s, stripe } = useTestServer();

  test('GET /healthz: 200 {status: ok} without a key', async () => {
    const r = await send(s, 'GET', '/healthz', { key: null });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
    assert.deepEqual(r.json, { status: 'ok' });
  });

  test('GET /readyz: 200 with the database, migrations and workers checks ok, without a key', async () => {
    const r = await send(s, 'GET', '/readyz', { key: null });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.status, 'ready');
    assert.deepEqual(r.json.checks, { database: { ok: true }, migrations: { ok: true }, workers: { ok: true } });
  });

  test('ops endpoints are neither request-logged nor counted as API requests', async () => {
    const acct = await s.newAccount();
    for (const p of ['/healthz', '/readyz', '/metrics']) assert.equal((await send(s, 'GET', p, { key: acct.key })).status, 200);
    await s.oncepay.requestLogs.flush();
    const logs = assertOk(await send(s, 'GET', '/v1/request_logs', { key: acct.key }));
    assert.deepEqual(logs.data, []);
    const { text } = await scrape(s);
    const routes = labelsOf(text, 'oncepay_http_requests_total').map((l) => l.route);
    for (const p of ['/healthz', '/readyz', '/metrics']) assert.ok(!routes.includes(p), `${p} counted as an API request`);
  });

  test('/metrics: exposition format and every documented family', async () => {
    const { text } = await scrape(s);
    for (const [name, type] of [
      ['oncepay_http_requests_total', 'counter'], ['oncepay_http_request_duration_seconds', 'histogram'],
      ['oncepay_idempotency_events_total', 'counter'], ['oncepay_idempotency_open_locks', 'gauge'],
      ['oncepay_webhook_queue_depth', 'gauge'], ['oncepay_webhook_delivery_attempts_total', 'counter'],
      ['oncepay_db_pool_connections', 'gauge'], ['oncepay_request_logs_dropped_total', 'counter'],
    ]) {
      assert.ok(text.includes(`# TYPE ${name} ${type}\n`), `missing # TYPE ${name} ${type}`);
      assert.ok(text.includes(`# HELP ${name} `), `missing # HELP ${name}`);
    }
    assert.match(text, /^oncepay_process_\w+/m, 'Node process metrics are exported with the oncepay_process_ prefix');
    const { get } = await scrape(s);
    const total = get('oncepay_db_pool_connections', { state: 'total' });
    const idle = get('oncepay_db_pool_connections', { state: 'idle' });
    assert.ok(total >= 1, `pool total ${total}`);
    assert.ok(idle >= 0 && idle <= total, `pool idle ${idle} of ${total}`);
    assert.ok(labelsOf(text, 'oncepay_db_pool_connections').some((l) => l.state === 'waiting'));
    assert.equal(get('oncepay_request_logs_dropped_total'), 0);
  });

  test('request counters and latency histogram move by exactly the traffic sent, labelled by route pattern', async () => {
    const before = await scrape(s);
    const slowKey = uniqueKey('slow');
    const slowBody = form({ amount: 1100, currency: 'usd', payment_method: 'pm_card_oncepay_slow', confirm: 'true' });
    // Two identical slow requests at once: one runs (~3 s), the other meets its lock (409 conflict).
    const slowPair = Promise.all([0, 1].map(() => send(s, 'POST', '/v1/payment_intents', { body: slowBody, headers: { 'Idempotency-Key': slowKey }, timeoutMs: 20_000 })));

    const k = uniqueKey('metrics');
    const body = form({ amount: 1200, currency: 'usd', payment_method: 'pm_card_visa', confirm: 'true' });
    const created = await send(s, 'POST', '/v1/payment_intents', { body, headers: { 'Idempotency-Key': k } });
    assertOk(created);
    for (let i = 0; i < 3; i++) assert.equal((await send(s, 'POST', '/v1/payment_intents', { body, headers: { 'Idempotency-Key': k } })).headers.get('idempotent-replayed'), 'true');
    assertStripeError(await send(s, 'POST', '/v1/payment_intents', { body: form({ amount: 1, currency: 'usd' }), headers: { 'Idempotency-Key': k } }), { status: 400, type: 'idempotency_error' });
    const pending = assertOk(await send(s, 'POST', '/v1/payment_intents', { body: form({ amount: 1300, currency: 'usd', payment_method: 'pm_card_visa' }) }));
    assertOk(await send(s, 'POST', `/v1/payment_intents/${pending.id}/confirm`, { body: '' }));
    for (let i = 0; i < 2; i++) assertOk(await send(s, 'GET', `/v1/payment_intents/${pending.id}`));
    assertStripeError(await send(s, 'GET', '/v1/payment_intents/pi_doesnotexist'), { status: 404 });
    for (let i = 0; i < 2; i++) assertStripeError(await send(s, 'POST', '/v1/customers', { body: form({ shoe_size: 44 }) }), { status: 400, code: 'parameter_unknown' });
    assert.equal((await send(s, 'GET', '/v1/no_such_thing')).status, 404);
    const pair = await slowPair;
    assert.deepEqual(pair.map((r) => r.status).sort(), [200, 409]);

    const after = await scrape(s);
    const delta = (name: string, labels: Record<string, string | number> = {}) => after.get(name, labels) - before.get(name, labels);
    const req = (method: string, route: string, status: number, outcome: string) => delta('oncepay_http_requests_total', { method, route, status, outcome });
    assert.equal(req('POST', '/v1/payment_intents', 200, 'executed'), 3, 'created, pending and the slow one');
    assert.equal(req('POST', '/v1/payment_intents', 200, 'replayed'), 3);
    assert.equal(req('POST', '/v1/payment_intents', 400, 'mismatch'), 1);
    assert.equal(req('POST', '/v1/payment_intents', 409, 'conflict'), 1);
    assert.equal(req('POST', '/v1/payment_intents/:intent/confirm', 200, 'executed'), 1);
    assert.equal(req('GET', '/v1/payment_intents/:intent', 200, 'executed'), 2);
    assert.equal(req('GET', '/v1/payment_intents/:intent', 404, 'executed'), 1);
    assert.equal(req('POST', '/v1/customers', 400, 'rejected'), 2);
    assert.equal(req('GET', 'unmatched', 404, 'rejected'), 1);
    // Nothing else moved.
    const allDelta = [...after.series].filter(([k]) => k.startsWith('oncepay_http_requests_total{'))
      .reduce((sum, [k, v]) => sum + v - (before.series.get(k) ?? 0), 0);
    assert.equal(allDelta, 15);

    // The latency histogram: one observation per request, by route; the slow one (~3 s) lands above 2.5 s.
    const h = (suffix: string, route: string, extra: Record<string, string> = {}) => delta(`oncepay_http_request_duration_seconds${suffix}`, { method: 'POST', route, ...extra });
    assert.equal(h('_count', '/v1/payment_intents'), 8);
    assert.equal(h('_bucket', '/v1/payment_intents', { le: '+Inf' }), 8);
    assert.equal(h('_bucket', '/v1/payment_intents', { le: '10' }) - h('_bucket', '/v1/payment_intents', { le: '2.5' }), 1, 'the slow confirm alone took between 2.5 and 10 s');
    assert.ok(h('_sum', '/v1/payment_intents') >= 2.9, `sum ${h('_sum', '/v1/payment_intents')}`);
    assert.equal(delta('oncepay_http_request_duration_seconds_count', { method: 'GET', route: '/v1/payment_intents/:intent' }), 3);
    assert.equal(delta('oncepay_http_request_duration_seconds_count', { method: 'POST', route: '/v1/payment_intents/:intent/confirm' }), 1);

    // Idempotency events.
    assert.equal(delta('oncepay_idempotency_events_total', { event: 'replayed' }), 3);
    assert.equal(delta('oncepay_idempotency_events_total', { event: 'mismatch' }), 1);
    assert.equal(delta('oncepay_idempotency_events_total', { event: 'conflict' }), 1);

    // Labels carry route patterns, never ids.
    for (const name of ['oncepay_http_requests_total', 'oncepay_http_request_duration_seconds_bucket']) {
      for (const labels of labelsOf(after.text, name)) {
        assert.ok(!/(pi|ch|cus|re|evt|we|req)_[A-Za-z0-9]{6,}/.test(labels.route), `${name} has a concrete id in its route label: ${labels.route}`);
      }
    }
    assert.ok(!after.text.includes(pending.id));
    assert.ok(!after.text.includes('pi_doesnotexist'));
    assert.ok(!after.text.includes('no_such_thing'));
  });

  test('open locks: a request in flight holds one (held)', async () => {
    const k = uniqueKey('held');
    const inflight = send(s, 'POST', '/v1/payment_intents', {
      body: form({ amount: 1400, currency: 'usd', payment_method: 'pm_card_oncepay_slow', confirm: 'true' }),
      headers: { 'Idempotency-Key': k }, timeoutMs: 20_000,
    });
    await eventually('the slow request to hold its key', async () => {
      const r = await send(s, 'GET', `/v1/idempotency_keys/${encodeURIComponent(k)}`);
      return r.status === 200 && r.json.state === 'in_progress' ? true : undefined;
    });
    const during = await scrape(s);
    assert.ok(during.get('oncepay_idempotency_open_locks', { state: 'held' }) >= 1);
    assert.ok(labelsOf(during.text, 'oncepay_idempotency_open_locks').some((l) => l.state === 'abandoned'));
    assertOk(await inflight);
    if (!usingPostgres()) {
      // In-memory PGlite: this server's database alone.
      const done = await scrape(s);
      assert.equal(done.get('oncepay_idempotency_open_locks', { state: 'held' }), 0);
    }
  });

  test('webhook queue depth and delivery attempts: an endpoint whose receiver is down', async (t) => {
    const acct = await s.newAccount();
    const client = s.stripe({ key: acct.key });
    // A local port with nothing listening.
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));

    const before = await scrape(s);
    const endpoint = await client.webhookEndpoints.create({ url: `http://127.0.0.1:${port}/hooks`, enabled_events: ['customer.created'] });
    await client.customers.create({ name: 'webhook target' });
    const attempts = await eventually('a delivery attempt', async () => {
      const r = assertOk(await send(s, 'GET', `/v1/webhook_endpoints/${endpoint.id}/deliveries`, { key: acct.key }));
      return r.data.length > 0 ? r.data : undefined;
    });
    assert.equal(attempts.length, 1);
    assert.equal(attempts[0].outcome, 'failed');
    assert.equal(attempts[0].status_code, null);
    assert.ok(attempts[0].next_retry_at > Date.now() / 1000, 'a retry is scheduled');

    const after = await scrape(s);
    assert.ok(after.get('oncepay_webhook_queue_depth', { state: 'waiting' }) >= 1, 'the failed delivery waits for its retry');
    assert.ok(labelsOf(after.text, 'oncepay_webhook_queue_depth').some((l) => l.state === 'due'));
    const failed = after.get('oncepay_webhook_delivery_attempts_total', { outcome: 'failed' }) - before.get('oncepay_webhook_delivery_attempts_total', { outcome: 'failed' });
    if (usingPostgres()) {
      // On a shared database the dispatchers of all test processes claim from one queue: this
      // attempt may have been made by another process, and this one may have made other files'.
      t.diagnostic(`failed attempts counted by this process: ${failed}`);
    } else {
      assert.equal(failed, 1);
    }
    assert.ok(!after.text.includes(endpoint.id));
  });

  test('webhook queue depth: a delivery with no dispatcher running is due', async () => {
    const acct = await s.newAccount();
    const client = s.stripe({ key: acct.key });
    await s.oncepay.dispatcher.stop();
    try {
      await client.webhookEndpoints.create({ url: 'http://127.0.0.1:9/hooks', enabled_events: ['customer.created'] });
      await client.customers.create({ name: 'due' });
      const m = await scrape(s);
      // Another process sharing a PostgreSQL database may claim it meanwhile; then it is waiting.
      const due = m.get('oncepay_webhook_queue_depth', { state: 'due' });
      const waiting = m.get('oncepay_webhook_queue_depth', { state: 'waiting' });
      assert.ok(usingPostgres() ? due + waiting >= 1 : due >= 1, `due ${due}, waiting ${waiting}`);
    } finally {
      s.oncepay.dispatcher.start(250);
    }
  });
});

describe('metrics of abandoned keys', () => {
  const faults = new FaultSwitch();
  const { server: f } = useTestServer({ faults, config: { lockTimeoutMs: 300 } });

  async function crash(k: string): Promise<void> {
    faults.arm('payment_intents.create', 'authorize');
    const lost = await send(f, 'POST', '/v1/payment_intents', {
      body: form({ amount: 1500, currency: 'usd', payment_method: 'pm_card_visa', confirm: 'true' }), headers: { 'Idempotency-Key': k },
    }).catch((e: Error) => e);
    assert.ok(lost instanceof Error, 'the crashed request is dropped');
    await eventually('the key to be abandoned', async () => {
      const r = await send(f, 'GET', `/v1/idempotency_keys/${encodeURIComponent(k)}`);
      return r.json?.state === 'abandoned' ? true : undefined;
    });
  }

  test('an abandoned key counts as abandoned; a same-key retry counts as resumed; the completer as completed_in_background', async () => {
    const before = await scrape(f);
    const k1 = uniqueKey('abandon-retry');
    await crash(k1);
    const m = await scrape(f);
    assert.ok(m.get('oncepay_idempotency_open_locks', { state: 'abandoned' }) >= 1);
    if (!usingPostgres()) assert.equal(m.get('oncepay_idempotency_open_locks', { state: 'abandoned' }), 1);

    const retry = await send(f, 'POST', '/v1/payment_intents', {
      body: form({ amount: 1500, currency: 'usd', payment_method: 'pm_card_visa', confirm: 'true' }), headers: { 'Idempotency-Key': k1 },
    });
    assert.equal(assertOk(retry).status, 'succeeded');
    const k2 = uniqueKey('abandon-bg');
    await crash(k2);
    assert.equal(await f.complete(), 1);

    const after = await scrape(f);
    const delta = (event: string) => after.get('oncepay_idempotency_events_total', { event }) - before.get('oncepay_idempotency_events_total', { event });
    assert.equal(delta('resumed'), 1);
    assert.equal(delta('completed_in_background'), 1);
    if (!usingPostgres()) assert.equal(after.get('oncepay_idempotency_open_locks', { state: 'abandoned' }), 0);
  });
});

describe('rate limit', () => {
  const LIMIT = 5;
  const { server: r } = useTestServer({ config: { rateLimitPerSecond: LIMIT } });

  /** A GET that waits out 429s (honouring Retry-After), for reading results after a burst. */
  async function getPatiently(path: string, apiKey: string): Promise<Reply> {
    for (let i = 0; i < 20; i++) {
      const res = await send(r, 'GET', path, { key: apiKey });
      if (res.status !== 429) return res;
      await sleep(Number(res.headers.get('retry-after') ?? '1') * 1000);
    }
    assert.fail(`still rate limited: GET ${path}`);
  }

  test('a burst from one key: the excess gets 429 rate_limit with Retry-After; another key is not limited; refusals are logged as rejected', async () => {
    const a = await r.newAccount();
    const b = await r.newAccount();
    const burst = await Promise.all([
      ...Array.from({ length: 20 }, () => send(r, 'GET', '/v1/customers', { key: a.key }).then((res) => ({ who: 'a', res }))),
      ...Array.from({ length: 3 }, () => send(r, 'GET', '/v1/customers', { key: b.key }).then((res) => ({ who: 'b', res }))),
    ]);
    const fromA = burst.filter((x) => x.who === 'a').map((x) => x.res);
    const fromB = burst.filter((x) => x.who === 'b').map((x) => x.res);
    const limited = fromA.filter((res) => res.status === 429);
    const passed = fromA.filter((res) => res.status === 200);
    assert.equal(limited.length + passed.length, 20, `statuses ${fromA.map((x) => x.status)}`);
    assert.ok(limited.length >= 1 && limited.length <= 15, `${limited.length} of 20 limited`);
    assert.ok(passed.length >= LIMIT, `${passed.length} of 20 passed`);
    for (const res of limited) {
      const error = assertStripeError(res, { status: 429, type: 'invalid_request_error', code: 'rate_limit' });
      assert.match(error.message, /\S/);
      const retryAfter = Number(res.headers.get('retry-after'));
      assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1, `Retry-After ${res.headers.get('retry-after')}`);
    }
    assert.deepEqual(fromB.map((res) => res.status), [200, 200, 200], 'another key has its own budget');

    await r.oncepay.requestLogs.flush();
    const logged = assertOk(await getPatiently('/v1/request_logs?path=%2Fv1%2Fcustomers&status=429&limit=100', a.key));
    assert.equal(logged.data.length, limited.length);
    assert.deepEqual(logged.data.map((l: any) => l.id).sort(), limited.map((res) => res.headers.get('request-id')).sort());
    for (const log of logged.data) {
      assert.equal(log.outcome, 'rejected');
      assert.equal(log.status, 429);
      assert.equal(log.response_body.error.code, 'rate_limit');
    }
    const executed = assertOk(await getPatiently('/v1/request_logs?path=%2Fv1%2Fcustomers&outcome=executed&limit=100', a.key));
    assert.equal(executed.data.length, passed.length);
    const bLogs = assertOk(await getPatiently('/v1/request_logs?status=429', b.key));
    assert.deepEqual(bLogs.data, []);
  });

  test('the official client without retries throws StripeRateLimitError', async () => {
    const a = await r.newAccount();
    const client = r.stripe({ key: a.key, maxNetworkRetries: 0 });
    const results = await Promise.all(Array.from({ length: 15 }, () => client.customers.list({ limit: 1 }).then((x): unknown => x, (e): unknown => e)));
    const errors = results.filter((x): x is Stripe.errors.StripeError => x instanceof Stripe.errors.StripeError);
    assert.equal(results.filter((x) => x instanceof Error).length, errors.length, 'only Stripe errors');
    assert.ok(errors.length >= 1, 'some calls are limited');
    assert.ok(results.length - errors.length >= LIMIT);
    for (const e of errors) {
      assert.ok(e instanceof Stripe.errors.StripeRateLimitError, `${e.type}: ${e.message}`);
      assert.equal(e.type, 'StripeRateLimitError');
      assert.equal(e.statusCode, 429);
      assert.equal(e.code, 'rate_limit');
    }
  });

  test('the official client with retries gets through every call in the end', async () => {
    const a = await r.newAccount();
    const client = r.stripe({ key: a.key, maxNetworkRetries: 6 });
    const made = await Promise.all(Array.from({ length: 12 }, (_, i) => client.customers.create({ name: `c${i}` }, { idempotencyKey: uniqueKey(`rl-${i}`) })));
    assert.equal(new Set(made.map((c) => c.id)).size, 12);
    await r.oncepay.requestLogs.flush();
    const logs = assertOk(await getPatiently('/v1/request_logs?method=POST&limit=100', a.key));
    const statuses = logs.data.map((l: any) => l.status);
    assert.equal(statuses.filter((x: number) => x === 200).length, 12);
    assert.ok(statuses.filter((x: number) => x === 429).length >= 1, 'some attempts were limited and retried');
    const list = assertOk(await getPatiently('/v1/customers?limit=100', a.key));
    assert.equal(list.data.length, 12, 'each call created one customer');
  });
});

describe('graceful close', () => {
  /** A slow confirm (the slow card answers after ~3 s) with key `k`, started but not awaited. */
  async function startSlowConfirm(g: TestServer, k: string): Promise<{ pi: any; reply: Promise<Reply | Error> }> {
    const pi = assertOk(await send(g, 'POST', '/v1/payment_intents', { body: form({ amount: 2100, currency: 'usd', payment_method: 'pm_card_oncepay_slow' }) }));
    const reply = send(g, 'POST', `/v1/payment_intents/${pi.id}/confirm`, { body: '', headers: { 'Idempotency-Key': k }, timeoutMs: 20_000 }).catch((e: Error) => e);
    // In flight once its first phase committed (the key row holds a fresh lock).
    await eventually('the confirm to be in flight', async () => {
      const r = await send(g, 'GET', `/v1/idempotency_keys/${encodeURIComponent(k)}`);
      return r.json?.state === 'in_progress' && g.oncepay.engine.inFlight === 1 ? true : undefined;
    });
    return { pi, reply };
  }

  /** Resolves 'refused' once a fresh TCP connection to the port is refused. */
  function connectOnce(port: number): Promise<'refused' | 'connected' | string> {
    return new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => { socket.destroy(); resolve('connected'); });
      socket.once('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED' ? 'refused' : e.code ?? e.message));
    });
  }

  test('close() lets the request in flight finish with its 200, refuses new connections, and reports not ready', async (t) => {
    // No webhook dispatcher: its stop() could wait on another test's slow receiver (shared database).
    const g = await startTestServer({ config: { webhookIntervalMs: 0 } });
    try {
      const k = uniqueKey('drain');
      const { pi, reply } = await startSlowConfirm(g, k);
      let answered = false;
      let answeredAt = 0;
      void reply.then(() => { answered = true; answeredAt = Date.now(); });
      let closedAt = 0;
      const closing = g.oncepay.close({ timeoutMs: 10_000 }).then(() => { closedAt = Date.now(); });

      const ready = await send(g, 'GET', '/readyz', { key: null }).catch((e: Error) => e);
      t.diagnostic(`readyz while closing: ${ready instanceof Error ? ready.message : `HTTP ${ready.status} ${ready.text}`}`);
      if (!(ready instanceof Error)) {
        assert.equal(ready.status, 503, `readyz while closing: ${ready.status} ${ready.text}`);
        assert.equal(ready.json?.checks?.workers?.ok ?? false, false);
      }
      await eventually('new connections to be refused', async () => ((await connectOnce(g.port)) === 'refused' ? true : undefined), 5_000);
      assert.equal(answered, false, 'connections were refused while the slow request was still running');

      const res = await reply;
      assert.ok(!(res instanceof Error), `the in-flight request failed: ${(res as Error).message}`);
      const body = assertOk(res);
      assert.equal(body.id, pi.id);
      assert.equal(body.status, 'succeeded');
      await closing;
      assert.equal(await connectOnce(g.port), 'refused');
      // Nothing is left in flight once it answered: close() must not sit out its 10 s deadline
      // (the official clients keep connections alive, so an idle keep-alive socket must not hold it).
      assert.ok(closedAt - answeredAt < 5_000, `close() finished ${closedAt - answeredAt} ms after the last request answered`);
    } finally {
      await g.oncepay.close();
    }
  });

  test('a request arriving on a kept-alive connection while closing: Stripe-shaped 503 the clients retry, then the connection closes', async () => {
    const g = await startTestServer({ config: { webhookIntervalMs: 0 } });
    try {
      const pi = assertOk(await send(g, 'POST', '/v1/payment_intents', { body: form({ amount: 2300, currency: 'usd', payment_method: 'pm_card_oncepay_slow' }) }));
      const socket = net.connect(g.port, '127.0.0.1');
      await new Promise<void>((r) => socket.once('connect', () => r()));
      let received = '';
      socket.on('data', (d) => { received += d.toString('utf8'); });
      const ended = new Promise<void>((r) => socket.once('close', () => r()));
      const head = (method: string, path: string, extra = '') =>
        `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${g.key}\r\nContent-Length: 0\r\n${extra}\r\n`;
      socket.write(head('POST', `/v1/payment_intents/${pi.id}/confirm`, `Idempotency-Key: ${uniqueKey('closing')}\r\n`));
      await eventually('the confirm to be in flight', () => (g.oncepay.engine.inFlight === 1 ? true : undefined));
      const closing = g.oncepay.close({ timeoutMs: 10_000 });
      await eventually('the listener to close', async () => ((await connectOnce(g.port)) === 'refused' ? true : undefined), 5_000);
      // The same connection, busy with the confirm, carries one more request.
      socket.write(head('GET', '/v1/customers'));
      await ended;
      await closing;
      const responses = received.split(/(?=HTTP\/1\.1 )/);
      assert.equal(responses.length, 2, received);
      assert.match(responses[0], /^HTTP\/1\.1 200 /);
      assert.match(responses[0], /"status": "succeeded"/);
      assert.match(responses[1], /^HTTP\/1\.1 503 /);
      assert.match(responses[1], /\r\nstripe-should-retry: true\r\n/i);
      assert.match(responses[1], /\r\nconnection: close\r\n/i);
      const body = JSON.parse(responses[1].slice(responses[1].indexOf('\r\n\r\n') + 4));
      assert.equal(body.error.type, 'api_error');
      assert.equal(body.error.code, 'shutting_down');
    } finally {
      await g.oncepay.close();
    }
  });

  test('past the deadline the request is cut, its lock released, and a same-key retry resumes at once and charges once',
    { skip: SHARED_DATABASE_ONLY }, async () => {
      const g = await startTestServer({ config: { webhookIntervalMs: 0 } });
      const other = await startTestServer({ config: { webhookIntervalMs: 0 } });
      try {
        const k = uniqueKey('cut');
        const { pi, reply } = await startSlowConfirm(g, k);
        const startedClose = Date.now();
        await g.oncepay.close({ timeoutMs: 200 });
        assert.ok(Date.now() - startedClose < 2_500, 'close() did not wait for the slow request');
        const res = await reply;
        assert.ok(res instanceof Error || res.status >= 500, `the cut request must not complete, got ${res instanceof Error ? res.message : res.status}`);

        const { rows } = await other.oncepay.db.query<{ lock_token: string | null; finished_at: unknown; recovery_point: string }>(
          'SELECT lock_token, finished_at, recovery_point FROM idempotency_keys WHERE account_id = $1 AND key = $2', [g.accountId, k]);
        assert.equal(rows.length, 1);
        assert.equal(rows[0].lock_token, null, 'the lock was released at shutdown');
        assert.equal(rows[0].finished_at, null);
        assert.equal(rows[0].recovery_point, 'begin');
        const view = assertOk(await send(other, 'GET', `/v1/idempotency_keys/${encodeURIComponent(k)}`, { key: g.key }));
        assert.equal(view.state, 'abandoned');
        assert.equal(view.locked, false);

        // The retry goes to the other server: no 409, it resumes from the committed phase.
        const client = other.stripe({ key: g.key, maxNetworkRetries: 0 });
        const confirmed = await client.paymentIntents.confirm(pi.id, {}, { idempotencyKey: k });
        assert.equal(confirmed.status, 'succeeded');
        const ledger = await other.oncepay.processor.ledger(g.accountId, pi.id);
        assert.equal(sales(ledger, { outcome: 'any' }).length, 1, `ledger ${JSON.stringify(ledger)}`);
        const done = assertOk(await send(other, 'GET', `/v1/idempotency_keys/${encodeURIComponent(k)}`, { key: g.key }));
        assert.equal(done.state, 'finished');
        assert.equal(done.attempts, 2);
      } finally {
        await g.oncepay.close();
        await other.close();
      }
    });
});
