/**
 * Request logs (GET /v1/request_logs, /v1/request_logs/:id) and idempotency key inspection
 * (GET /v1/idempotency_keys/:key): the fields and outcomes recorded for every request, filters
 * and pagination, account isolation, and redaction of card numbers, API keys, webhook secrets
 * and client secrets everywhere those records (and /metrics) can be read.
 *
 * Logs are written after the response in batches: tests call flushLogs() before reading them.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import Stripe from 'stripe';
import { useTestServer, type TestServer } from '../helpers/server.ts';
import { send, assertOk, assertStripeError, form, type Reply } from '../helpers/stripe_errors.ts';
import { sales } from '../helpers/ledger.ts';
import { uniqueKey } from '../helpers/unique.ts';
import { FaultSwitch } from '../../src/faults.ts';

const { server: s, stripe } = useTestServer();

/** Writes every buffered request log (after letting the last response's hooks run). */
async function flushLogs(server: TestServer = s): Promise<void> {
  await new Promise((r) => setImmediate(r));
  await server.oncepay.requestLogs.flush();
}

async function listLogs(query = '', apiKey = s.key, server: TestServer = s): Promise<{ reply: Reply; data: any[]; has_more: boolean }> {
  await flushLogs(server);
  const reply = await send(server, 'GET', `/v1/request_logs${query ? `?${query}` : ''}`, { key: apiKey });
  const body = assertOk(reply);
  assert.equal(body.object, 'list');
  return { reply, data: body.data, has_more: body.has_more };
}

async function getLog(id: string, apiKey = s.key, server: TestServer = s): Promise<{ reply: Reply; log: any }> {
  await flushLogs(server);
  const reply = await send(server, 'GET', `/v1/request_logs/${encodeURIComponent(id)}`, { key: apiKey });
  return { reply, log: assertOk(reply) };
}

async function inspect(k: string, apiKey = s.key, server: TestServer = s): Promise<Reply> {
  await flushLogs(server);
  return send(server, 'GET', `/v1/idempotency_keys/${encodeURIComponent(k)}`, { key: apiKey });
}

/** A fresh account on the shared server: its logs hold exactly what the test did with it. */
async function freshAccount(): Promise<{ key: string; accountId: string; stripe: Stripe }> {
  const acct = await s.newAccount();
  return { ...acct, stripe: s.stripe({ key: acct.key }) };
}

const requestId = (r: Reply) => {
  const id = r.headers.get('request-id');
  assert.ok(id, 'no Request-Id header');
  return id;
};

describe('request log fields', () => {
  test('a POST through the official client: every field, id = Request-Id', async () => {
    const k = uniqueKey('fields');
    const customer = await stripe.customers.create(
      { email: 'ada@example.com', description: 'first customer', metadata: { order: '1234' } },
      { idempotencyKey: k },
    );
    const reqId = customer.lastResponse.requestId;
    assert.match(reqId, /^req_/);
    const { log } = await getLog(reqId);
    assert.equal(log.id, reqId);
    assert.equal(log.object, 'request_log');
    assert.equal(log.livemode, false);
    assert.ok(Math.abs(log.created - Date.now() / 1000) < 120, `created ${log.created} is not now`);
    assert.equal(log.method, 'POST');
    assert.equal(log.path, '/v1/customers');
    assert.equal(log.query, null);
    assert.equal(log.status, 200);
    assert.equal(log.outcome, 'executed');
    assert.equal(log.idempotency_key, k);
    assert.equal(log.original_request, null);
    assert.equal(typeof log.duration_ms, 'number');
    assert.ok(log.duration_ms >= 0);
    assert.match(log.ip_address, /127\.0\.0\.1$/);
    assert.match(log.user_agent, /^Stripe\/v1 NodeBindings\//);
    assert.equal(log.stripe_version, stripe.getApiField('version'));
    assert.ok(log.stripe_version, 'the official client sends a Stripe-Version header');
    assert.deepEqual(log.request_body, { email: 'ada@example.com', description: 'first customer', metadata: { order: '1234' } });
    const { lastResponse: _, ...plain } = customer;
    assert.deepEqual(log.response_body, JSON.parse(JSON.stringify(plain)));
  });

  test('a GET: path without the query string, query parsed, no request body', async () => {
    const r = await send(s, 'GET', '/v1/customers?limit=3&email=nobody%40example.com', { headers: { 'user-agent': 'curl/8.5.0' } });
    assertOk(r);
    const { log } = await getLog(requestId(r));
    assert.equal(log.method, 'GET');
    assert.equal(log.path, '/v1/customers');
    assert.deepEqual(log.query, { limit: '3', email: 'nobody@example.com' });
    assert.equal(log.request_body, null);
    assert.equal(log.status, 200);
    assert.equal(log.outcome, 'executed');
    assert.equal(log.idempotency_key, null);
    assert.equal(log.user_agent, 'curl/8.5.0');
    assert.equal(log.stripe_version, null);
    assert.deepEqual(log.response_body, { object: 'list', data: [], has_more: false, url: '/v1/customers' });
  });

  test('a GET without parameters has query null; a 404 read is logged with its error body', async () => {
    const r = await send(s, 'GET', '/v1/customers/cus_doesnotexist');
    assertStripeError(r, { status: 404, code: 'resource_missing' });
    const { log } = await getLog(requestId(r));
    assert.equal(log.query, null);
    assert.equal(log.path, '/v1/customers/cus_doesnotexist');
    assert.equal(log.status, 404);
    assert.equal(log.outcome, 'executed');
    assert.deepEqual(log.response_body, r.json);
  });
});

describe('outcomes', () => {
  test('executed, replayed (with original_request), mismatch, rejected (bad and unknown parameters)', async () => {
    const k = uniqueKey('outcomes');
    const body = form({ amount: 1500, currency: 'usd', payment_method: 'pm_card_visa', confirm: 'true' });
    const first = await send(s, 'POST', '/v1/payment_intents', { body, headers: { 'Idempotency-Key': k } });
    assertOk(first);
    const replay = await send(s, 'POST', '/v1/payment_intents', { body, headers: { 'Idempotency-Key': k } });
    assertOk(replay);
    assert.equal(replay.headers.get('idempotent-replayed'), 'true');
    const mismatch = await send(s, 'POST', '/v1/payment_intents', { body: form({ amount: 1501, currency: 'usd' }), headers: { 'Idempotency-Key': k } });
    assertStripeError(mismatch, { status: 400, type: 'idempotency_error' });
    const bad = await send(s, 'POST', '/v1/payment_intents', { body: form({ amount: -5, currency: 'usd' }), headers: { 'Idempotency-Key': uniqueKey('bad') } });
    assertStripeError(bad, { status: 400, param: 'amount' });
    const unknown = await send(s, 'POST', '/v1/customers', { body: form({ favourite_colour: 'blue' }) });
    assertStripeError(unknown, { status: 400, code: 'parameter_unknown', param: 'favourite_colour' });

    const expect = [
      [first, 200, 'executed', null],
      [replay, 200, 'replayed', requestId(first)],
      [mismatch, 400, 'mismatch', null],
      [bad, 400, 'rejected', null],
      [unknown, 400, 'rejected', null],
    ] as const;
    for (const [reply, status, outcome, original] of expect) {
      const { log } = await getLog(requestId(reply));
      assert.equal(log.status, status, `${outcome}: status`);
      assert.equal(log.outcome, outcome, `request ${log.id}`);
      assert.equal(log.original_request, original, `${outcome}: original_request`);
      // The response as sent, but for the payment intent's client secret (masked in logs).
      const sent = reply.json.object === 'payment_intent' ? { ...reply.json, client_secret: '[REDACTED]' } : reply.json;
      assert.deepEqual(log.response_body, sent, `${outcome}: response_body`);
    }
    const { log: replayLog } = await getLog(requestId(replay));
    assert.equal(replayLog.idempotency_key, k);
    assert.deepEqual(replayLog.request_body, { amount: '1500', currency: 'usd', payment_method: 'pm_card_visa', confirm: 'true' });
    const { log: unknownLog } = await getLog(requestId(unknown));
    assert.deepEqual(unknownLog.request_body, { favourite_colour: 'blue' });
  });

  test('refused before running: malformed JSON, unsupported content type, blank Idempotency-Key, too-deep query are rejected', async () => {
    const refused = [
      await send(s, 'POST', '/v1/customers', { body: '{"name":', contentType: 'application/json' }),
      await send(s, 'POST', '/v1/customers', { body: 'plain text', contentType: 'text/plain' }),
      await send(s, 'POST', '/v1/customers', { body: form({ name: 'blank key' }), headers: { 'Idempotency-Key': ' ' } }),
      await send(s, 'GET', '/v1/customers?a[b][c][d][e][f][g]=1'),
    ];
    for (const r of refused) {
      assertStripeError(r, { status: 400 });
      const { log } = await getLog(requestId(r));
      assert.equal(log.outcome, 'rejected', `${log.method} ${log.path}`);
      assert.equal(log.status, 400);
      assert.deepEqual(log.response_body, r.json);
    }
    assert.deepEqual((await getLog(requestId(refused[2]))).log.request_body, { name: 'blank key' });
  });

  test('an unknown URL requested with a valid key is logged for that account (404, rejected)', async () => {
    const acct = await freshAccount();
    const r = await send(s, 'GET', '/v1/no_such_resource', { key: acct.key });
    assertStripeError(r, { status: 404 });
    const { data } = await listLogs('', acct.key);
    assert.deepEqual(data.map((l) => [l.id, l.path, l.status, l.outcome]), [[requestId(r), '/v1/no_such_resource', 404, 'rejected']]);
  });

  test('conflict: a request with the key of one still running (slow card) gets 409 and is logged as conflict', async () => {
    const k = uniqueKey('conflict');
    const body = form({ amount: 1600, currency: 'usd', payment_method: 'pm_card_oncepay_slow', confirm: 'true' });
    // Two identical requests at once: the slow card keeps the first running for ~3 s, so the other one meets its lock.
    const [a, b] = await Promise.all([
      send(s, 'POST', '/v1/payment_intents', { body, headers: { 'Idempotency-Key': k }, timeoutMs: 15_000 }),
      send(s, 'POST', '/v1/payment_intents', { body, headers: { 'Idempotency-Key': k }, timeoutMs: 15_000 }),
    ]);
    const ok = [a, b].filter((r) => r.status === 200);
    const busy = [a, b].filter((r) => r.status === 409);
    assert.equal(ok.length, 1, `statuses ${a.status} ${b.status}`);
    assert.equal(busy.length, 1, `statuses ${a.status} ${b.status}`);
    assertStripeError(busy[0], { status: 409, type: 'idempotency_error', code: 'idempotency_key_in_use' });
    const { log: busyLog } = await getLog(requestId(busy[0]));
    assert.equal(busyLog.outcome, 'conflict');
    assert.equal(busyLog.status, 409);
    assert.equal(busyLog.idempotency_key, k);
    const { log: okLog } = await getLog(requestId(ok[0]));
    assert.equal(okLog.outcome, 'executed');
    assert.ok(okLog.duration_ms >= 2500, `the slow card takes ~3 s, logged ${okLog.duration_ms} ms`);
    const { data } = await listLogs(`idempotency_key=${encodeURIComponent(k)}&outcome=conflict`);
    assert.deepEqual(data.map((l) => l.id), [busyLog.id]);
  });
});

describe('listing', () => {
  test('filters: idempotency_key, status, path, method, outcome, created', async () => {
    const acct = await freshAccount();
    const k = uniqueKey('filters');
    const c1 = await send(s, 'POST', '/v1/customers', { key: acct.key, body: form({ name: 'one' }), headers: { 'Idempotency-Key': k } });
    const c2 = await send(s, 'POST', '/v1/customers', { key: acct.key, body: form({ name: 'two' }) });
    const replay = await send(s, 'POST', '/v1/customers', { key: acct.key, body: form({ name: 'one' }), headers: { 'Idempotency-Key': k } });
    const read = await send(s, 'GET', `/v1/customers/${c1.json.id}`, { key: acct.key });
    const missing = await send(s, 'GET', '/v1/customers/cus_missing', { key: acct.key });
    const rejected = await send(s, 'POST', '/v1/customers', { key: acct.key, body: form({ bogus: 'x' }) });
    const del = await send(s, 'DELETE', `/v1/customers/${c2.json.id}`, { key: acct.key });
    for (const r of [c1, c2, replay, read, del]) assertOk(r);
    assert.equal(missing.status, 404);
    assert.equal(rejected.status, 400);
    // Compared as sets: the order of the whole list is the next test's subject.
    const ids = (rs: Reply[]) => rs.map(requestId).sort();
    const list = async (q: string) => (await listLogs(q, acct.key)).data.map((l) => l.id).sort();

    assert.deepEqual(await list(`idempotency_key=${encodeURIComponent(k)}`), ids([replay, c1]));
    assert.deepEqual(await list('status=404'), ids([missing]));
    assert.deepEqual(await list('status=400'), ids([rejected]));
    assert.deepEqual(await list('method=DELETE'), ids([del]));
    assert.deepEqual(await list('method=POST&path=%2Fv1%2Fcustomers'), ids([rejected, replay, c2, c1]));
    assert.deepEqual(await list(`path=${encodeURIComponent(`/v1/customers/${c1.json.id}`)}`), ids([read]));
    assert.deepEqual(await list('outcome=replayed'), ids([replay]));
    assert.deepEqual(await list('outcome=rejected'), ids([rejected]));
    assert.deepEqual(await list('outcome=executed&method=POST'), ids([c2, c1]));
    assert.deepEqual(await list('outcome=executed&method=GET&status=200&path=%2Fv1%2Fcustomers'), []);
    const now = Math.floor(Date.now() / 1000);
    // Everything so far (the list requests above are logged too: leave them out).
    const everything = (await listLogs(`created[gte]=${now - 600}&limit=100`, acct.key)).data.filter((l) => !l.path.startsWith('/v1/request_logs'));
    assert.deepEqual(everything.map((l) => l.id).sort(), ids([del, rejected, missing, read, replay, c2, c1]));
    assert.deepEqual(await list(`created[gt]=${now + 600}`), []);
    assert.deepEqual(await list(`created[lte]=${now - 600}`), []);
    assert.deepEqual(await list(`created[lt]=${now + 600}&method=DELETE`), ids([del]));
  });

  test('newest first, by when the request came in (a read logged in a batch, then a command)', async () => {
    const acct = await freshAccount();
    // Hold the batch back (as a busy server does for up to its batch delay) so the read's log is
    // written after the command that followed it has written its own row in its first phase.
    const writer = s.oncepay.requestLogs as unknown as { opts: Record<string, unknown> };
    const saved = writer.opts;
    writer.opts = { ...saved, delayMs: 3_600_000 };
    await flushLogs(); // no batch timer pending from earlier requests: the next one waits for flush()
    let read: Reply, cmd: Reply;
    try {
      read = await send(s, 'GET', '/v1/customers', { key: acct.key });
      cmd = await send(s, 'POST', '/v1/payment_intents', { key: acct.key, body: form({ amount: 900, currency: 'usd', payment_method: 'pm_card_visa', confirm: 'true' }) });
    } finally {
      writer.opts = saved;
    }
    assertOk(read);
    assertOk(cmd);
    const { data } = await listLogs('', acct.key);
    assert.deepEqual(data.map((l) => `${l.method} ${l.path}`), ['POST /v1/payment_intents', 'GET /v1/customers'],
      'the command came in after the read, so it is newer and listed first');
  });

  test('Stripe pagination: limit, has_more, starting_after, ending_before', async () => {
    const acct = await freshAccount();
    const made: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await send(s, 'POST', '/v1/customers', { key: acct.key, body: form({ name: `c${i}` }) });
      assertOk(r);
      made.push(requestId(r));
    }
    const newestFirst = [...made].reverse();
    const q = 'path=%2Fv1%2Fcustomers&limit=2';
    const p1 = await listLogs(q, acct.key);
    assert.deepEqual(p1.data.map((l) => l.id), newestFirst.slice(0, 2));
    assert.equal(p1.has_more, true);
    assert.equal(p1.reply.json.url, '/v1/request_logs');
    const p2 = await listLogs(`${q}&starting_after=${p1.data[1].id}`, acct.key);
    assert.deepEqual(p2.data.map((l) => l.id), newestFirst.slice(2, 4));
    assert.equal(p2.has_more, true);
    const p3 = await listLogs(`${q}&starting_after=${p2.data[1].id}`, acct.key);
    assert.deepEqual(p3.data.map((l) => l.id), newestFirst.slice(4));
    assert.equal(p3.has_more, false);
    const back = await listLogs(`${q}&ending_before=${p2.data[0].id}`, acct.key);
    assert.deepEqual(back.data.map((l) => l.id), newestFirst.slice(0, 2));
    const defaultLimit = await listLogs('path=%2Fv1%2Fcustomers', acct.key);
    assert.deepEqual(defaultLimit.data.map((l) => l.id), newestFirst);
    assert.equal(defaultLimit.has_more, false);
  });

  test('bad filter values are Stripe-shaped 400s naming the parameter; unknown ids are 404', async () => {
    const bad: [string, string | RegExp, string?][] = [
      ['status=abc', 'status'],
      ['status=42', 'status'],
      ['status=700', 'status'],
      ['method=PATCH', 'method'],
      ['outcome=exploded', 'outcome'],
      ['limit=0', 'limit'],
      ['limit=101', 'limit'],
      ['limit=ten', 'limit'],
      ['created[gte]=yesterday', /^created/],
      ['created=soon', 'created'],
      [`idempotency_key=${'x'.repeat(256)}`, 'idempotency_key'],
      ['idempotency_key=', 'idempotency_key'],
      ['colour=blue', 'colour', 'parameter_unknown'],
    ];
    for (const [query, param, code] of bad) {
      const r = await send(s, 'GET', `/v1/request_logs?${query}`);
      assertStripeError(r, { status: 400, param, ...(code ? { code } : {}) });
    }
    const cursor = await send(s, 'GET', '/v1/request_logs?starting_after=req_nosuchrequest');
    assertStripeError(cursor, { status: 400, code: 'resource_missing', param: 'starting_after' });
    const both = await send(s, 'GET', '/v1/request_logs?starting_after=a&ending_before=b');
    assert.equal(both.status, 400);
    const missing = await send(s, 'GET', '/v1/request_logs/req_nosuchrequest');
    assertStripeError(missing, { status: 404, code: 'resource_missing' });
    const unauthenticated = await send(s, 'GET', '/v1/request_logs', { key: null });
    assert.equal(unauthenticated.status, 401);
  });
});

describe('account isolation', () => {
  test('another account sees none of the logs and none of the keys, even under the same key string', async () => {
    const a = await freshAccount();
    const b = await freshAccount();
    const k = uniqueKey('shared');
    const ra = await a.stripe.customers.create({ name: 'A' }, { idempotencyKey: k });
    const aLog = ra.lastResponse.requestId;
    assert.equal((await getLog(aLog, a.key)).log.id, aLog);

    const bList = await listLogs('limit=100', b.key);
    assert.deepEqual(bList.data, []);
    assertStripeError(await send(s, 'GET', `/v1/request_logs/${aLog}`, { key: b.key }), { status: 404, code: 'resource_missing' });
    assert.deepEqual((await listLogs(`idempotency_key=${k}`, b.key)).data, []);
    assertStripeError(await inspect(k, b.key), { status: 404, code: 'resource_missing' });

    const rb = await b.stripe.customers.create({ name: 'B' }, { idempotencyKey: k });
    assert.notEqual(rb.id, ra.id);
    const view = assertOk(await inspect(k, b.key));
    assert.equal(view.original_request, rb.lastResponse.requestId);
    assert.deepEqual(view.request_logs.data.map((l: any) => l.id), [rb.lastResponse.requestId]);
    assert.equal(view.response.body.id, rb.id);
    const aView = assertOk(await inspect(k, a.key));
    assert.deepEqual(aView.request_logs.data.map((l: any) => l.id), [aLog]);
    assert.equal(aView.response.body.id, ra.id);
    const bLogs = (await listLogs('limit=100', b.key)).data;
    assert.ok(bLogs.length > 0);
    assert.ok(bLogs.every((l) => l.id !== aLog));
  });
});

describe('redaction', () => {
  const CARDS = ['4242424242424242', '4000 0566 5566 5556', '5555-5555-5555-4444', '4000056655665556', '5555555555554444'];

  /** Every secret that occurs in `text`, so a failure lists them all at once. */
  function leaks(text: string, secrets: string[]): string[] {
    return secrets.filter((x) => text.includes(x) || text.includes(JSON.stringify(x).slice(1, -1)));
  }
  function assertClean(text: string, secrets: string[], where: string): void {
    const found = leaks(text, secrets);
    assert.deepEqual(found, [], `${where} contains ${found.map((f) => JSON.stringify(f)).join(', ')}`);
  }

  test('card numbers, API keys, webhook secrets and client secrets never reach logs, key inspection or /metrics', async () => {
    const acct = await freshAccount();
    const fakeKey = 'sk_test_51HabcdefGHIJKLmnopQRSTuv';
    const live = 'sk_live_51HzyxwvUTSRQponMLKJih';
    const restricted = 'rk_test_51Hqwertyuiopasdfgh';
    const send_ = (method: string, path: string, body?: string, k?: string) =>
      send(s, method, path, { key: acct.key, body, ...(k ? { headers: { 'Idempotency-Key': k } } : {}) });

    const kCustomer = uniqueKey('redact-customer');
    const customer = await send_('POST', '/v1/customers', new URLSearchParams([
      ['description', `card 4242424242424242, key ${fakeKey}, mine ${acct.key}, live ${live}, restricted ${restricted}`],
      ['metadata[note]', 'paid with 4000 0566 5566 5556'],
      ['metadata[5555-5555-5555-4444]', 'a card number as a metadata key'],
      ['metadata[api]', acct.key],
    ]).toString(), kCustomer);
    assertOk(customer);
    const replay = await send_('POST', '/v1/customers', new URLSearchParams([
      ['description', `card 4242424242424242, key ${fakeKey}, mine ${acct.key}, live ${live}, restricted ${restricted}`],
      ['metadata[note]', 'paid with 4000 0566 5566 5556'],
      ['metadata[5555-5555-5555-4444]', 'a card number as a metadata key'],
      ['metadata[api]', acct.key],
    ]).toString(), kCustomer);
    assert.equal(replay.headers.get('idempotent-replayed'), 'true');

    const pathId = await send_('GET', '/v1/payment_intents/4242424242424242');
    assertStripeError(pathId, { status: 404, code: 'resource_missing' });
    const queried = await send_('GET', '/v1/customers?email=4242424242424242&limit=1');
    assertOk(queried);
    const kCard = uniqueKey('redact-card');
    const cardParam = await send_('POST', '/v1/customers', 'card[number]=4242424242424242&card[cvc]=123&card[exp_month]=12', kCard);
    assertStripeError(cardParam, { status: 400, code: 'parameter_unknown', param: 'card' });

    const kHook = uniqueKey('redact-hook');
    const hook = await send_('POST', '/v1/webhook_endpoints', form({ url: 'http://127.0.0.1:9/hooks', 'enabled_events[]': '*' }), kHook);
    const whsec1: string = assertOk(hook).secret;
    assert.match(whsec1, /^whsec_/);
    const kRotate = uniqueKey('redact-rotate');
    const rotated = await send_('POST', `/v1/webhook_endpoints/${hook.json.id}/rotate_secret`, '', kRotate);
    const whsec2: string = assertOk(rotated).secret;
    assert.match(whsec2, /^whsec_/);
    assert.notEqual(whsec2, whsec1);

    const kPi = uniqueKey('redact-pi');
    const pi = await send_('POST', '/v1/payment_intents', form({ amount: 1000, currency: 'usd', description: 'pay 5555555555554444' }), kPi);
    const clientSecret: string = assertOk(pi).client_secret;
    assert.match(clientSecret, /_secret_/);
    const withSecret = await send_('GET', `/v1/payment_intents/${pi.json.id}?client_secret=${encodeURIComponent(clientSecret)}`);
    assertOk(withSecret);
    const piList = await send_('GET', '/v1/payment_intents?limit=10');
    assert.ok(assertOk(piList).data.some((p: any) => p.client_secret === clientSecret), 'the list shows the client secret to its owner');

    const secrets = [...CARDS, fakeKey, live, restricted, acct.key, whsec1, whsec2, clientSecret,
      whsec1.slice('whsec_'.length), whsec2.slice('whsec_'.length), clientSecret.split('_secret_')[1], acct.key.slice('sk_test_'.length)];

    // The list, and every log retrieved one by one.
    const { reply: listReply, data } = await listLogs('limit=100', acct.key);
    assert.equal(data.length, 10, `expected the 10 requests of this test, got ${data.map((l) => `${l.method} ${l.path}`)}`);
    assertClean(listReply.text, secrets, 'GET /v1/request_logs');
    for (const log of data) assertClean((await getLog(log.id, acct.key)).reply.text, secrets, `GET /v1/request_logs/${log.id}`);
    // Each key's inspection (stored response and the logs that carried it).
    for (const k of [kCustomer, kCard, kHook, kRotate, kPi]) {
      const r = await inspect(k, acct.key);
      if (k === kCard) assertStripeError(r, { status: 404, code: 'resource_missing' }); // rejected: nothing saved
      else assertOk(r);
      assertClean(r.text, secrets, `GET /v1/idempotency_keys/${k}`);
    }
    const metrics = await send(s, 'GET', '/metrics', { key: null });
    assert.equal(metrics.status, 200);
    assertClean(metrics.text, secrets, 'GET /metrics');

    // The records are there, masked (so the checks above were not vacuous).
    const byId = new Map(data.map((l) => [l.id, l]));
    const customerLog = byId.get(requestId(customer));
    assert.ok(customerLog, 'the customer creation is logged');
    assert.equal(customerLog.request_body.description,
      'card ************4242, key sk_test_[REDACTED], mine sk_test_[REDACTED], live sk_live_[REDACTED], restricted rk_test_[REDACTED]');
    assert.deepEqual(customerLog.request_body.metadata, {
      note: 'paid with ************5556', '************4444': 'a card number as a metadata key', api: 'sk_test_[REDACTED]',
    });
    assert.equal(customerLog.response_body.description, customerLog.request_body.description);
    assert.equal(byId.get(requestId(pathId))?.path, '/v1/payment_intents/************4242');
    assert.deepEqual(byId.get(requestId(queried))?.query, { email: '************4242', limit: '1' });
    assert.deepEqual(byId.get(requestId(cardParam))?.request_body, { card: { number: '[REDACTED]', cvc: '[REDACTED]', exp_month: '12' } });
    assert.equal(byId.get(requestId(hook))?.response_body.secret, '[REDACTED]');
    assert.equal(byId.get(requestId(rotated))?.response_body.secret, '[REDACTED]');
    assert.equal(byId.get(requestId(pi))?.response_body.client_secret, '[REDACTED]');
    assert.equal(byId.get(requestId(withSecret))?.query.client_secret, '[REDACTED]');
    assert.ok(byId.get(requestId(piList))?.response_body.data.every((p: any) => p.client_secret === '[REDACTED]'));
    const hookView = assertOk(await inspect(kHook, acct.key));
    assert.equal(hookView.response.body.secret, '[REDACTED]');
  });

  test('a card number sent as a JSON number is masked in the request log', async () => {
    const acct = await freshAccount();
    const r = await send(s, 'POST', '/v1/customers', {
      key: acct.key, contentType: 'application/json',
      body: '{"description":"json","metadata":{"card":4242424242424242},"card_number_guess":5555555555554444}',
    });
    assert.ok(r.status === 200 || r.status === 400, `HTTP ${r.status}`);
    const { reply, log } = await getLog(requestId(r), acct.key);
    assert.equal(log.request_body.description, 'json');
    assertClean(reply.text, ['4242424242424242', '5555555555554444'], 'the request log of a JSON body');
  });

  test('a card number with spaces in a percent-encoded path id is masked in the request log', async () => {
    const acct = await freshAccount();
    const r = await send(s, 'GET', '/v1/payment_intents/4000%200566%205566%205556', { key: acct.key });
    assertStripeError(r, { status: 404, code: 'resource_missing' });
    const { reply, log } = await getLog(requestId(r), acct.key);
    assert.ok(log.path.startsWith('/v1/payment_intents/'));
    assertClean(reply.text, ['4000 0566 5566 5556', '4000%200566%205566%205556', '4000056655665556'], 'the request log of a path id');
  });

  test('a card number followed by its CVC in free text is masked', async () => {
    const acct = await freshAccount();
    const r = await send(s, 'POST', '/v1/customers', { key: acct.key, body: form({ description: 'card 4242 4242 4242 4242 123 exp 12/30' }) });
    assertOk(r);
    const { reply } = await getLog(requestId(r), acct.key);
    assertClean(reply.text, ['4242 4242 4242 4242'], 'the request log of a description');
  });
});

describe('idempotency key inspection', () => {
  test('a finished key with /, spaces, ?, #, % and +: state, replays, response, objects, the requests that carried it', async () => {
    const k = `order/42 pay #1? 100% + tip ${uniqueKey('inspect')}`;
    const params = { amount: 2500, currency: 'usd', payment_method: 'pm_card_visa', confirm: true } as const;
    const pi = await stripe.paymentIntents.create(params, { idempotencyKey: k });
    const firstReq = pi.lastResponse.requestId;
    const replays: string[] = [];
    for (let i = 0; i < 3; i++) {
      const again = await stripe.paymentIntents.create(params, { idempotencyKey: k });
      assert.equal(again.lastResponse.headers['idempotent-replayed'], 'true');
      replays.push(again.lastResponse.requestId);
    }
    const mismatch = await stripe.paymentIntents.create({ ...params, amount: 2501 }, { idempotencyKey: k }).catch((e) => e);
    assert.equal(mismatch.type, 'StripeIdempotencyError');
    const mismatchReq = mismatch.requestId;
    assert.match(mismatchReq, /^req_/);

    const r = await inspect(k);
    const view = assertOk(r);
    assert.equal(view.id, k);
    assert.equal(view.object, 'idempotency_key');
    assert.equal(view.livemode, false);
    assert.equal(view.client_supplied, true);
    assert.equal(view.method, 'POST');
    assert.equal(view.path, '/v1/payment_intents');
    assert.equal(view.state, 'finished');
    assert.equal(view.locked, false);
    assert.equal(view.locked_at, null);
    assert.equal(view.recovery_point, 'record');
    assert.equal(view.attempts, 1);
    assert.equal(view.replay_count, 3);
    assert.equal(view.original_request, firstReq);
    assert.equal(typeof view.request_fingerprint, 'string');
    assert.ok(view.request_fingerprint.length > 0);
    assert.equal(typeof view.finished_at, 'number');
    assert.ok(view.finished_at >= view.created);
    assert.equal(view.expires_at, view.finished_at + 24 * 3600, 'finished_at + the default 24 h retention');
    assert.equal(view.response.status, 200);
    assert.equal(view.response.body.id, pi.id);
    assert.equal(view.response.body.status, 'succeeded');
    assert.equal(view.response.body.client_secret, '[REDACTED]');
    const objects = [...view.objects].sort((x: any, y: any) => x.object.localeCompare(y.object));
    assert.deepEqual(objects, [
      { object: 'charge', id: pi.latest_charge, created: true },
      { object: 'payment_intent', id: pi.id, created: true },
    ]);
    assert.equal(view.request_logs.object, 'list');
    assert.equal(view.request_logs.has_more, false);
    assert.equal(view.request_logs.url, `/v1/request_logs?idempotency_key=${encodeURIComponent(k)}`);
    assert.deepEqual(view.request_logs.data.map((l: any) => l.id), [mismatchReq, ...[...replays].reverse(), firstReq]);
    assert.deepEqual(view.request_logs.data.map((l: any) => l.outcome), ['mismatch', 'replayed', 'replayed', 'replayed', 'executed']);
    assert.ok(view.request_logs.data.every((l: any) => l.idempotency_key === k));
    assert.ok(view.request_logs.data.filter((l: any) => l.outcome === 'replayed').every((l: any) => l.original_request === firstReq));
  });

  test('a unicode key sent by the official client is inspected and filtered by its URL-encoded form', async () => {
    const k = `commande clé über ${uniqueKey("unicode")}`;
    const c = await stripe.customers.create({ name: 'unicode' }, { idempotencyKey: k });
    const { log } = await getLog(c.lastResponse.requestId);
    assert.equal(log.idempotency_key, k, 'the log records the key the client sent');
    const view = assertOk(await inspect(k));
    assert.equal(view.id, k);
    assert.equal(view.original_request, c.lastResponse.requestId);
    assert.deepEqual((await listLogs(`idempotency_key=${encodeURIComponent(k)}`)).data.map((l) => l.id), [c.lastResponse.requestId]);
  });

  test('a Latin-1 key sent as Latin-1 bytes (fetch) is inspected by its URL-encoded form', async () => {
    const k = `clé über ${uniqueKey('latin1')}`;
    const r = await send(s, 'POST', '/v1/customers', { body: form({ name: 'latin1' }), headers: { 'Idempotency-Key': k } });
    assertOk(r);
    const view = assertOk(await inspect(k));
    assert.equal(view.id, k);
    assert.deepEqual(view.request_logs.data.map((l: any) => l.id), [requestId(r)]);
  });

  test('an unknown key is 404 resource_missing', async () => {
    const r = await inspect(uniqueKey('never-used'));
    assertStripeError(r, { status: 404, code: 'resource_missing' });
  });

  test('a POST without a key can be inspected under oncepay_auto_<request id>, with just its own log', async () => {
    const r = await send(s, 'POST', '/v1/payment_intents', { body: form({ amount: 700, currency: 'usd', payment_method: 'pm_card_visa', confirm: 'true' }) });
    assertOk(r);
    const reqId = requestId(r);
    const view = assertOk(await inspect(`oncepay_auto_${reqId}`));
    assert.equal(view.id, `oncepay_auto_${reqId}`);
    assert.equal(view.client_supplied, false);
    assert.equal(view.state, 'finished');
    assert.equal(view.original_request, reqId);
    assert.equal(view.replay_count, 0);
    assert.equal(view.response.body.id, r.json.id);
    assert.deepEqual(view.request_logs.data.map((l: any) => l.id), [reqId]);
    assert.equal(view.request_logs.data[0].idempotency_key, null);
    assert.ok(view.objects.some((o: any) => o.object === 'payment_intent' && o.id === r.json.id && o.created));
  });
});

describe('an abandoned key', () => {
  const faults = new FaultSwitch();
  const LOCK_TIMEOUT = 1000;
  const { server: c } = useTestServer({ faults, config: { lockTimeoutMs: LOCK_TIMEOUT } });
  /** Until the request under key k has committed its first phase (and is at the processor). */
  const waitForPhase = async (k: string) => {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const r = await inspect(k, c.key, c);
      if (r.status === 200 && r.json.recovery_point === 'create') return;
      assert.ok(Date.now() < deadline, 'the slow request never committed its first phase');
      await new Promise((res) => setTimeout(res, 25));
    }
  };

  test('in_progress while its lock is fresh, abandoned after the lock timeout, finished by the completer', async () => {
    const k = uniqueKey('abandoned');
    faults.arm('payment_intents.create', 'authorize');
    const crashedAt = Date.now();
    const lost = await send(c, 'POST', '/v1/payment_intents', {
      body: form({ amount: 3100, currency: 'usd', payment_method: 'pm_card_visa', confirm: 'true' }), headers: { 'Idempotency-Key': k },
    }).catch((e: Error) => e);
    assert.ok(lost instanceof Error, 'the crashed request is dropped without an answer');

    const early = assertOk(await inspect(k, c.key, c));
    if (Date.now() - crashedAt < LOCK_TIMEOUT * 0.8) assert.equal(early.state, 'in_progress');
    assert.equal(early.recovery_point, 'create');
    assert.equal(early.response, null);

    let view: any;
    const deadline = Date.now() + 15_000;
    do {
      await new Promise((r) => setTimeout(r, 100));
      view = assertOk(await inspect(k, c.key, c));
    } while (view.state !== 'abandoned' && Date.now() < deadline);
    assert.equal(view.state, 'abandoned');
    assert.equal(view.recovery_point, 'create', 'the last committed phase');
    assert.equal(view.response, null);
    assert.equal(view.finished_at, null);
    assert.equal(view.expires_at, null);
    assert.equal(view.attempts, 1);
    // The pending row written by the first phase: the request never answered.
    assert.deepEqual(view.request_logs.data.map((l: any) => l.id), [view.original_request]);
    const { log } = await getLog(view.original_request, c.key, c);
    assert.equal(log.status, null);
    assert.equal(log.idempotency_key, k);
    assert.equal(log.path, '/v1/payment_intents');
    assert.deepEqual(log.request_body, { amount: '3100', currency: 'usd', payment_method: 'pm_card_visa', confirm: 'true' });
    assert.ok(view.objects.some((o: any) => o.object === 'payment_intent' && o.created));

    assert.equal(await c.complete(), 1);
    const done = assertOk(await inspect(k, c.key, c));
    assert.equal(done.state, 'finished');
    assert.equal(done.locked, false);
    assert.equal(done.recovery_point, 'record');
    assert.equal(done.attempts, 2);
    assert.equal(done.response.status, 200);
    assert.equal(done.response.body.status, 'succeeded');
    assert.equal(done.original_request, view.original_request);
    assert.deepEqual([...done.objects].map((o: any) => o.object).sort(), ['charge', 'payment_intent']);
    assert.equal(sales(await c.ledger(done.response.body.id), { outcome: 'any' }).length, 1);
  });

  test('a slow request outliving the lock timeout keeps its lock (heartbeat): a retry meanwhile is 409 in use, the request answers 200', async () => {
    const k = uniqueKey('heartbeat');
    const body = form({ amount: 3300, currency: 'usd', payment_method: 'pm_card_oncepay_slow', confirm: 'true' });
    const first = send(c, 'POST', '/v1/payment_intents', { body, headers: { 'Idempotency-Key': k }, timeoutMs: 20_000 });
    // The slow card keeps the request running ~3 s, three lock timeouts.
    await waitForPhase(k);
    await new Promise((res) => setTimeout(res, 2 * LOCK_TIMEOUT));
    const view = assertOk(await inspect(k, c.key, c));
    assert.deepEqual([view.state, view.locked], ['in_progress', true], 'a live request\'s lock stays fresh past the timeout');
    assertStripeError(await send(c, 'POST', '/v1/payment_intents', { body, headers: { 'Idempotency-Key': k } }), { status: 409, type: 'idempotency_error', code: 'idempotency_key_in_use' });
    const done = assertOk(await first);
    assert.equal(done.status, 'succeeded');
    assert.equal(sales(await c.ledger(done.id), { outcome: 'any' }).length, 1);
  });

  test('a slow request presumed dead (its lock aged past the timeout, as when its heartbeat stops) and taken over by a retry answers 409, logged as conflict', async () => {
    const k = uniqueKey('taken-over');
    const body = form({ amount: 3200, currency: 'usd', payment_method: 'pm_card_oncepay_slow', confirm: 'true' });
    const first = send(c, 'POST', '/v1/payment_intents', { body, headers: { 'Idempotency-Key': k }, timeoutMs: 20_000 });
    await waitForPhase(k);
    await c.oncepay.db.query(`UPDATE idempotency_keys SET locked_at = now() - interval '1 hour' WHERE account_id = $1 AND key = $2`, [c.accountId, k]);
    const retry = await send(c, 'POST', '/v1/payment_intents', { body, headers: { 'Idempotency-Key': k }, timeoutMs: 20_000 });
    const lost = await first;
    assert.equal(assertOk(retry).status, 'succeeded');
    assertStripeError(lost, { status: 409, type: 'idempotency_error', code: 'idempotency_key_in_use' });
    const { log } = await getLog(requestId(lost), c.key, c);
    assert.equal(log.status, 409);
    assert.equal(log.outcome, 'conflict', 'a 409 idempotency_key_in_use is a conflict, whichever way the key was found in use');
    assert.equal((await getLog(requestId(retry), c.key, c)).log.outcome, 'executed');
    assert.equal(sales(await c.ledger(retry.json.id), { outcome: 'any' }).length, 1);
  });
});
