/**
 * The CLI's parts, without a server: line formats (against request_log and event fixtures), the
 * polling cursors of `logs tail` and `listen` (pagination beyond 100, entries still running),
 * the API client (Bearer, Stripe form encoding, error envelopes, retries with the same
 * Idempotency-Key, unreachable servers), the PGlite data directory lock, and listen's secret file.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import qs from 'qs';
import { ApiClient, ApiRequestError, formEncode, listAll, POLL_USER_AGENT, Unreachable, USER_AGENT } from '../../src/cli/api_client.ts';
import { clientFrom, defaultApiBase } from '../../src/cli/api_options.ts';
import { eventRows, formatRequestLog, formatTime, keyRows, table } from '../../src/cli/output.ts';
import { isOwnPoll, tailFilters, tailVerdict, type RequestLog } from '../../src/cli/commands/logs.ts';
import { eventFilter, forward, parseForwardTo } from '../../src/cli/commands/listen.ts';
import { fetchWindow, LOOKBACK_S, PollWindow } from '../../src/cli/poll_window.ts';
import { FIXTURES, SUPPORTED_EVENTS } from '../../src/cli/commands/trigger.ts';
import { acquireDataDirLock, lockHolder, lockPath } from '../../src/cli/data_lock.ts';
import { listenSecret, secretsFile } from '../../src/cli/listen_secret.ts';
import { CliError } from '../../src/cli/errors.ts';
import { verifyWebhook } from '../../src/receiver/index.ts';
import { freePort } from '../helpers/processes.ts';

const T = 1_795_000_000; // 2026-11-18 11:06:40Z

const log = (over: Partial<RequestLog> = {}): RequestLog => ({
  id: 'req_abc123', object: 'request_log', created: T, livemode: false, method: 'POST', path: '/v1/payment_intents', query: null,
  status: 200, outcome: 'executed', idempotency_key: 'order-1', original_request: null, duration_ms: 45.25, ip_address: '127.0.0.1',
  user_agent: 'Stripe/v1 NodeBindings/23.1.0', stripe_version: null, request_body: { amount: '2000' }, response_body: { id: 'pi_1' },
  ...over,
});

describe('line formats', () => {
  test('time is UTC, second precision', () => {
    assert.equal(formatTime(T), '2026-11-18 11:06:40Z');
    assert.equal(formatTime(null), '-');
  });

  test('a request log: time, id, method path, status, outcome, key, duration', () => {
    const line = formatRequestLog(log());
    assert.match(line, /^2026-11-18 11:06:40Z {2}req_abc123 {2}POST \/v1\/payment_intents +200 {2}executed {2}key="order-1" {2}45\.3ms$/);
    assert.match(formatRequestLog(log({ idempotency_key: null, duration_ms: 1234.4, method: 'GET', path: '/v1/events' })), /GET \/v1\/events +200 {2}executed {2}key=- {2}1234ms$/);
    assert.match(formatRequestLog(log({ status: null, duration_ms: null })), / --- {2}executed {2}key="order-1" {2}-$/);
    assert.match(formatRequestLog(log({ outcome: 'replayed', original_request: 'req_first' })), / 200 {2}replayed\(req_first\) {2}/);
    // A key with spaces or quotes stays one readable token.
    assert.match(formatRequestLog(log({ idempotency_key: 'a "b" c' })), /key="a \\"b\\" c"/);
  });

  test('events and keys as aligned columns', () => {
    const rows = eventRows([
      { id: 'evt_1', type: 'payment_intent.succeeded', created: T, data: { object: { id: 'pi_1' } }, request: { id: 'req_1', idempotency_key: 'k1' } },
      { id: 'evt_22', type: 'customer.created', created: T + 1, data: { object: { id: 'cus_1' } }, request: { id: null, idempotency_key: null } },
    ]);
    assert.deepEqual(rows, [
      '2026-11-18 11:06:40Z  evt_1   payment_intent.succeeded  pi_1   req_1 key="k1"',
      '2026-11-18 11:06:41Z  evt_22  customer.created          cus_1  -',
    ]);
    assert.deepEqual(keyRows([
      { accountId: 'acct_1', kind: 'secret', hint: 'sk_test_abcd...wxyz', permissions: '-', created: T, revokedAt: null },
      { accountId: 'acct_1', kind: 'restricted', hint: 'rk_test_abcd...wxyz', permissions: 'customers=read', created: T, revokedAt: T + 1 },
    ]), [
      'ACCOUNT  KIND        KEY                  PERMISSIONS     CREATED               REVOKED',
      'acct_1   secret      sk_test_abcd...wxyz  -               2026-11-18 11:06:40Z  -',
      'acct_1   restricted  rk_test_abcd...wxyz  customers=read  2026-11-18 11:06:40Z  2026-11-18 11:06:41Z',
    ]);
    assert.deepEqual(table([]), []);
  });
});

/** A fake list endpoint over `rows` (in list order, oldest first): newest first, created[gte], starting_after. */
function fakeList<R extends { id: string; created: number }>(rows: R[], calls: Record<string, unknown>[] = []) {
  return async (q: Record<string, unknown>) => {
    calls.push(q);
    const gte = (q.created as { gte?: number } | undefined)?.gte;
    let list = [...rows].reverse().filter((r) => gte === undefined || r.created >= gte);
    if (q.starting_after) list = list.slice(list.findIndex((r) => r.id === q.starting_after) + 1);
    const limit = Number(q.limit ?? 10);
    return { data: list.slice(0, limit), has_more: list.length > limit };
  };
}

describe('logs tail: polling', () => {
  const now = T + 100;
  const logs = (n: number, created = now) => Array.from({ length: n }, (_, i) => log({ id: `req_${String(i).padStart(4, '0')}`, created }));
  const ids = (l: RequestLog[]) => l.map((x) => x.id);

  test('filters become the API parameters', () => {
    assert.deepEqual(tailFilters({ idempotencyKey: 'k', status: 402, path: '/v1/refunds', method: 'post', outcome: 'replayed', follow: false, limit: 5 }),
      { idempotency_key: 'k', status: 402, path: '/v1/refunds', method: 'POST', outcome: 'replayed' });
  });

  test('a window: every entry since a time, oldest first, over as many pages as needed', async () => {
    const rows = [...logs(30, now - 60), ...logs(250, now).map((l, i) => ({ ...l, id: `req_new${i}` }))];
    const calls: Record<string, unknown>[] = [];
    const window = await fetchWindow(fakeList(rows, calls), now - LOOKBACK_S);
    assert.deepEqual(ids(window), ids(rows.slice(30)));
    assert.equal(calls.length, 3);
    assert.ok(calls.every((c) => c.limit === 100 && (c.created as any).gte === now - LOOKBACK_S));
    assert.equal((await fetchWindow(fakeList(rows), undefined)).length, 280);
  });

  test('a row written late, behind rows already printed, is printed once; nothing is printed twice', async () => {
    const rows = [log({ id: 'req_a', created: now }), log({ id: 'req_c', created: now + 1 })];
    const state = new PollWindow<RequestLog>();
    const get = fakeList(rows);
    assert.deepEqual(ids(state.take(await fetchWindow(get, state.since), tailVerdict(now + 1))), ['req_a', 'req_c']);
    assert.equal(state.since, now + 1 - LOOKBACK_S);
    rows.splice(1, 0, log({ id: 'req_b', method: 'GET', created: now })); // a read that arrived before req_c, written after
    assert.deepEqual(ids(state.take(await fetchWindow(get, state.since), tailVerdict(now + 1))), ['req_b']);
    assert.deepEqual(ids(state.take(await fetchWindow(get, state.since), tailVerdict(now + 2))), []);
  });

  test('a running request waits for its answer (or the grace period); own polls and entries from before the start are not printed', async () => {
    const rows = [log({ id: 'req_old', created: now - 1 })];
    const state = new PollWindow<RequestLog>();
    state.ignore(rows);
    rows.push(log({ id: 'req_run', status: null, created: now }), log({ id: 'req_poll', method: 'GET', user_agent: POLL_USER_AGENT, created: now }),
      log({ id: 'req_next', created: now }));
    const get = fakeList(rows);
    assert.deepEqual(ids(state.take(await fetchWindow(get, state.since), tailVerdict(now))), ['req_next']);
    rows[1] = { ...rows[1], status: 200 };
    assert.deepEqual(ids(state.take(await fetchWindow(get, state.since), tailVerdict(now + 1))), ['req_run']);

    rows.push(log({ id: 'req_dead', status: null, created: now + 1 })); // its process died: never answered
    assert.deepEqual(ids(state.take(await fetchWindow(get, state.since), tailVerdict(now + 2))), []);
    rows.push(log({ id: 'req_late', created: now + 30 }));
    // The window reaches back to the held entry even though newer ones moved on.
    assert.equal(state.take(await fetchWindow(get, state.since), tailVerdict(now + 30)).map((l) => `${l.id}:${l.status}`).join(' '), 'req_dead:null req_late:200');
    assert.equal(state.since, now + 30 - LOOKBACK_S);
  });

  test("the CLI's own polling requests are recognised", () => {
    assert.equal(isOwnPoll(log({ method: 'GET', user_agent: POLL_USER_AGENT })), true);
    assert.equal(isOwnPoll(log({ method: 'GET', user_agent: USER_AGENT })), false);
    assert.equal(isOwnPoll(log({ method: 'POST', user_agent: POLL_USER_AGENT })), false);
  });
});

describe('listen', () => {
  const events = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `evt_${String(i).padStart(4, '0')}`, type: 'customer.created', created: T }));

  test('250 events between two polls: all, oldest first; one committed late, behind those already forwarded: forwarded once', async () => {
    const all = events(10);
    const window = new PollWindow<{ id: string; type: string; created: number }>();
    window.ignore(await fetchWindow(fakeList(all), undefined)); // there before listen started
    const more = events(250).map((e, i) => ({ ...e, id: `evt_new${i}`, created: T + 1 }));
    all.push(...more);
    assert.deepEqual(window.take(await fetchWindow(fakeList(all), window.since)).map((e) => e.id), more.map((e) => e.id));
    all.splice(200, 0, { id: 'evt_late', type: 'charge.succeeded', created: T + 1 }); // a lower seq, visible only now
    assert.deepEqual(window.take(await fetchWindow(fakeList(all), window.since)).map((e) => e.id), ['evt_late']);
    assert.deepEqual(window.take(await fetchWindow(fakeList(all), window.since)), []);
    // After a long pause the window still starts at the newest event seen: nothing is skipped.
    const later = { id: 'evt_later', type: 'customer.created', created: T + 3600 };
    all.push(later);
    assert.equal(window.since, T + 1 - LOOKBACK_S);
    assert.deepEqual(window.take(await fetchWindow(fakeList(all), window.since)), [later]);
  });

  test('--events and --forward-to', () => {
    assert.deepEqual(eventFilter(undefined), {});
    assert.deepEqual(eventFilter(['*']), {});
    assert.deepEqual(eventFilter(['charge.*']), { type: 'charge.*' });
    assert.deepEqual(eventFilter(['payment_intent.succeeded', ' charge.refunded ']), { types: ['payment_intent.succeeded', 'charge.refunded'] });
    assert.throws(() => eventFilter(['Payment Intent']), CliError);
    assert.equal(parseForwardTo('localhost:3000/hooks'), 'http://localhost:3000/hooks');
    assert.equal(parseForwardTo('https://example.test/x'), 'https://example.test/x');
    assert.throws(() => parseForwardTo('ftp://example.test/'), /http/);
  });

  test('a forwarded event verifies with the secret; a dead receiver is reported, not thrown', async () => {
    let got: { body: string; headers: IncomingMessage['headers'] } | undefined;
    const srv = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => { body += d; }).on('end', () => { got = { body, headers: req.headers }; res.writeHead(204).end(); });
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}/hook`;
    const secret = 'whsec_' + Buffer.alloc(32, 7).toString('base64');
    const event = { id: 'evt_1', object: 'event', type: 'customer.created', created: T, data: { object: { id: 'cus_1' } } };
    const r = await forward(url, secret, event, 5000);
    srv.close();
    assert.deepEqual(r, { ok: true, line: `<-- [204] POST ${url} [evt_1]` });
    assert.equal(verifyWebhook({ body: got!.body, headers: got!.headers, secrets: secret }).id, 'evt_1');
    assert.equal(verifyWebhook({ body: got!.body, headers: { 'stripe-signature': got!.headers['stripe-signature'] }, secrets: secret }).id, 'evt_1');
    const dead = await forward(`http://127.0.0.1:${await freePort()}/hook`, secret, event, 5000);
    assert.equal(dead.ok, false);
    assert.match(dead.line, /^<-- \[ERROR\] POST .* \[evt_1\]: connection refused$/);
  });

  test('the secret is kept per address and key, in a file only the user reads', () => {
    const home = mkdtempSync(join(tmpdir(), 'oncepay-home-'));
    try {
      const env = { ONCEPAY_HOME: home };
      const a = listenSecret('http://127.0.0.1:4242', 'sk_test_a', env);
      assert.equal(a.created, true);
      assert.match(a.secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
      assert.equal(listenSecret('http://127.0.0.1:4242', 'sk_test_a', env).secret, a.secret);
      assert.notEqual(listenSecret('http://127.0.0.1:4242', 'sk_test_b', env).secret, a.secret);
      assert.notEqual(listenSecret('http://127.0.0.1:4343', 'sk_test_a', env).secret, a.secret);
      const file = secretsFile(env);
      assert.equal(statSync(file).mode & 0o077, 0);
      assert.ok(!readFileSync(file, 'utf8').includes('sk_test_a'), 'the key itself is not stored');
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});

describe('trigger fixtures', () => {
  test('the events the brief asks for are supported, each with at least one write', () => {
    for (const e of ['payment_intent.created', 'payment_intent.succeeded', 'payment_intent.payment_failed', 'payment_intent.canceled',
      'payment_intent.amount_capturable_updated', 'charge.succeeded', 'charge.refunded', 'refund.created', 'customer.created',
      'customer.updated', 'customer.deleted']) {
      assert.ok(SUPPORTED_EVENTS.includes(e), e);
      assert.ok(FIXTURES[e].steps.length > 0);
    }
    const body = FIXTURES['payment_intent.succeeded'].steps[0].body!({});
    assert.deepEqual({ amount: body.amount, currency: body.currency, pm: body.payment_method, confirm: body.confirm },
      { amount: 2000, currency: 'usd', pm: 'pm_card_visa', confirm: 'true' });
    assert.equal(FIXTURES['payment_intent.amount_capturable_updated'].steps[0].body!({}).capture_method, 'manual');
  });
});

describe('API client', () => {
  let srv: Server;
  let base: string;
  const seen: { method: string; url: string; headers: IncomingMessage['headers']; body: string }[] = [];
  let handler: (req: IncomingMessage, res: ServerResponse, body: string) => void = () => {};

  before(async () => {
    srv = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => { body += d; }).on('end', () => {
        seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
        handler(req, res, body);
      });
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
  });
  after(() => { srv.closeAllConnections(); srv.close(); });

  const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) =>
    res.writeHead(status, { 'content-type': 'application/json', 'request-id': 'req_test', ...headers }).end(JSON.stringify(body));
  const client = () => new ApiClient({ apiBase: `${base}/`, apiKey: 'sk_test_client', retryDelayMs: 10 });

  test('Bearer auth, Stripe form encoding, query strings', async () => {
    seen.length = 0;
    handler = (_req, res) => json(res, 200, { id: 'cus_1', object: 'customer' });
    const c = client();
    assert.equal(c.apiBase, base);
    await c.post('/v1/customers', { email: 'a@b.c', metadata: { order: '12 34' }, expand: ['x', 'y'] }, { idempotencyKey: 'k1' });
    await c.get('/v1/events', { type: 'charge.*', created: { gte: 5 } });
    const [post, get] = seen;
    assert.equal(post.headers.authorization, 'Bearer sk_test_client');
    assert.equal(post.headers['idempotency-key'], 'k1');
    assert.equal(post.headers['content-type'], 'application/x-www-form-urlencoded');
    assert.match(String(post.headers['user-agent']), /^oncepay-cli\//);
    assert.equal(post.body, 'email=a%40b.c&metadata[order]=12%2034&expand[0]=x&expand[1]=y');
    assert.deepEqual(qs.parse(post.body), { email: 'a@b.c', metadata: { order: '12 34' }, expand: ['x', 'y'] });
    assert.equal(get.url, '/v1/events?type=charge.%2A&created[gte]=5');
    assert.equal(get.headers['idempotency-key'], undefined);
    assert.equal(formEncode({ a: null, b: undefined, c: 0 }), 'c=0');
  });

  test("Stripe error envelopes become the API's message, with status and code", async () => {
    handler = (_req, res) => json(res, 401, { error: { type: 'invalid_request_error', message: 'Invalid API Key provided: sk_test_****ient' } });
    await assert.rejects(client().get('/v1/events'), (err: unknown) => {
      assert.ok(err instanceof ApiRequestError);
      assert.equal(err.message, 'Invalid API Key provided: sk_test_****ient (HTTP 401)');
      assert.equal(err.status, 401);
      assert.equal(err.requestId, 'req_test');
      return true;
    });
    handler = (_req, res) => json(res, 402, { error: { type: 'card_error', code: 'card_declined', decline_code: 'generic_decline', message: 'Your card was declined.' } });
    await assert.rejects(client().post('/v1/payment_intents', {}), { message: 'Your card was declined. (HTTP 402, card_declined, generic_decline)' });
    handler = (_req, res) => res.writeHead(404, { 'content-type': 'text/html' }).end('<h1>Not here</h1>');
    await assert.rejects(client().get('/v1/events'), /unexpected answer from .*\/v1\/events: HTTP 404 \(text\/html\): <h1>Not here<\/h1>; is this an Oncepay server\?/);
  });

  test('writes are retried with the same Idempotency-Key after a dropped connection and a 409', async () => {
    seen.length = 0;
    let n = 0;
    handler = (req, res) => {
      n++;
      if (n === 1) { req.socket.destroy(); return; }
      if (n === 2) { json(res, 409, { error: { type: 'idempotency_error', code: 'idempotency_key_in_use', message: 'in use' } }, { 'retry-after': '0' }); return; }
      json(res, 200, { id: 'pi_1' });
    };
    assert.deepEqual(await client().post('/v1/payment_intents', { amount: 1 }, { idempotencyKey: 'same-key' }), { id: 'pi_1' });
    assert.equal(seen.length, 3);
    assert.deepEqual(seen.map((s) => s.headers['idempotency-key']), ['same-key', 'same-key', 'same-key']);
    assert.ok(seen.every((s) => s.body === 'amount=1'));
    // Without a key nothing is retried: a write could run twice.
    seen.length = 0;
    n = 0;
    await assert.rejects(client().post('/v1/customers', {}), Unreachable);
    assert.equal(seen.length, 1);
  });

  test('an unreachable server: "cannot reach Oncepay at <base>: connection refused"', async () => {
    const port = await freePort();
    await assert.rejects(new ApiClient({ apiBase: `http://127.0.0.1:${port}`, apiKey: 'k' }).get('/v1/events'),
      { message: `cannot reach Oncepay at http://127.0.0.1:${port}: connection refused` });
  });

  test('pagination follows has_more up to the maximum', async () => {
    const all = Array.from({ length: 250 }, (_, i) => ({ id: `evt_${i}` }));
    handler = (req, res) => {
      const q = qs.parse(req.url!.split('?')[1] ?? '') as Record<string, string>;
      const start = q.starting_after ? all.findIndex((e) => e.id === q.starting_after) + 1 : 0;
      const page = all.slice(start, start + Number(q.limit));
      json(res, 200, { object: 'list', data: page, has_more: start + page.length < all.length });
    };
    assert.equal((await listAll(client(), '/v1/events', {}, 1000)).length, 250);
    assert.deepEqual((await listAll(client(), '/v1/events', {}, 120)).map((e) => e.id), all.slice(0, 120).map((e) => e.id));
  });

  test('key and address from options, then the environment', () => {
    assert.equal(clientFrom({ apiKey: 'sk_a', apiBase: 'http://h:1' }, {}).apiKey, 'sk_a');
    assert.equal(clientFrom({}, { ONCEPAY_API_KEY: 'sk_b', STRIPE_API_KEY: 'sk_c' }).apiKey, 'sk_b');
    assert.equal(clientFrom({}, { STRIPE_API_KEY: 'sk_c' }).apiKey, 'sk_c');
    assert.equal(clientFrom({}, { STRIPE_API_KEY: 'sk_c', PORT: '5555' }).apiBase, 'http://127.0.0.1:5555');
    assert.equal(clientFrom({}, { STRIPE_API_KEY: 'sk_c', ONCEPAY_API_BASE: 'https://pay.example/' }).apiBase, 'https://pay.example');
    assert.equal(defaultApiBase({}), 'http://127.0.0.1:4242');
    assert.throws(() => clientFrom({}, {}), /no API key: pass --api-key .* ONCEPAY_API_KEY/);
    assert.throws(() => clientFrom({}, { ONCEPAY_API_KEY: 'k', ONCEPAY_API_BASE: 'nope' }), /ONCEPAY_API_BASE/);
  });
});

describe('PGlite data directory lock', () => {
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'oncepay-lock-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const write = (info: object) => writeFileSync(lockPath(dir), JSON.stringify(info));

  test('taken, refused to others while held, removed on release', () => {
    const lock = acquireDataDirLock(dir, 'keys list');
    const info = JSON.parse(readFileSync(lockPath(dir), 'utf8'));
    assert.equal(info.pid, process.pid);
    assert.equal(info.command, 'keys list');
    lock.release();
    assert.equal(existsSync(lockPath(dir)), false);
  });

  test('a live holder (here: our parent process) is refused with who and what to do', () => {
    write({ pid: process.ppid, hostname: hostname(), command: 'serve', started: '2026-01-01T00:00:00.000Z' });
    assert.equal(lockHolder(dir)?.pid, process.ppid);
    assert.throws(() => acquireDataDirLock(dir, 'keys list'),
      new RegExp(`an Oncepay server \\(pid ${process.ppid}, since 2026-01-01T00:00:00.000Z\\) is using the embedded database in .*: `));
    assert.throws(() => acquireDataDirLock(dir, 'serve'), /only one server runs on an embedded data directory/);
    assert.ok(existsSync(lockPath(dir)), "the holder's file is left alone");
  });

  test('a dead holder, or a reused pid, is stale: ignored and replaced', async () => {
    const child = spawn(process.execPath, ['-e', '0']);
    const deadPid = child.pid!;
    await new Promise((r) => child.once('exit', r));
    write({ pid: deadPid, hostname: hostname(), command: 'serve', started: 'x' });
    assert.equal(lockHolder(dir), null);
    acquireDataDirLock(dir, 'migrate').release();
    if (existsSync('/proc/self/stat')) {
      write({ pid: process.ppid, hostname: hostname(), command: 'serve', started: 'x', procStart: '1' });
      assert.equal(lockHolder(dir), null, 'the pid is alive but started at another time: another process');
    }
    write({ pid: process.ppid, hostname: 'another-host', command: 'serve', started: 'x' });
    assert.throws(() => acquireDataDirLock(dir, 'keys list'), /on host another-host.*delete .*oncepay\.pid/);
    rmSync(lockPath(dir));
  });

  test("release never removes a lock another process took meanwhile", () => {
    const lock = acquireDataDirLock(dir, 'keys list');
    write({ pid: process.ppid, hostname: hostname(), command: 'serve', started: 'x' });
    lock.release();
    assert.ok(existsSync(lockPath(dir)));
    rmSync(lockPath(dir));
  });
});
