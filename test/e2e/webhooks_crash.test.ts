/**
 * Webhook deliveries across a crash and a pause, with real server processes:
 * - kill -9 while an attempt is in flight: the attempt stays in the history as `unknown`, is sent
 *   again once its lease runs out, and does not count against the retry schedule (before the
 *   fix, the lost attempt was counted and never recorded: {failed, attempts 2, recorded 1});
 * - a process paused past its lease (SIGSTOP) cannot overwrite, once resumed, the delivery that
 *   another process delivered meanwhile (PostgreSQL: two processes share one database).
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import {
  STORE, cleanupServersAndStores, explain, newSecretKey, newStore, pollUntil, spawnServer, usingPostgres, type ServerProcess,
} from '../helpers/processes.ts';
import { SHARED_DATABASE_ONLY } from '../helpers/store.ts';

after(cleanupServersAndStores);

/** What the receiver does with the nth request (1-based) it gets for one event. */
type Answer = { status: number; afterMs?: number } | 'hold';

interface Hit { id: string; nth: number; res: ServerResponse }

/** A webhook receiver on loopback whose answers a test scripts per attempt. */
class ScriptedReceiver {
  readonly hits: Hit[] = [];
  private constructor(private readonly server: Server, private readonly script: (nth: number) => Answer) {}

  static async start(script: (nth: number) => Answer): Promise<ScriptedReceiver> {
    let receiver: ScriptedReceiver | undefined;
    const server = createServer((req, res) => receiver!.handle(req, res));
    receiver = new ScriptedReceiver(server, script);
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    return receiver;
  }

  url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    req.resume();
    req.on('end', () => {
      const id = String(req.headers['webhook-id'] ?? req.headers['stripe-event-id'] ?? '');
      const nth = this.hits.filter((h) => h.id === id).length + 1;
      this.hits.push({ id, nth, res });
      const answer = this.script(nth);
      if (answer === 'hold') return;
      setTimeout(() => res.writeHead(answer.status).end(answer.status < 300 ? 'ok' : 'nope'), answer.afterMs ?? 0);
    });
  }

  /** Answers a held request (if its connection is still open). */
  answer(hit: Hit, status: number): void {
    if (!hit.res.writableEnded && !hit.res.destroyed) hit.res.writeHead(status).end(status < 300 ? 'ok' : 'nope');
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((ok) => this.server.close(() => ok()));
  }
}

interface AttemptView { attempt: number; outcome: string; status_code: number | null; next_retry_at: number | null }

async function history(s: ServerProcess, eventId: string): Promise<AttemptView[]> {
  const r = await s.raw('GET', `/v1/events/${eventId}/deliveries?limit=100`);
  assert.equal(r.status, 200, r.text);
  return (r.json.data as AttemptView[]).slice().sort((a, b) => a.attempt - b.attempt);
}

/** An endpoint for customer.created on `receiver`, and one customer: the event whose delivery is watched. */
async function endpointAndEvent(s: ServerProcess, receiver: ScriptedReceiver): Promise<string> {
  const stripe = s.stripe();
  await stripe.webhookEndpoints.create({ url: receiver.url(), enabled_events: ['customer.created'] });
  const customer = await stripe.customers.create({ email: 'crash@example.com' });
  const [ev] = (await stripe.events.list({ type: 'customer.created', limit: 1 })).data;
  assert.equal((ev.data.object as { id: string }).id, customer.id);
  return ev.id;
}

/** Fast webhooks for these tests: one retry 200 ms after a failure, 3 s timeout, 4 s lease. */
const WEBHOOK_ENV = {
  ONCEPAY_WEBHOOK_RETRY_SCHEDULE: '200ms',
  ONCEPAY_WEBHOOK_TIMEOUT: '3s',
  ONCEPAY_WEBHOOK_LEASE: '4s',
  ONCEPAY_WEBHOOK_INTERVAL: '50ms',
};

describe(`webhook deliveries across crashes [${STORE}]`, () => {
  test('kill -9 with an attempt in flight: recorded as unknown, sent again after the lease, not counted against the schedule', { timeout: 60_000 }, async () => {
    const store = await newStore();
    const key = newSecretKey();
    // The first attempt is answered 200 after 1.5 s (the server is dead by then); every later one 500.
    const receiver = await ScriptedReceiver.start((nth) => (nth === 1 ? { status: 200, afterMs: 1500 } : { status: 500 }));
    let server: ServerProcess | undefined = await spawnServer({ store, key, env: WEBHOOK_ENV });
    try {
      const eventId = await endpointAndEvent(server, receiver);
      await pollUntil(async () => receiver.hits.length, (n) => n >= 1, { timeoutMs: 10_000, intervalMs: 20 });
      assert.equal(receiver.hits.length, 1, 'the first attempt is in flight');
      const exit = await server.kill();
      assert.equal(exit.signal, 'SIGKILL');

      server = await spawnServer({ store, key, env: WEBHOOK_ENV });
      const h = await pollUntil(() => history(server!, eventId), (x) => x.length === 3 && x[2].outcome === 'failed' && x[2].next_retry_at === null,
        { timeoutMs: 20_000, intervalMs: 100 });
      // One uncounted attempt cut off by the crash, then the schedule in full: the first try and its one retry.
      assert.deepEqual(h.map((a) => [a.attempt, a.outcome, a.status_code]), [[1, 'unknown', null], [2, 'failed', 500], [3, 'failed', 500]]);
      assert.equal(receiver.hits.length, 3, 'the receiver saw exactly the attempts in the history');
      const ev = await server.raw('GET', `/v1/events/${eventId}`);
      assert.equal(ev.json.pending_webhooks, 0, 'the delivery is given up (failed), not pending');
    } catch (err) {
      explain(err, [server]);
    } finally {
      await server?.kill();
      await receiver.close();
      store.dispose();
    }
  });

  test('a process paused past its lease cannot overwrite the delivery another process recorded', { timeout: 60_000, skip: SHARED_DATABASE_ONLY }, async () => {
    const store = await newStore();
    const key = newSecretKey();
    // 1st attempt: 500 at once (so the paused process's attempt is the schedule's last); 2nd: held
    // while its sender is paused; 3rd (from the other process, after the lease): 200.
    const receiver = await ScriptedReceiver.start((nth) => (nth === 1 ? { status: 500 } : nth === 2 ? 'hold' : { status: 200 }));
    const paused = await spawnServer({ store, key, env: WEBHOOK_ENV });
    let other: ServerProcess | undefined;
    try {
      const eventId = await endpointAndEvent(paused, receiver);
      await pollUntil(async () => receiver.hits.length, (n) => n >= 2, { timeoutMs: 10_000, intervalMs: 20 });
      process.kill(paused.pid, 'SIGSTOP');
      // Only now a second process: the retry in flight was claimed by the paused one.
      other = await spawnServer({ store, key, env: WEBHOOK_ENV });
      await pollUntil(async () => receiver.hits.length, (n) => n >= 3, { timeoutMs: 15_000, intervalMs: 50 });
      const delivered = await pollUntil(() => history(other!, eventId), (x) => x.some((a) => a.outcome === 'delivered'), { timeoutMs: 10_000 });
      assert.ok(delivered.some((a) => a.outcome === 'delivered'), JSON.stringify(delivered));

      // Resume the paused process and fail its held attempt: its outcome is recorded in the
      // history, but the delivery it no longer owns stays delivered.
      process.kill(paused.pid, 'SIGCONT');
      receiver.answer(receiver.hits[1], 500); // or its own timeout fires first on resuming: failed either way
      const h = await pollUntil(() => history(other!, eventId), (x) => x.length === 3 && x.every((a) => a.outcome !== 'unknown' || a.attempt !== 2),
        { timeoutMs: 10_000, intervalMs: 100 });
      assert.deepEqual(h.map((a) => [a.attempt, a.outcome]), [[1, 'failed'], [2, 'failed'], [3, 'delivered']]);
      assert.equal(h[1].next_retry_at, null, 'the fenced-out attempt schedules nothing');
      const client = new pg.Client({ connectionString: store.databaseUrl });
      await client.connect();
      try {
        const { rows } = await client.query('SELECT status, attempts FROM webhook_deliveries WHERE event_id = $1', [eventId]);
        assert.deepEqual(rows, [{ status: 'delivered', attempts: 2 }], 'delivered, with the two outcomes its lease holders recorded');
      } finally {
        await client.end();
      }
      assert.equal(receiver.hits.length, 3, 'nothing was sent after the delivery');
    } catch (err) {
      explain(err, [paused, other]);
    } finally {
      try { process.kill(paused.pid, 'SIGCONT'); } catch { /* already gone */ }
      await paused.kill();
      await other?.kill();
      await receiver.close();
      store.dispose();
    }
  });
});
