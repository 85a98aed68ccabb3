/**
 * The campaign's webhook receiver, built from the project's own helper (src/receiver/): every
 * delivery's signature is verified with the endpoint's secret, and each event is processed
 * once with PostgresProcessedEvents on the receiver's own database. The handler writes the
 * event id into its own table, `campaign_received` (no unique constraint, on purpose: an event
 * handled twice shows up as two rows), in the same transaction as the processed id. When
 * runOnce rejects (an injected handler failure, the database restarting) it answers 500, and
 * Oncepay delivers again.
 */
import http from 'node:http';
import pg from 'pg';
import {
  PostgresProcessedEvents, processOnce, verifyWebhook, WebhookVerificationError, type WebhookEvent,
} from '../src/receiver/index.ts';
import type { Rng } from './prng.ts';

export interface ReceiverCounts {
  deliveries: number;
  processed: number;
  duplicates: number;
  injectedFailures: number;
  /** runOnce rejected for another reason (its database restarting). */
  storeFailures: number;
  /** Deliveries that failed verification: Oncepay signing wrongly would be a bug. */
  verificationFailures: number;
  verificationReasons: Record<string, number>;
  poolErrors: number;
  /** Deliveries before the secret was known (answered 503). */
  early: number;
}

export const RECEIVED_TABLE = 'campaign_received';
export const PROCESSED_TABLE = 'processed_webhook_events';

export class Receiver {
  readonly counts: ReceiverCounts = {
    deliveries: 0, processed: 0, duplicates: 0, injectedFailures: 0, storeFailures: 0, verificationFailures: 0, verificationReasons: {}, poolErrors: 0, early: 0,
  };
  readonly pool: pg.Pool;
  private readonly store: PostgresProcessedEvents<pg.Pool>;
  private server?: http.Server;
  secret?: string;
  /** Failures are injected only while this is true (off when quiescing). */
  injecting = true;
  port = 0;

  constructor(databaseUrl: string, private readonly failProbability: number, private readonly rng: Rng, private readonly log: (m: string) => void) {
    this.pool = new pg.Pool({ connectionString: databaseUrl, max: 8 });
    // An idle client whose server went away (a PostgreSQL restart) emits 'error' on the pool:
    // without a listener that would end the process (docs/webhooks-receiver.md).
    this.pool.on('error', () => { this.counts.poolErrors++; });
    this.store = new PostgresProcessedEvents({ db: this.pool, table: PROCESSED_TABLE });
  }

  async setup(): Promise<void> {
    await this.store.ensureTable();
    await this.pool.query(`CREATE TABLE IF NOT EXISTS ${RECEIVED_TABLE} (
      seq bigserial PRIMARY KEY, event_id text NOT NULL, event_type text NOT NULL, received_at timestamptz NOT NULL DEFAULT now())`);
  }

  listen(): Promise<number> {
    const server = http.createServer((req, res) => void this.onRequest(req, res));
    this.server = server;
    return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
      this.port = (server.address() as { port: number }).port;
      resolve(this.port);
    }));
  }

  private async onRequest(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const reply = (status: number, body: object) => {
      if (!res.headersSent) res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    let body: Buffer;
    try {
      body = await readBody(req);
    } catch {
      return; // the connection went away (the proxy reset it)
    }
    if (req.method !== 'POST' || req.url !== '/webhooks') return reply(404, { error: 'not_found' });
    this.counts.deliveries++;
    if (!this.secret) {
      this.counts.early++;
      return reply(503, { error: 'not ready' });
    }
    let event: WebhookEvent;
    try {
      event = verifyWebhook({ body, headers: req.headers, secrets: this.secret });
    } catch (err) {
      if (err instanceof WebhookVerificationError) {
        this.counts.verificationFailures++;
        this.counts.verificationReasons[err.reason] = (this.counts.verificationReasons[err.reason] ?? 0) + 1;
        return reply(400, { error: err.reason });
      }
      throw err;
    }
    const fail = this.injecting && this.rng.chance(this.failProbability);
    try {
      const outcome = await processOnce({
        event, store: this.store,
        handler: async (e, client) => {
          await client.query(`INSERT INTO ${RECEIVED_TABLE} (event_id, event_type) VALUES ($1, $2)`, [e.id, e.type]);
          if (fail) throw new InjectedFailure(`injected handler failure for ${e.id}`);
        },
      });
      if (outcome.processed) this.counts.processed++;
      else this.counts.duplicates++;
      reply(200, { received: true, duplicate: !outcome.processed });
    } catch (err) {
      if (err instanceof InjectedFailure) this.counts.injectedFailures++;
      else {
        this.counts.storeFailures++;
        this.log(`receiver: runOnce failed for ${event.id}: ${(err as Error).message}`);
      }
      reply(500, { error: 'handler failed' });
    }
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    this.server?.closeAllConnections();
    await closed;
    await this.pool.end().catch(() => {});
  }
}

class InjectedFailure extends Error {}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
    req.on('aborted', () => reject(new Error('aborted')));
  });
}
