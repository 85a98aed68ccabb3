/**
 * Graceful shutdown of real server processes (`oncepay serve`, SIGTERM).
 *
 * README: "SIGTERM (or SIGINT): stop accepting connections, let in-flight requests finish for up
 * to ONCEPAY_SHUTDOWN_TIMEOUT, then release the idempotency locks of any still running (a retry or
 * another process's completer resumes them at once instead of after the lock timeout), stop the
 * completer, reaper and webhook dispatcher, write the buffered request logs, and exit."
 *
 * The slow fault card (pm_card_oncepay_slow: the acquirer answers after 3 s) keeps a request in
 * flight; every wait is on an observable state (the key's recovery point, the process's exit),
 * never on a guess of how fast the machine is. The control case (SIGKILL, no release) shows the
 * release is what lets a retry through before the lock timeout.
 *
 * Runs on PostgreSQL when DATABASE_URL is set, otherwise on a PGlite data directory (where a second
 * server can only open the directory once the first has exited).
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { readdirSync, readFileSync } from 'node:fs';
import pg from 'pg';
import {
  cleanupServersAndStores, newSecretKey, newStore, pollUntil, spawnServer, STORE, usingPostgres,
  type Exit, type RawResponse, type ServerProcess, type SpawnOptions, type Store,
  explain, withTimeout,
} from '../helpers/processes.ts';

const TIMEOUT = 90_000;
/** The exit timer the serve command used to hard-code (these tests caught it; now ONCEPAY_SHUTDOWN_TIMEOUT + 5 s). */
const CLI_HARD_EXIT_MS = 10_000;

after(cleanupServersAndStores);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const SLOW_BODY = 'amount=4200&currency=usd&payment_method=pm_card_oncepay_slow&confirm=true';
const VISA_BODY = 'amount=4300&currency=usd&payment_method=pm_card_visa&confirm=true';

interface KeyView { state: string; locked: boolean; recovery_point: string; original_request: string }

async function inspectKey(srv: ServerProcess, key: string): Promise<KeyView | undefined> {
  const r = await srv.raw('GET', `/v1/idempotency_keys/${encodeURIComponent(key)}`);
  if (r.status === 404) return undefined;
  assert.equal(r.status, 200, r.text);
  return r.json;
}

/** Waits until the key's first phase committed and its run sits in the acquirer call (recovery point `create`). */
async function untilInAcquirer(srv: ServerProcess, key: string): Promise<void> {
  const v = await pollUntil(() => inspectKey(srv, key), (x) => x?.state === 'in_progress' && x.recovery_point === 'create', { timeoutMs: 20_000, intervalMs: 20 });
  assert.equal(v?.state, 'in_progress', `the request should be running in the acquirer: ${JSON.stringify(v)}`);
  assert.equal(v?.recovery_point, 'create');
}

/** One fresh TCP connection, one GET: its status, or `refused` when nothing listens any more. */
function probe(port: number, path: string): Promise<'refused' | 'closed' | number> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    let data = '';
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`));
    sock.on('data', (d: string) => { data += d; });
    sock.on('error', (e: NodeJS.ErrnoException) => { if (e.code === 'ECONNREFUSED') resolve('refused'); });
    sock.on('close', () => {
      const m = /^HTTP\/1\.1 (\d{3})/.exec(data);
      resolve(m ? Number(m[1]) : 'closed');
    });
  });
}

/** A raw HTTP/1.1 connection: for pipelining and for requests that never finish sending their body. */
class RawConnection {
  private readonly sock;
  data = '';
  readonly closed: Promise<void>;
  constructor(port: number) {
    this.sock = connect(port, '127.0.0.1');
    this.sock.setEncoding('utf8');
    this.sock.on('data', (d: string) => { this.data += d; });
    this.sock.on('error', () => {});
    this.closed = new Promise((r) => this.sock.on('close', () => r()));
  }
  write(text: string): void {
    this.sock.write(text);
  }
  statuses(): number[] {
    return [...this.data.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));
  }
  destroy(): void {
    this.sock.destroy();
  }
}

function postRequest(srv: ServerProcess, key: string, body: string): string {
  return `POST /v1/payment_intents HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${srv.key}\r\n` +
    `Content-Type: application/x-www-form-urlencoded\r\nIdempotency-Key: ${key}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

/** pid -> parent pid, from /proc. */
function processTable(): Map<number, number> {
  const table = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      table.set(Number(d), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch { /* gone meanwhile */ }
  }
  return table;
}

function descendants(pid: number): number[] {
  const table = processTable();
  const out: number[] = [];
  const queue = [pid];
  while (queue.length) {
    const p = queue.shift()!;
    for (const [child, parent] of table) if (parent === p) { out.push(child); queue.push(child); }
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM, then the exit and how long it took. */
async function terminate(srv: ServerProcess, waitMs = 40_000): Promise<{ exit: Exit; ms: number }> {
  const t0 = Date.now();
  srv.child.kill('SIGTERM');
  const exit = await withTimeout(srv.exited, waitMs, `exit after SIGTERM of pid ${srv.pid}`);
  return { exit, ms: Date.now() - t0 };
}

const settle = <T>(p: Promise<T>) => p.then((value) => ({ ok: true as const, value }), (error) => ({ ok: false as const, error }));

/** A second server on the same store: alongside on PostgreSQL, after the first exited on PGlite. */
const second = (store: Store, key: string, opts: Partial<SpawnOptions> = {}) => spawnServer({ store, key, ...opts });

// ---------------------------------------------------------------------------------------------

describe(`graceful shutdown [${STORE}]`, () => {
  test('SIGTERM with a slow request in flight: it completes with 200, new connections are refused, the process exits 0 once drained (before ONCEPAY_SHUTDOWN_TIMEOUT), and its log row is complete after restart',
    { timeout: TIMEOUT }, async () => {
      const store = await newStore();
      const secret = newSecretKey();
      const deadlineMs = 8000; // below the CLI's own 10 s exit timer
      let srv: ServerProcess | undefined;
      let restarted: ServerProcess | undefined;
      try {
        srv = await spawnServer({ store, key: secret, lockTimeout: '60s', env: { ONCEPAY_SHUTDOWN_TIMEOUT: `${deadlineMs}ms` } });
        const s = srv;
        const key = `drain_${Date.now().toString(36)}`;
        // An ordinary client: fetch, with its keep-alive connection pool (as the official SDKs do).
        const inFlight = settle(s.raw('POST', '/v1/payment_intents', { body: SLOW_BODY, headers: { 'Idempotency-Key': key } }));
        await untilInAcquirer(s, key);
        const t0 = Date.now();
        s.child.kill('SIGTERM');
        // New connections are refused (or answered 503) while it drains.
        const during = await pollUntil(() => probe(s.port, '/readyz'), (r) => r === 'refused' || r === 503, { timeoutMs: 5000, intervalMs: 20 });
        assert.ok(during === 'refused' || during === 503, `a new connection during the drain: ${during}`);
        assert.equal((await settle(s.raw('GET', '/v1/balance'))).ok, false, 'a new API request after SIGTERM is refused');

        const answer = await inFlight;
        assert.ok(answer.ok, `the in-flight request should complete: ${answer.ok ? '' : answer.error}`);
        const res = answer.value as RawResponse;
        assert.equal(res.status, 200, res.text);
        assert.equal(res.json.status, 'succeeded');
        const answeredAfter = Date.now() - t0;

        const exit = await withTimeout(s.exited, 40_000, 'exit after SIGTERM');
        const exitedAfter = Date.now() - t0;
        assert.deepEqual(exit, { code: 0, signal: null }, 'a graceful shutdown exits 0');

        // The writer was flushed on the way out: the request's log row is complete.
        restarted = await spawnServer({ store, key: secret });
        const requestId = res.headers.get('request-id')!;
        const log = await restarted.raw('GET', `/v1/request_logs/${requestId}`);
        assert.equal(log.status, 200, log.text);
        assert.equal(log.json.status, 200, `log row of the drained request: ${log.text}`);
        assert.equal(log.json.outcome, 'executed');
        assert.equal(log.json.idempotency_key, key);
        assert.ok(log.json.duration_ms >= 0, log.text);
        const view = await inspectKey(restarted, key);
        assert.equal(view?.state, 'finished');
        const sales = await restarted.ledger(res.json.id);
        assert.deepEqual(sales.map((e) => e.kind), ['sale']);

        // Drained means done: the process must not sit out the rest of the deadline. An idle
        // keep-alive connection left by the in-flight request must not hold the drain open.
        assert.ok(!s.output().includes('shutdown deadline passed'),
          `the only request finished ${answeredAfter} ms after SIGTERM, yet the drain ran into the ${deadlineMs} ms deadline ` +
          `(exit ${exitedAfter} ms after SIGTERM): the keep-alive connection of the finished request kept app.close() waiting`);
        assert.ok(exitedAfter < deadlineMs, `exited ${exitedAfter} ms after SIGTERM; the deadline was ${deadlineMs} ms`);
      } catch (err) {
        explain(err, [srv, restarted]);
      } finally {
        await srv?.kill();
        await restarted?.kill();
        store.dispose();
      }
    });

  test('ONCEPAY_SHUTDOWN_TIMEOUT above 10 s is honoured: the drain lasts until the deadline, then the process exits 0 (not cut short by a fixed 10 s timer with exit code 1)',
    { timeout: TIMEOUT }, async () => {
      const store = await newStore();
      const deadlineMs = 12_000;
      let srv: ServerProcess | undefined;
      let conn: RawConnection | undefined;
      try {
        srv = await spawnServer({ store, env: { ONCEPAY_SHUTDOWN_TIMEOUT: `${deadlineMs}ms` } });
        // A request that is never finished: its body is announced but never sent, so the drain
        // cannot end before the deadline. `Expect: 100-continue` makes the server say when it has
        // taken the request (Node answers 100 Continue as it hands the request to Fastify).
        conn = new RawConnection(srv.port);
        const c = conn;
        c.write(`POST /v1/customers HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${srv.key}\r\n` +
          'Content-Type: application/x-www-form-urlencoded\r\nExpect: 100-continue\r\nContent-Length: 100\r\n\r\n');
        await pollUntil(async () => c.data, (d) => d.includes('100 Continue'), { timeoutMs: 10_000, intervalMs: 10 });
        assert.match(c.data, /^HTTP\/1\.1 100 Continue/, 'the server took the request');
        const { exit, ms } = await terminate(srv);
        assert.ok(ms >= deadlineMs - 100, `the process exited ${ms} ms after SIGTERM, before its ${deadlineMs} ms ONCEPAY_SHUTDOWN_TIMEOUT ` +
          `(exit ${JSON.stringify(exit)}): the serve command's SIGTERM handler (src/cli/commands/serve.ts) exits on its own hard-coded ${CLI_HARD_EXIT_MS} ms timer`);
        assert.deepEqual(exit, { code: 0, signal: null }, 'reaching the deadline is part of a graceful shutdown: exit 0');
        assert.ok(srv.output().includes('shutdown deadline passed'), 'the deadline path ran (locks released, connections closed)');
      } catch (err) {
        explain(err, [srv]);
      } finally {
        conn?.destroy();
        await srv?.kill();
        store.dispose();
      }
    });

  test('with the default ONCEPAY_SHUTDOWN_TIMEOUT (10 s), a request still running at the deadline has its lock released before the process exits',
    { timeout: TIMEOUT, skip: usingPostgres() ? false : 'needs DATABASE_URL: the test holds a table lock from its own connection to keep a request running past 10 s' },
    async () => {
      const store = await newStore();
      const secret = newSecretKey();
      const servers: ServerProcess[] = [];
      const blocker = new pg.Client({ connectionString: store.databaseUrl });
      let blocking = false;
      try {
        const [a, b] = await Promise.all([
          spawnServer({ store, key: secret, lockTimeout: '60s' }),
          spawnServer({ store, key: secret, lockTimeout: '60s' }),
        ]);
        servers.push(a, b);
        await blocker.connect();
        // The acquirer's ledger write blocks behind this lock: the request stays in flight, holding its key.
        await blocker.query('BEGIN');
        await blocker.query('LOCK TABLE acquirer_operations IN EXCLUSIVE MODE');
        blocking = true;
        const key = `default_deadline_${Date.now().toString(36)}`;
        const inFlight = settle(a.raw('POST', '/v1/payment_intents', { body: VISA_BODY, headers: { 'Idempotency-Key': key } }));
        await untilInAcquirer(b, key);
        const t0 = Date.now();
        a.child.kill('SIGTERM');
        // Until the lock is released or the process is gone (a correct one releases at the deadline,
        // then waits for its database pool, which the blocked query holds until the ROLLBACK below).
        const view = await pollUntil(() => inspectKey(b, key), (v) => v?.locked === false || a.child.exitCode !== null,
          { timeoutMs: 30_000, intervalMs: 100 });
        const exitedFirst = a.child.exitCode !== null;
        const ms = Date.now() - t0;
        await blocker.query('ROLLBACK');
        blocking = false;
        const exit = await withTimeout(a.exited, 30_000, 'exit after SIGTERM');
        const answer = await inFlight;
        assert.equal(answer.ok, false, 'the blocked request cannot have been answered');
        assert.equal(view?.locked, false,
          `${ms} ms after SIGTERM the process ${exitedFirst ? `exited (${JSON.stringify(exit)})` : 'was still running'} holding the key's lock ` +
          `(${JSON.stringify(view)}): the serve command's (src/cli/commands/serve.ts) ${CLI_HARD_EXIT_MS} ms process.exit(1) timer fires before close()'s own ` +
          `${CLI_HARD_EXIT_MS} ms deadline, so releaseLocks() never runs`);
        assert.ok(ms >= 10_000 - 100, `the lock was released ${ms} ms after SIGTERM, before the deadline`);
        assert.deepEqual(exit, { code: 0, signal: null });
        const retry = await b.raw('POST', '/v1/payment_intents', { body: VISA_BODY, headers: { 'Idempotency-Key': key } });
        assert.equal(retry.status, 200, `the retry on the other process resumes at once: ${retry.text}`);
        assert.equal(retry.json.status, 'succeeded');
        assert.deepEqual((await b.ledger(retry.json.id)).map((e) => e.kind), ['sale']);
      } catch (err) {
        explain(err, servers);
      } finally {
        if (blocking) await blocker.query('ROLLBACK').catch(() => {});
        await blocker.end().catch(() => {});
        await Promise.all(servers.map((s) => s.kill()));
        store.dispose();
      }
    });

  test('SIGTERM with ONCEPAY_SHUTDOWN_TIMEOUT=300ms and a slow request in flight: prompt exit 0, the lock is released, a retry on another server runs at once (no 409) and charges once',
    { timeout: TIMEOUT }, async () => {
      const store = await newStore();
      const secret = newSecretKey();
      const lockTimeoutMs = 60_000;
      let srv: ServerProcess | undefined;
      let other: ServerProcess | undefined;
      try {
        srv = await spawnServer({ store, key: secret, lockTimeout: '60s', env: { ONCEPAY_SHUTDOWN_TIMEOUT: '300ms' } });
        if (usingPostgres()) other = await second(store, secret, { lockTimeout: '60s' });
        const key = `released_${Date.now().toString(36)}`;
        const inFlight = settle(srv.raw('POST', '/v1/payment_intents', { body: SLOW_BODY, headers: { 'Idempotency-Key': key } }));
        await untilInAcquirer(srv, key);
        const { exit, ms } = await terminate(srv);
        assert.deepEqual(exit, { code: 0, signal: null }, 'exit 0 after the deadline');
        assert.ok(ms < lockTimeoutMs / 2, `exited ${ms} ms after SIGTERM: well before the ${lockTimeoutMs} ms lock timeout`);
        const answer = await inFlight;
        assert.equal(answer.ok, false, 'the request still in the acquirer at the deadline has its connection closed, unanswered');
        assert.match(srv.output(), /"released":1\b.*shutdown deadline passed/, 'the process released the lock of its one unfinished request');

        other ??= await second(store, secret, { lockTimeout: '60s' });
        const view = await inspectKey(other, key);
        assert.equal(view?.state, 'abandoned', `released: unfinished and unheld: ${JSON.stringify(view)}`);
        assert.equal(view?.locked, false);
        const retry = await other.raw('POST', '/v1/payment_intents', { body: SLOW_BODY, headers: { 'Idempotency-Key': key } });
        assert.equal(retry.status, 200, `the first retry runs at once, no 409 idempotency_key_in_use: ${retry.text}`);
        assert.equal(retry.json.status, 'succeeded');
        assert.equal(retry.headers.get('idempotent-replayed'), null, 'the retry resumed the run (it was not finished)');
        const intents = await other.stripe().paymentIntents.list({ limit: 10 });
        assert.deepEqual(intents.data.map((p) => p.id), [retry.json.id], 'one intent');
        assert.deepEqual((await other.ledger()).map((e) => `${e.kind}:${e.reference}:${e.amount}`), [`sale:${retry.json.id}:4200`], 'one sale');
        // The key's logs: the cut request (pending) and the retry that executed it.
        const logs = await pollUntil(async () => (await other!.raw('GET', `/v1/request_logs?idempotency_key=${key}`)).json.data as any[],
          // The retry's row exists (pending) from its first phase; wait for the batched completion too.
          (rows) => rows.length >= 2 && rows.some((r) => r.id === retry.headers.get('request-id') && r.status !== null),
          { timeoutMs: 5000, intervalMs: 50 });
        const byId = new Map(logs.map((r) => [r.id, r]));
        assert.ok(byId.has(view!.original_request), `the cut request has its row: ${JSON.stringify(logs)}`);
        assert.equal(byId.get(view!.original_request).status, null, `the cut request was never answered: ${JSON.stringify(logs)}`);
        assert.equal(byId.get(retry.headers.get('request-id'))?.status, 200, JSON.stringify(logs));
      } catch (err) {
        explain(err, [srv, other]);
      } finally {
        await srv?.kill();
        await other?.kill();
        store.dispose();
      }
    });

  test('control: SIGKILL instead of SIGTERM leaves the lock held: retries get 409 idempotency_key_in_use until the lock timeout, then the run resumes and charges once',
    { timeout: TIMEOUT }, async (t) => {
      const store = await newStore();
      const secret = newSecretKey();
      // PGlite's second server can only start once the first is gone: leave room for its start.
      const lockTimeoutMs = usingPostgres() ? 5000 : 12_000;
      let srv: ServerProcess | undefined;
      let other: ServerProcess | undefined;
      try {
        srv = await spawnServer({ store, key: secret, lockTimeout: `${lockTimeoutMs}ms` });
        if (usingPostgres()) other = await second(store, secret, { lockTimeout: `${lockTimeoutMs}ms` });
        const key = `killed_${Date.now().toString(36)}`;
        const sentAt = Date.now(); // the lock is taken after this, so it is fresh until at least sentAt + lockTimeoutMs
        const inFlight = settle(srv.raw('POST', '/v1/payment_intents', { body: SLOW_BODY, headers: { 'Idempotency-Key': key } }));
        await untilInAcquirer(srv, key);
        assert.equal((await srv.kill()).signal, 'SIGKILL');
        assert.equal((await inFlight).ok, false);
        other ??= await second(store, secret, { lockTimeout: `${lockTimeoutMs}ms` });
        const answers: Array<{ sent: number; answered: number; r: RawResponse }> = [];
        for (;;) {
          const sent = Date.now();
          const r = await other.raw('POST', '/v1/payment_intents', { body: SLOW_BODY, headers: { 'Idempotency-Key': key } });
          answers.push({ sent, answered: Date.now(), r });
          if (r.status !== 409 || sent > sentAt + lockTimeoutMs + 30_000) break;
          await sleep(250);
        }
        t.diagnostic(`${answers.length - 1} answers 409 before the lock timed out`);
        assert.ok(answers[0].sent < sentAt + lockTimeoutMs,
          `the first retry went out ${answers[0].sent - sentAt} ms after the request, past the ${lockTimeoutMs} ms lock timeout: nothing to observe`);
        for (const a of answers.slice(0, -1)) {
          assert.equal(a.r.status, 409, a.r.text);
          assert.equal(a.r.json?.error?.code, 'idempotency_key_in_use');
        }
        assert.equal(answers[0].r.status, 409, 'the dead process never released its lock: the first retry is refused');
        const last = answers[answers.length - 1];
        assert.equal(last.r.status, 200, last.r.text);
        assert.equal(last.r.json.status, 'succeeded');
        assert.ok(last.answered >= sentAt + lockTimeoutMs - 100,
          `the retry got through ${last.answered - sentAt} ms after the request, before the ${lockTimeoutMs} ms lock timeout`);
        assert.deepEqual((await other.ledger()).map((e) => `${e.kind}:${e.reference}`), [`sale:${last.r.json.id}`], 'one sale');
      } catch (err) {
        explain(err, [srv, other]);
      } finally {
        await srv?.kill();
        await other?.kill();
        store.dispose();
      }
    });

  test('while draining /readyz answers 503 on a live connection and new connections are refused; after the exit no process of the server is left',
    { timeout: TIMEOUT }, async () => {
      const store = await newStore();
      let srv: ServerProcess | undefined;
      let conn: RawConnection | undefined;
      try {
        srv = await spawnServer({ store, lockTimeout: '60s', env: { ONCEPAY_SHUTDOWN_TIMEOUT: '8s' } });
        const s = srv;
        assert.equal(await probe(s.port, '/readyz'), 200, 'ready before SIGTERM');
        const tree = [s.pid, ...descendants(s.pid)];
        const key = `readyz_${Date.now().toString(36)}`;
        conn = new RawConnection(s.port);
        conn.write(postRequest(s, key, SLOW_BODY));
        await untilInAcquirer(s, key);
        s.child.kill('SIGTERM');
        // The listening socket closes first: new connections are refused...
        const fresh = await pollUntil(() => probe(s.port, '/readyz'), (r) => r === 'refused' || r === 503, { timeoutMs: 5000, intervalMs: 20 });
        assert.ok(fresh === 'refused' || fresh === 503, `/readyz on a new connection while draining: ${fresh}`);
        assert.equal(s.child.exitCode, null, 'still draining: the slow request is in flight');
        // ... and a request on the connection that is still open (pipelined behind the slow one) is
        // answered 503, or not at all (the server closes the connection after the slow answer).
        conn.write('GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
        await withTimeout(conn.closed, 30_000, 'the draining server answers the slow request and closes the connection');
        const statuses = conn.statuses();
        assert.equal(statuses[0], 200, `the slow request completes:\n${conn.data}`);
        assert.ok(statuses.length === 1 || (statuses.length === 2 && statuses[1] === 503), `/readyz during the drain: 503 or no answer:\n${conn.data}`);
        const exit = await withTimeout(s.exited, 40_000, 'exit after SIGTERM');
        assert.deepEqual(exit, { code: 0, signal: null });
        await sleep(100);
        assert.deepEqual(tree.filter(alive), [], `processes of the server still alive after its exit (tree ${tree})`);
        assert.deepEqual(descendants(s.pid), [], 'nothing left parented to the server');
      } catch (err) {
        explain(err, [srv]);
      } finally {
        conn?.destroy();
        await srv?.kill();
        store.dispose();
      }
    });
});
