/**
 * Delivery order: the events of one object reach one endpoint in the order they were created.
 * A later event is not sent before every earlier one has been answered with a 2xx or given up
 * (its retry schedule spent), while the events of different objects go out in parallel.
 *
 * The receiver is a real node:http server that records, for every request, when it arrived and
 * when it was answered (and with what), holds each request a little so deliveries overlap, and
 * fails chosen first attempts so retries happen. The order of each object's events is known from
 * the test itself: every update sets metadata[step] to its position.
 *
 * On PostgreSQL the server gets a private schema, so no other test process's dispatcher (with its
 * own schedule) takes these deliveries.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type Stripe from 'stripe';
import { startTestServer, usingPostgres, type TestServer } from '../helpers/server.ts';
import { createPrivateSchema, dropPrivateSchemas } from '../helpers/processes.ts';
import { STORE } from '../helpers/store.ts';

interface Arrival {
  eventId: string;
  object: string;
  step: number;
  /** Order numbers on one counter shared by arrivals and answers: the receiver's own timeline. */
  arrivedAt: number;
  answeredAt: number;
  status: number;
}

/** A receiver whose answer to each request is decided by `decide` (status, and how long to hold it). */
function receiver(decide: (arrival: Arrival, attempt: number) => { status: number; holdMs: number }) {
  const arrivals: Arrival[] = [];
  const attempts = new Map<string, number>();
  let tick = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const event = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Stripe.Event;
      const object = event.data.object as { id: string; metadata?: Record<string, string> };
      const attempt = (attempts.get(event.id) ?? 0) + 1;
      attempts.set(event.id, attempt);
      const arrival: Arrival = { eventId: event.id, object: object.id, step: Number(object.metadata?.step ?? 0), arrivedAt: ++tick, answeredAt: 0, status: 0 };
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      const { status, holdMs } = decide(arrival, attempt);
      setTimeout(() => {
        inFlight--;
        arrival.status = status;
        arrival.answeredAt = ++tick;
        arrivals.push(arrival);
        res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : 'not now');
      }, holdMs);
    });
  });
  return {
    arrivals,
    maxInFlight: () => maxInFlight,
    listen: () => new Promise<string>((r) => server.listen(0, '127.0.0.1', () => r(`http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`))),
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

/**
 * Checks the guarantee on a receiver's timeline: for each object, every request for its event at
 * step k arrived after each earlier step's final answer (a 2xx, or the last failure when
 * `givenUp` says the schedule was spent for it).
 */
function assertInOrder(arrivals: Arrival[], objects: string[], steps: number, givenUp = new Set<string>()): void {
  for (const object of objects) {
    const mine = arrivals.filter((a) => a.object === object);
    for (let k = 2; k <= steps; k++) {
      const first = Math.min(...mine.filter((a) => a.step === k).map((a) => a.arrivedAt));
      assert.ok(Number.isFinite(first), `${object}: step ${k} was never delivered`);
      for (let j = 1; j < k; j++) {
        const earlier = mine.filter((a) => a.step === j);
        const final = earlier.find((a) => a.status < 300) ?? (givenUp.has(earlier[0]?.eventId) ? earlier.at(-1) : undefined);
        assert.ok(final, `${object}: step ${j} has no final answer`);
        assert.ok(final.answeredAt < first, `${object}: step ${k} was sent (at ${first}) before step ${j} was answered (at ${final.answeredAt})`);
      }
    }
  }
}

async function eventually<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe(`webhook delivery order [${STORE}]`, () => {
  let s: TestServer;
  const schemas: string[] = [];

  before(async () => {
    const databaseUrl = usingPostgres() ? (await createPrivateSchema('wh_order').then((x) => { schemas.push(x.schema); return x.url; })) : undefined;
    s = await startTestServer({
      config: { ...(databaseUrl ? { databaseUrl } : {}), webhookScheduleMs: [50, 100, 150], webhookTimeoutMs: 2000, webhookIntervalMs: 25 },
    });
  });
  after(async () => {
    await s?.close();
    await dropPrivateSchemas(schemas);
  });

  test('each object\'s events arrive in creation order, even when earlier ones fail first; objects go in parallel', async () => {
    // Every third event fails its first attempt (and is retried after 50 ms); all are held 20 ms.
    let n = 0;
    const failFirst = new Set<string>();
    const r = receiver(({ eventId }, attempt) => {
      if (attempt === 1 && ++n % 3 === 0) failFirst.add(eventId);
      return { status: attempt === 1 && failFirst.has(eventId) ? 500 : 200, holdMs: 20 };
    });
    const url = await r.listen();
    try {
      const acct = await s.newAccount();
      const client = s.stripe({ key: acct.key });
      await client.webhookEndpoints.create({ url, enabled_events: ['customer.updated'] });
      const STEPS = 6;
      const customers = await Promise.all(Array.from({ length: 6 }, (_, i) => client.customers.create({ name: `ordered ${i}` })));
      // The objects are updated side by side; each one's updates in sequence.
      await Promise.all(customers.map(async (c) => {
        for (let step = 1; step <= STEPS; step++) await client.customers.update(c.id, { metadata: { step: String(step) } });
      }));
      const ids = customers.map((c) => c.id);
      await eventually('every event delivered', () => {
        const ok = new Set(r.arrivals.filter((a) => a.status === 200).map((a) => a.eventId));
        return ok.size === ids.length * STEPS ? true : undefined;
      });
      assert.ok(failFirst.size > 0, 'some first attempts failed');
      assertInOrder(r.arrivals, ids, STEPS);
      // The retry schedule stays per event: each failed-first event took exactly two attempts.
      for (const id of failFirst) assert.equal(r.arrivals.filter((a) => a.eventId === id).length, 2, `${id}: one failure, one success`);
      assert.ok(r.maxInFlight() >= 2, `different objects deliver in parallel (at most ${r.maxInFlight()} in flight)`);
    } finally {
      await r.close();
    }
  });

  test('an event whose schedule is spent (given up) releases the next one of its object, which arrives only then', async () => {
    // Step 1 always fails: its schedule (one attempt, three retries) is spent, and it is given up.
    const r = receiver(({ step }) => ({ status: step === 1 ? 500 : 200, holdMs: 0 }));
    const url = await r.listen();
    try {
      const acct = await s.newAccount();
      const client = s.stripe({ key: acct.key });
      await client.webhookEndpoints.create({ url, enabled_events: ['customer.updated'] });
      const c = await client.customers.create({ name: 'one bad event' });
      await client.customers.update(c.id, { metadata: { step: '1' } });
      await client.customers.update(c.id, { metadata: { step: '2' } });
      await eventually('step 2 delivered', () => (r.arrivals.some((a) => a.step === 2 && a.status === 200) ? true : undefined));
      const tries = r.arrivals.filter((a) => a.step === 1);
      assert.equal(tries.length, 4, 'the first event: one attempt and three retries, then given up');
      assertInOrder(r.arrivals, [c.id], 2, new Set([tries[0].eventId]));
      const deliveries = await s.oncepay.db.query<{ status: string }>(
        'SELECT status FROM webhook_deliveries WHERE account_id = $1 AND event_id = $2', [acct.accountId, tries[0].eventId]);
      assert.equal(deliveries.rows[0].status, 'failed');
      // GET /v1/events?delivery_success: false lists the event given up, true the delivered one.
      const byDelivery = async (delivery_success: boolean) =>
        (await client.events.list({ type: 'customer.updated', delivery_success })).data.map((e) => e.id);
      const delivered = r.arrivals.find((a) => a.step === 2 && a.status === 200)!.eventId;
      assert.deepEqual(await byDelivery(false), [tries[0].eventId]);
      assert.deepEqual(await byDelivery(true), [delivered]);
    } finally {
      await r.close();
    }
  });
});
