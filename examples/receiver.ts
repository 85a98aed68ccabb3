/**
 * A minimal webhook receiver: verifies each delivery, processes each event once, logs.
 *
 *   WEBHOOK_SECRET=whsec_... PORT=4242 node --import tsx examples/receiver.ts
 *
 * Then point a webhook endpoint at http://127.0.0.1:4242/webhooks. With DATABASE_URL set, the
 * processed event ids live in PostgreSQL (table processed_webhook_events, created when missing)
 * and are recorded in the same transaction as the handler's writes; without it, in memory.
 * WEBHOOK_SECRET may list several secrets separated by commas (during a rotation).
 */
import http from 'node:http';
import pg from 'pg';
import {
  InMemoryProcessedEvents, PostgresProcessedEvents, processOnce, verifyWebhook, WebhookVerificationError,
  type ProcessOutcome, type SqlExecutor, type WebhookEvent,
} from '../src/receiver/index.ts';

const secrets = (process.env.WEBHOOK_SECRET ?? '').split(/[\s,]+/).filter(Boolean);
if (secrets.length === 0) {
  console.error('set WEBHOOK_SECRET to the endpoint\'s signing secret (whsec_...)');
  process.exit(1);
}
const port = Number(process.env.PORT ?? 4242);
const MAX_BODY_BYTES = 1024 * 1024;

/** The business logic. `db` is the transaction's client when the store is PostgreSQL. */
async function handleEvent(event: WebhookEvent, db: SqlExecutor | undefined): Promise<void> {
  const object = event.data.object as { id?: string; object?: string };
  switch (event.type) {
    case 'payment_intent.succeeded':
      // e.g. await db?.query('UPDATE orders SET paid_at = now() WHERE payment_intent_id = $1', [object.id]);
      console.log(`  fulfilling the order paid by ${object.id}`);
      break;
    case 'charge.refunded':
      console.log(`  recording the refund of ${object.id}`);
      break;
    default:
      console.log(`  nothing to do for ${event.type} (${object.object} ${object.id})`);
  }
  void db;
}

let pool: pg.Pool | undefined;
let handle: (event: WebhookEvent) => Promise<ProcessOutcome<void>>;
if (process.env.DATABASE_URL) {
  pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
  // An idle pooled connection the database ends (a restart) is reported here; without a listener
  // it would be an unhandled 'error' event and end the process. The pool replaces it.
  pool.on('error', (err) => console.error(`database connection lost (${err.message}); the pool reconnects`));
  const store = new PostgresProcessedEvents({ db: pool, table: process.env.PROCESSED_EVENTS_TABLE });
  await store.ensureTable();
  handle = (event) => processOnce({ event, store, handler: handleEvent });
  console.log(`processed event ids: PostgreSQL table ${store.table}`);
} else {
  const store = new InMemoryProcessedEvents({ ttlSeconds: 7 * 24 * 3600 });
  handle = (event) => processOnce({ event, store, handler: (e) => handleEvent(e, undefined) });
  console.log('processed event ids: in memory (set DATABASE_URL to keep them in PostgreSQL)');
}

function readBody(req: http.IncomingMessage): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        resolve(null);
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function reply(res: http.ServerResponse, status: number, body: object): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

const server = http.createServer(async (req, res) => {
  if (req.url !== '/webhooks') return reply(res, 404, { error: 'not_found' });
  if (req.method !== 'POST') return reply(res, 405, { error: 'method_not_allowed' });
  try {
    const body = await readBody(req); // the raw bytes: the signature covers them exactly
    if (body === null) return reply(res, 413, { error: 'body_too_large' });

    let event: WebhookEvent;
    try {
      event = verifyWebhook({ body, headers: req.headers, secrets });
    } catch (err) {
      if (!(err instanceof WebhookVerificationError)) throw err;
      console.log(`rejected a delivery: ${err.reason} (${err.message})`);
      return reply(res, 400, { error: err.reason });
    }

    const outcome = await handle(event);
    if (outcome.processed) console.log(`processed ${event.id} ${event.type}`);
    else console.log(`skipped ${event.id} ${event.type}: duplicate`);
    // 2xx either way: a duplicate was handled before, the sender can stop retrying.
    return reply(res, 200, { received: true, duplicate: !outcome.processed });
  } catch (err) {
    // Nothing was recorded: answer 5xx so that the sender retries.
    console.error('failed to process a delivery:', err);
    if (!res.headersSent) reply(res, 500, { error: 'processing_failed' });
  }
});

server.listen(port, '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${port}/webhooks`));

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    server.close(() => void pool?.end());
  });
}
