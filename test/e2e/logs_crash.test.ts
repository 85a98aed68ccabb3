/**
 * Request logs against real processes.
 *
 * 1. Completeness under SIGKILL: a burst of create+confirm requests (each with its own
 *    Idempotency-Key, also stored in metadata so objects map back to their request) is cut by a
 *    SIGKILL in its middle. A new process on the same store must show a request_log for every
 *    committed effect (every payment intent, every acquirer operation) and for every command that
 *    was answered before the kill; requests cut off after their first phase have a row with
 *    `status: null`. After the client retries every key, each key shows exactly one run that
 *    executed it to its end, every retry is logged, and nothing was charged twice.
 *
 *    The kill is ONCEPAY_TEST_FAULTS=kill:payment_intents.confirm:authorize, fired by a confirm
 *    the test sends once part of the burst has been answered and while requests with the slow
 *    fault card (the acquirer answers after 3 s) are known to be in flight: so at the kill there
 *    are always requests cut after their first phase (the slow ones) and one cut after the
 *    acquirer moved money (the confirm), whatever the machine's speed.
 *
 * 2. Redaction of the process's own output (stdout + stderr, JSON lines at debug level) and of
 *    /metrics: card numbers, the configured secret key and whsec_ secrets never appear.
 *
 * Runs on PostgreSQL when DATABASE_URL is set, otherwise on a PGlite data directory.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  cleanupServersAndStores, mapLimit, newSecretKey, newStore, pollUntil, spawnServer, STORE, usingPostgres,
  type RawResponse, type ServerProcess,
  explain,
} from '../helpers/processes.ts';

const TIMEOUT = 120_000;

after(cleanupServersAndStores);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface LogRow {
  id: string;
  method: string;
  path: string;
  status: number | null;
  outcome: string;
  idempotency_key: string | null;
  original_request: string | null;
  duration_ms: number | null;
  request_body: Record<string, unknown> | null;
  response_body: Record<string, unknown> | null;
}

interface KeyView {
  state: 'in_progress' | 'abandoned' | 'finished';
  locked: boolean;
  recovery_point: string;
  original_request: string;
  response: { status: number; body: any } | null;
}

async function inspectKey(srv: ServerProcess, key: string): Promise<KeyView | undefined> {
  const r = await srv.raw('GET', `/v1/idempotency_keys/${encodeURIComponent(key)}`);
  if (r.status === 404) return undefined;
  assert.equal(r.status, 200, `inspect ${key}: ${r.text}`);
  return r.json;
}

async function listLogs(srv: ServerProcess, query: string): Promise<LogRow[]> {
  const r = await srv.raw('GET', `/v1/request_logs?limit=100&${query}`);
  assert.equal(r.status, 200, `request_logs?${query}: ${r.text}`);
  assert.equal(r.json.has_more, false, `more than 100 request logs for ${query}`);
  return r.json.data;
}

const logsForKey = (srv: ServerProcess, key: string) => listLogs(srv, `idempotency_key=${encodeURIComponent(key)}`);

async function allIntents(srv: ServerProcess): Promise<any[]> {
  const out: any[] = [];
  for await (const pi of srv.stripe().paymentIntents.list({ limit: 100 })) out.push(pi);
  return out;
}

// ---------------------------------------------------------------------------------------------
// 1) Completeness under SIGKILL

type Kind = 'fast' | 'slow' | 'trigger_create' | 'trigger_confirm';

interface Sent {
  key: string;
  kind: Kind;
  path: string;
  body: string;
  /** The answer to the first send, if one came back before the kill. */
  response?: RawResponse;
  error?: unknown;
  /** What the restarted process knows about the key before any retry. */
  before?: { view: KeyView | undefined; logs: LogRow[] };
  retries: RawResponse[];
}

const FAST = 44;
const SLOW = 4;
/** Fast answers to wait for before the slow requests go out. */
const ANSWERED_FIRST = 12;
const FAULT = 'kill:payment_intents.confirm:authorize';

function createBody(key: string, amount: number, paymentMethod: string): string {
  return `amount=${amount}&currency=usd&payment_method=${paymentMethod}&confirm=true&metadata[idem_key]=${encodeURIComponent(key)}`;
}

async function send(srv: ServerProcess, s: Sent): Promise<void> {
  try {
    s.response = await srv.raw('POST', s.path, { body: s.body, headers: { 'Idempotency-Key': s.key } });
  } catch (err) {
    s.error = err;
  }
}

/** Sends the request again with its key until it is no longer refused with 409 (the dead process's lock). */
async function retry(srv: ServerProcess, s: Sent): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const r = await srv.raw('POST', s.path, { body: s.body, headers: { 'Idempotency-Key': s.key } });
    s.retries.push(r);
    if (r.status !== 409 || Date.now() > deadline) return;
    assert.equal(r.json?.error?.code, 'idempotency_key_in_use', `${s.key}: ${r.text}`);
    await sleep(200);
  }
}

describe(`request logs under SIGKILL [${STORE}]`, () => {
  test(`a burst of ${FAST + SLOW} create+confirm cut by SIGKILL: every committed effect and every answered command has its log; after retries one executed run per key, one sale per intent`,
    { timeout: TIMEOUT }, async (t) => {
      const store = await newStore();
      const secret = newSecretKey();
      const run = Date.now().toString(36);
      let first: ServerProcess | undefined;
      let second: ServerProcess | undefined;
      try {
        first = await spawnServer({ store, key: secret, faults: FAULT });
        const srv1 = first;

        // The intent whose confirmation will kill the process (created now: its create has no fault).
        const triggerCreate: Sent = {
          key: `logs_${run}_trigger_create`, kind: 'trigger_create', path: '/v1/payment_intents',
          body: `amount=777&currency=usd&metadata[idem_key]=logs_${run}_trigger_create`, retries: [],
        };
        await send(srv1, triggerCreate);
        assert.equal(triggerCreate.response?.status, 200, triggerCreate.response?.text ?? String(triggerCreate.error));
        const triggerId: string = triggerCreate.response!.json.id;
        const triggerConfirm: Sent = {
          key: `logs_${run}_trigger_confirm`, kind: 'trigger_confirm', path: `/v1/payment_intents/${triggerId}/confirm`,
          body: 'payment_method=pm_card_visa', retries: [],
        };

        const fast: Sent[] = Array.from({ length: FAST }, (_, i) => {
          const key = `logs_${run}_fast_${i}`;
          return { key, kind: 'fast', path: '/v1/payment_intents', body: createBody(key, 1000 + i, 'pm_card_visa'), retries: [] };
        });
        const slow: Sent[] = Array.from({ length: SLOW }, (_, i) => {
          const key = `logs_${run}_slow_${i}`;
          return { key, kind: 'slow', path: '/v1/payment_intents', body: createBody(key, 5000 + i, 'pm_card_oncepay_slow'), retries: [] };
        });

        // The burst, 12 at a time; the slow ones join once part of it is answered.
        let answered = 0;
        const burst = mapLimit(fast, 12, async (s) => { await send(srv1, s); if (s.response) answered++; });
        await pollUntil(async () => answered, (n) => n >= ANSWERED_FIRST || srv1.child.exitCode !== null, { timeoutMs: 60_000, intervalMs: 10 });
        assert.ok(answered >= ANSWERED_FIRST, `${ANSWERED_FIRST} requests of the burst should have been answered`);
        const slowSent = Promise.all(slow.map((s) => send(srv1, s)));
        // A slow request is in flight with its first phase committed once its key sits at `create`
        // (the acquirer then waits 3 s before answering).
        const inFlight = await pollUntil(
          async () => (await Promise.all(slow.map((s) => inspectKey(srv1, s.key)))).filter((v) => v?.state === 'in_progress' && v.recovery_point === 'create').length,
          (n) => n > 0, { timeoutMs: 30_000, intervalMs: 20 });
        assert.ok(inFlight > 0, 'a slow request should be in flight after its first phase');

        // The confirm that kills the process right after the acquirer's sale.
        await send(srv1, triggerConfirm);
        assert.equal(triggerConfirm.response, undefined, `the fault ${FAULT} should have killed the process before it answered: ${triggerConfirm.response?.text}`);
        const exit = await srv1.exited;
        assert.equal(exit.signal, 'SIGKILL', `the server should die by SIGKILL, got ${JSON.stringify(exit)}`);
        await Promise.all([burst, slowSent]);

        const all = [triggerCreate, ...fast, ...slow, triggerConfirm];
        const answeredBeforeKill = all.filter((s) => s.response);
        const notAnswered = all.filter((s) => !s.response);
        t.diagnostic(`${answeredBeforeKill.length} requests answered before the kill, ${notAnswered.length} not answered`);
        for (const s of answeredBeforeKill) {
          assert.equal(s.response!.status, 200, `${s.key} was answered with ${s.response!.status}: ${s.response!.text}`);
        }

        // ------------------------------------------------------------------------------------
        // A new process on the same store, completer out of the way: what survived the kill.
        second = await spawnServer({ store, key: secret });
        const srv2 = second;
        for (const s of all) s.before = { view: await inspectKey(srv2, s.key), logs: await logsForKey(srv2, s.key) };

        let completionLost = 0;
        let cutOffWithEffects = 0;
        let neverRan = 0;
        for (const s of all) {
          const { view, logs } = s.before!;
          for (const row of logs) assert.equal(row.idempotency_key, s.key);
          if (!view) {
            assert.ok(!s.response, `${s.key} was answered, so its key must exist`);
            assert.deepEqual(logs, [], `${s.key}: nothing committed, so no log row either`);
            neverRan++;
            continue;
          }
          // The key row and the log row are written by the same first phase.
          assert.equal(logs.length, 1, `${s.key}: sent once, so exactly one log row: ${JSON.stringify(logs)}`);
          const row = logs[0];
          assert.equal(row.id, view.original_request, `${s.key}: the log row is the request that ran the key`);
          assert.equal(row.method, 'POST');
          assert.equal(row.path, s.path);
          assert.equal(row.outcome, 'executed');
          if (s.response) {
            assert.equal(row.id, s.response.headers.get('request-id'), `${s.key}: the answered request's log has its Request-Id`);
            assert.equal(view.state, 'finished', `${s.key} was answered, so its key is finished`);
            // Completed by the batched writer after the response; a kill within its batch window
            // leaves the pending row (README: such a row shows status null).
            assert.ok(row.status === 200 || row.status === null, `${s.key}: status ${row.status}`);
            if (row.status === null) completionLost++;
          } else if (view.state !== 'finished') {
            assert.equal(row.status, null, `${s.key} was cut off by the kill after its first phase: its row is pending`);
            assert.equal(row.duration_ms, null);
            assert.equal(row.response_body, null);
            cutOffWithEffects++;
          } else {
            // Finished but its answer never reached the client.
            assert.ok(row.status === 200 || row.status === null, `${s.key}: status ${row.status}`);
          }
        }
        t.diagnostic(`before retries: ${cutOffWithEffects} cut off after committing, ${neverRan} never ran, ` +
          `${completionLost} answered but their log completion was lost in the writer's batch window`);
        // The trigger is always cut off after the acquirer's sale; the slow ones usually after their first phase.
        const trig = triggerConfirm.before!;
        assert.ok(trig.view && trig.view.state !== 'finished' && trig.view.recovery_point === 'begin', `trigger key: ${JSON.stringify(trig.view)}`);
        assert.equal(trig.logs[0]?.status, null, 'the confirm killed after the sale has its pending log row');
        assert.ok(cutOffWithEffects >= 1);

        // Every payment intent that exists has the log of the request that created it.
        const intents = await allIntents(srv2);
        const byKey = new Map<string, any>();
        for (const pi of intents) {
          const key = pi.metadata?.idem_key;
          const s = all.find((x) => x.key === key);
          assert.ok(s, `intent ${pi.id} maps back to a request of the burst (metadata ${JSON.stringify(pi.metadata)})`);
          assert.ok(!byKey.has(key), `two intents for ${key}: ${byKey.get(key)?.id} and ${pi.id}`);
          byKey.set(key, pi);
          assert.ok(s.before!.view, `intent ${pi.id} exists, so the key ${key} that created it does`);
          assert.equal(s.before!.logs.length, 1, `intent ${pi.id} exists, so its request ${key} has a log row`);
        }
        for (const s of all) {
          if (s.kind === 'fast' || s.kind === 'slow') {
            assert.equal(byKey.has(s.key), s.before!.view !== undefined, `${s.key}: an intent exists exactly when its key does`);
          }
        }
        // Every acquirer operation has the log of a confirming request on its intent.
        const ledger = await srv2.ledger();
        const intentById = new Map(intents.map((pi) => [pi.id, pi]));
        const seen = new Set<string>();
        for (const op of ledger) {
          assert.equal(op.kind, 'sale', JSON.stringify(op));
          const pi = intentById.get(op.reference);
          assert.ok(pi, `ledger operation on ${op.reference} belongs to an existing intent`);
          assert.ok(!seen.has(op.reference), `two sales for ${op.reference}`);
          seen.add(op.reference);
          const rows = [
            ...await logsForKey(srv2, pi.metadata.idem_key),
            ...await listLogs(srv2, `path=${encodeURIComponent(`/v1/payment_intents/${pi.id}/confirm`)}`),
          ];
          assert.ok(rows.some((r) => r.method === 'POST' && (r.path === `/v1/payment_intents/${pi.id}/confirm`
            || (r.path === '/v1/payment_intents' && String(r.request_body?.confirm) === 'true'))),
          `the sale on ${pi.id} has the log of the request that made it: ${JSON.stringify(rows)}`);
        }
        assert.ok(seen.has(triggerId), 'the killed confirm had moved money at the acquirer');

        // ------------------------------------------------------------------------------------
        // The client retries every key.
        await mapLimit(all, 8, (s) => retry(srv2, s));
        for (const s of all) {
          const last = s.retries[s.retries.length - 1];
          assert.equal(last.status, 200, `${s.key} after retries: ${last.status} ${last.text}`);
          if (s.kind === 'trigger_create') {
            assert.equal(last.json.id, triggerId);
            assert.equal(last.headers.get('idempotent-replayed'), 'true');
          } else {
            assert.equal(last.json.status, 'succeeded', `${s.key}: ${last.text}`);
            if (s.kind !== 'trigger_confirm') assert.equal(last.json.metadata.idem_key, s.key);
            const known = s.kind === 'trigger_confirm' ? triggerId : byKey.get(s.key)?.id;
            if (known) assert.equal(last.json.id, known, `${s.key}: the retry answers with the intent the first request created`);
          }
          if (s.response) assert.equal(last.headers.get('idempotent-replayed'), 'true', `${s.key} was finished: the retry replays`);
        }

        // Nothing charged twice: one intent per create, one sale per intent, for its amount.
        const finalIntents = await allIntents(srv2);
        assert.equal(finalIntents.length, FAST + SLOW + 1, 'one intent per create request');
        const finalLedger = await srv2.ledger();
        assert.equal(finalLedger.length, finalIntents.length, `one acquirer operation per intent: ${JSON.stringify(finalLedger)}`);
        for (const pi of finalIntents) {
          assert.equal(pi.status, 'succeeded', `${pi.id}: ${pi.status}`);
          const ops = finalLedger.filter((e) => e.reference === pi.id);
          assert.deepEqual(ops.map((e) => `${e.kind}:${e.amount}:${e.outcome}`), [`sale:${pi.amount}:approved`], `ledger of ${pi.id}`);
        }
        assert.ok(finalLedger.find((e) => e.reference === triggerId)!.attempts >= 2, 'the retried confirm asked the acquirer again with the same downstream key');

        // Logs: every retry is logged with its answer; one run executed each key to its end.
        const expected = (s: Sent) => (s.before!.view ? 1 : 0) + s.retries.length;
        const finalLogs = new Map<string, LogRow[]>();
        await pollUntil(async () => {
          for (const s of all) finalLogs.set(s.key, await logsForKey(srv2, s.key));
          return all.every((s) => finalLogs.get(s.key)!.length === expected(s));
        }, (done) => done, { timeoutMs: 10_000, intervalMs: 100 });
        for (const s of all) {
          const rows = finalLogs.get(s.key)!;
          const context = `${s.key}: ${JSON.stringify(rows.map((r) => [r.id, r.status, r.outcome, r.original_request]))}`;
          assert.equal(rows.length, expected(s), `${context}: its first request (if it committed) and every retry`);
          const final = await inspectKey(srv2, s.key);
          assert.equal(final?.state, 'finished', context);
          const r0 = s.before!.view?.original_request;
          if (r0) assert.equal(final!.original_request, r0, `${context}: the first request stays the key's original request`);
          for (const answer of s.retries) {
            const id = answer.headers.get('request-id');
            const row = rows.find((r) => r.id === id);
            assert.ok(row, `${context}: retry ${id} is logged`);
            assert.equal(row.status, answer.status, context);
            if (answer.status === 409) assert.equal(row.outcome, 'conflict', context);
            else if (answer.headers.get('idempotent-replayed') === 'true') {
              assert.equal(row.outcome, 'replayed', context);
              assert.equal(row.original_request, final!.original_request, context);
            } else assert.equal(row.outcome, 'executed', context);
          }
          const pending = rows.filter((r) => r.status === null);
          assert.ok(pending.every((r) => r.id === r0), `${context}: only the request cut by the kill may stay pending`);
          // The run that executed the key to its end: an executed 200, or the first request if it
          // had finished before the kill but its log completion was lost.
          const lostButFinished = pending.length === 1 && s.before!.view?.state === 'finished' ? 1 : 0;
          const executedDone = rows.filter((r) => r.outcome === 'executed' && r.status === 200).length + lostButFinished;
          assert.equal(executedDone, 1, `${context}: exactly one executed and completed run`);
        }
      } catch (err) {
        explain(err, [first, second]);
      } finally {
        await first?.kill();
        await second?.kill();
        store.dispose();
      }
    });
});

// ---------------------------------------------------------------------------------------------
// 2) Redaction of the process's output and of /metrics

/** Luhn-valid test card numbers. */
const CARDS = ['4242424242424242', '4000056655665556', '5555555555554444', '378282246310005', '6011111111111117', '4000002500003155'];

/** The card's digits with any separators a log might keep: spaces, dashes, or their URL encodings. */
function cardPattern(card: string): RegExp {
  return new RegExp(card.split('').join('(?:[ +-]|%20|%2[bBdD])*'));
}

function leaks(text: string, secrets: { cards: string[]; literal: string[] }): string[] {
  const found: string[] = [];
  for (const c of secrets.cards) {
    const m = cardPattern(c).exec(text);
    if (m) found.push(`card ${c} as "${m[0]}" in: ${text.slice(Math.max(0, m.index - 200), m.index + 100)}`);
  }
  for (const s of secrets.literal) {
    const i = text.indexOf(s);
    if (i >= 0) found.push(`"${s.slice(0, 12)}..." in: ${text.slice(Math.max(0, i - 200), i + 100)}`);
  }
  return found;
}

describe(`secrets never reach the process output [${STORE}]`, () => {
  test('card numbers (body, metadata, path, query, unknown card[] params, errors), the configured secret key and whsec_ secrets are not in stdout/stderr nor /metrics',
    { timeout: TIMEOUT }, async () => {
      const store = await newStore();
      const secret = newSecretKey();
      let srv: ServerProcess | undefined;
      try {
        srv = await spawnServer({ store, key: secret, env: { ONCEPAY_LOG_LEVEL: 'debug' } });
        const s = srv;
        const [c1, c2, c3, c4, c5, c6] = CARDS;
        const whsecs: string[] = [];
        const answers: RawResponse[] = [];
        const post = async (path: string, body: string, headers: Record<string, string> = {}) => {
          const r = await s.raw('POST', path, { body, headers });
          answers.push(r);
          return r;
        };
        const get = async (path: string, headers: Record<string, string> = {}) => {
          const r = await s.raw('GET', path, { headers });
          answers.push(r);
          return r;
        };

        // Card numbers in metadata and description of a command that succeeds.
        const ok = await post('/v1/payment_intents',
          `amount=1200&currency=usd&payment_method=pm_card_visa&confirm=true&description=card%20${c1}` +
          `&metadata[card]=${c2}&metadata[spaced]=${encodeURIComponent('5555 5555 5555 4444')}&metadata[dashed]=6011-1111-1111-1117`,
          { 'Idempotency-Key': `redact_${Date.now().toString(36)}` });
        assert.equal(ok.status, 200, ok.text);
        // ... in a path id (plain, spaced, percent-encoded spaces), a query string, an unknown route.
        assert.equal((await get(`/v1/payment_intents/${c1}`)).status, 404);
        assert.equal((await get(`/v1/customers/${encodeURIComponent('3782 822463 10005')}`)).status, 404);
        assert.equal((await get(`/v1/payment_intents/${encodeURIComponent('4000 0025 0000 3155')}`)).status, 404);
        assert.equal((await get(`/v1/payment_intents?customer=${c2}&limit=3`)).status, 200);
        assert.equal((await get(`/v1/payment_intents?card=${c1}`)).status, 400);
        assert.equal((await get(`/v1/not_a_route/${c6}?number=${c6}`)).status, 404);
        // ... as unknown parameters shaped like a raw card.
        assert.equal((await post('/v1/payment_intents', `amount=100&currency=usd&card[number]=${c1}&card[cvc]=123&card[exp_month]=12`)).status, 400);
        assert.equal((await post('/v1/customers', `email=a@example.com&source[number]=${c3}&source[cvc]=999`)).status, 400);
        assert.equal((await post('/v1/customers', JSON.stringify({ name: `x ${c4}`, card: { number: c5, cvc: '321' } }), { 'content-type': 'application/json' })).status, 400);
        // ... in invalid values echoed by error messages.
        await post('/v1/payment_intents', `amount=100&currency=usd&payment_method=${c1}&confirm=true`);
        await post('/v1/payment_intents', `amount=100&currency=usd&customer=cus_${c2}`);
        await post(`/v1/payment_intents/${c3}/confirm`, 'payment_method=pm_card_visa');
        // An error log line: the acquirer fails before charging (500, logged with its cause).
        const failed = await post('/v1/payment_intents',
          `amount=1300&currency=usd&payment_method=pm_card_oncepay_errorBeforeCharge&confirm=true&description=${c4}&metadata[c]=${c5}`,
          { 'Idempotency-Key': `redact_err_${Date.now().toString(36)}` });
        assert.equal(failed.status, 500, failed.text);

        // The secret key: in Basic auth, in a path, in metadata; a wrong key too.
        assert.equal((await s.raw('GET', '/v1/balance', { headers: { authorization: `Basic ${Buffer.from(`${secret}:`).toString('base64')}` } })).status, 200);
        assert.equal((await get(`/v1/customers/${secret}`)).status, 404);
        assert.equal((await post('/v1/customers', `metadata[k]=${secret}`)).status, 200);
        const wrongKey = newSecretKey().replace('sk_test_', 'rk_test_'); // unknown (an sk_test_ one would get an account: any-key mode)
        assert.equal((await s.raw('GET', '/v1/balance', { headers: { authorization: `Bearer ${wrongKey}` } })).status, 401);

        // whsec_ secrets: returned on create and on rotation, then used in later requests.
        const endpoint = await post('/v1/webhook_endpoints', 'url=http://127.0.0.1:9/hook&enabled_events[]=*');
        assert.equal(endpoint.status, 200, endpoint.text);
        whsecs.push(endpoint.json.secret);
        const rotated = await post(`/v1/webhook_endpoints/${endpoint.json.id}/rotate_secret`, '');
        assert.equal(rotated.status, 200, rotated.text);
        if (rotated.json.secret) whsecs.push(rotated.json.secret);
        assert.ok(whsecs.every((w) => typeof w === 'string' && w.startsWith('whsec_')), JSON.stringify(whsecs));
        await post('/v1/customers', `metadata[w]=${encodeURIComponent(whsecs[0])}`);
        await get(`/v1/webhook_endpoints/${encodeURIComponent(whsecs[0])}`);

        // The process answered all of that; give its logger a moment, then look at everything.
        const metrics = await fetch(`${s.url}/metrics`).then((r) => r.text());
        await pollUntil(async () => s.output(), (out) => out.includes(`"url":"/v1/webhook_endpoints/whsec_`), { timeoutMs: 5000, intervalMs: 50 });
        const output = s.output();
        assert.ok(output.includes('"msg":"request"'), 'the process logs its requests');
        assert.ok(/"level":50/.test(output), `the failing request produced an error line:\n${output.slice(-3000)}`);
        assert.ok(!output.includes('Created a test-mode account'), 'a configured key means no first-start key is printed');
        const secrets = { cards: CARDS, literal: [secret, wrongKey, ...whsecs, secret.slice('sk_test_'.length), ...whsecs.map((w) => w.slice('whsec_'.length))] };
        assert.deepEqual(leaks(output, secrets), [], 'secrets in the process output');
        assert.deepEqual(leaks(metrics, secrets), [], 'secrets in /metrics');
      } catch (err) {
        explain(err, [srv]);
      } finally {
        await srv?.kill();
        store.dispose();
      }
    });

  test('the request logs readable through the API carry no card numbers or key material either', { timeout: TIMEOUT }, async () => {
    const store = await newStore();
    const secret = newSecretKey();
    let srv: ServerProcess | undefined;
    try {
      srv = await spawnServer({ store, key: secret });
      const s = srv;
      const [c1, c2, c3] = CARDS;
      const key = `redact_logs_${Date.now().toString(36)}`;
      await s.raw('POST', '/v1/payment_intents', {
        body: `amount=100&currency=usd&description=${c1}&metadata[card]=${encodeURIComponent('4000 0566 5566 5556')}`,
        headers: { 'Idempotency-Key': key },
      });
      await s.raw('POST', '/v1/payment_intents', { body: `amount=100&currency=usd&card[number]=${c1}&card[cvc]=123` });
      await s.raw('GET', `/v1/payment_intents/${c3}?expand[]=${c2}`);
      await s.raw('GET', `/v1/payment_intents/${encodeURIComponent('5555 5555 5555 4444')}`);
      const endpoint = await s.raw('POST', '/v1/webhook_endpoints', { body: 'url=http://127.0.0.1:9/hook&enabled_events[]=*' });
      assert.equal(endpoint.status, 200, endpoint.text);
      const whsec: string = endpoint.json.secret;
      await s.raw('GET', `/v1/customers/${secret}`);
      const logs = await pollUntil(() => listLogs(s, ''), (rows) => rows.length >= 7, { timeoutMs: 5000, intervalMs: 50 });
      assert.ok(logs.length >= 7, `every request logged: ${logs.length}`);
      const text = JSON.stringify(logs) + JSON.stringify((await inspectKey(s, key)) ?? {});
      assert.deepEqual(leaks(text, { cards: CARDS, literal: [secret, whsec, whsec.slice('whsec_'.length)] }), [], 'secrets in request logs');
    } catch (err) {
      explain(err, [srv]);
    } finally {
      await srv?.kill();
      store.dispose();
    }
  });
});
