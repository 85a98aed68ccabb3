/**
 * The webhook dispatcher: turns pending delivery rows into signed POSTs, at least once.
 *
 * Claim: one statement takes due rows with FOR UPDATE SKIP LOCKED (so several processes share
 * the work without sending one attempt twice) and pushes their next_attempt_at out by a lease;
 * a process that dies mid-send leaves the row to be retried when the lease runs out.
 * Send: POST the event (its stored JSON) signed with every active secret of the endpoint.
 * Record: the attempt (history), then delivered, or the next retry by the schedule with
 * jitter, or failed once the schedule is spent. An endpoint failing continuously for longer
 * than `disableAfterMs` is disabled, and that is itself an event.
 * Nothing is held only in memory: all scheduling lives in the delivery rows.
 */
import type { Logger } from 'pino';
import type { Db } from '../store/db.ts';
import { newId, nowSeconds } from '../ids.ts';
import { deliveryAttempts, webhookEndpoints, type DeliveryAttempt, type EndpointSecret, type StripeEvent, type WebhookEndpoint } from './event_objects.ts';
import { activeSecrets } from './endpoints.ts';
import { signedHeaders } from './signing.ts';
import { resolvedRefusal, type UrlPolicy } from './url_safety.ts';
import { emitEvent, systemSource } from './outbox.ts';

export interface DispatcherOptions {
  /** Delays before each retry, in order; the delivery fails after the last. */
  scheduleMs: number[];
  timeoutMs: number;
  leaseMs: number;
  disableAfterMs: number;
  batch: number;
  policy: UrlPolicy;
  logger: Logger;
  /** Called after every attempt (metrics, tests). */
  onAttempt?: (a: DeliveryAttempt) => void;
}

/** Stripe-like: exponential from 1 minute, capped at 12 hours, about three days in all. */
export const DEFAULT_SCHEDULE_MS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 720, 720, 720, 720].map((m) => m * 60_000);

interface Claimed {
  account_id: string;
  event_id: string;
  endpoint_id: string;
  attempts: number;
  event: StripeEvent;
  endpoint: WebhookEndpoint & { deleted?: boolean };
  secrets: EndpointSecret[];
  pending: number;
}

const EXCERPT = 1024;

/** Equal jitter: between 80% and 120% of the scheduled delay, so retries of many events spread out. */
export const withJitter = (ms: number, random = Math.random) => Math.round(ms * (0.8 + 0.4 * random()));

export class WebhookDispatcher {
  private stopped = true;
  private waiting = new Set<() => void>();
  private woken = false;
  private loops: Promise<void>[] = [];

  constructor(private readonly db: Db, private readonly opts: DispatcherOptions) {}

  /**
   * Runs `concurrency` claim-and-send loops. Each polls every intervalMs, and runs again at once
   * when woken (a phase committed in this process) or when its batch was full.
   */
  start(intervalMs: number, concurrency = 4): void {
    this.stopped = false;
    for (let i = 0; i < concurrency; i++) this.loops.push(this.loop(intervalMs));
  }

  private async loop(intervalMs: number): Promise<void> {
    while (!this.stopped) {
      this.woken = false;
      let n = 0;
      try {
        n = await this.runOnce();
      } catch (err) {
        this.opts.logger.warn({ err }, 'webhook dispatch pass failed');
      }
      if (n < this.opts.batch && !this.woken && !this.stopped) {
        await new Promise<void>((resolve) => {
          const done = () => { clearTimeout(timer); this.waiting.delete(done); resolve(); };
          const timer = setTimeout(done, intervalMs);
          this.waiting.add(done);
        });
      }
    }
  }

  wake(): void {
    this.woken = true;
    for (const done of [...this.waiting]) done();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake();
    await Promise.all(this.loops);
    this.loops = [];
  }

  /** Claims due deliveries and sends them; returns how many attempts were made. */
  async runOnce(): Promise<number> {
    const claimed = await this.claim();
    const sent = await Promise.all(claimed.map(async (c) => ({ c, attempt: await this.send(c) })));
    // Successes are recorded together in one statement; failures one by one (they may disable an endpoint).
    const delivered = sent.filter((s) => s.attempt?.outcome === 'delivered');
    if (delivered.length > 0) await this.recordDelivered(delivered.map((s) => ({ c: s.c, attempt: s.attempt! })));
    for (const { c, attempt } of sent) {
      if (attempt && attempt.outcome !== 'delivered') await this.recordFailure(c, attempt);
    }
    for (const { attempt } of sent) if (attempt) this.opts.onAttempt?.(attempt);
    return claimed.length;
  }

  private async claim(): Promise<Claimed[]> {
    const { rows } = await this.db.query<Claimed>(
      `WITH due AS (
         SELECT account_id, event_id, endpoint_id FROM webhook_deliveries
          WHERE status = 'pending' AND next_attempt_at <= now()
          ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED
       ), taken AS (
         UPDATE webhook_deliveries d SET next_attempt_at = now() + make_interval(secs => $2), attempts = d.attempts + 1
           FROM due WHERE d.account_id = due.account_id AND d.event_id = due.event_id AND d.endpoint_id = due.endpoint_id
         RETURNING d.account_id, d.event_id, d.endpoint_id, d.attempts
       )
       SELECT t.*, e.data AS event, w.data AS endpoint, w.secrets,
              (SELECT count(*)::int FROM webhook_deliveries p
                WHERE p.account_id = t.account_id AND p.event_id = t.event_id AND p.status = 'pending') AS pending
         FROM taken t
         JOIN events e ON e.account_id = t.account_id AND e.id = t.event_id
         JOIN webhook_endpoints w ON w.account_id = t.account_id AND w.id = t.endpoint_id`,
      [this.opts.batch, this.opts.leaseMs / 1000],
    );
    return rows;
  }

  /** Sends one delivery; undefined when there is nothing to send (the endpoint went away). */
  private async send(c: Claimed): Promise<DeliveryAttempt | undefined> {
    if (c.endpoint.deleted || c.endpoint.status !== 'enabled') {
      await this.db.query(
        `UPDATE webhook_deliveries SET status = 'canceled' WHERE account_id = $1 AND event_id = $2 AND endpoint_id = $3`,
        [c.account_id, c.event_id, c.endpoint_id]);
      return undefined;
    }
    const started = performance.now();
    const attempt: DeliveryAttempt = {
      id: newId('wha'), object: 'webhook_delivery_attempt', created: nowSeconds(), event: c.event_id,
      event_type: c.event.type, webhook_endpoint: c.endpoint_id, url: c.endpoint.url, attempt: c.attempts,
      outcome: 'failed', status_code: null, latency_ms: 0, response_body_excerpt: null, error: null, next_retry_at: null,
    };
    const refusal = await resolvedRefusal(c.endpoint.url, this.opts.policy);
    if (refusal) {
      attempt.outcome = 'refused';
      attempt.error = `refused to deliver: ${refusal}`;
    } else {
      try {
        const body = JSON.stringify({ ...c.event, pending_webhooks: c.pending });
        const res = await fetch(c.endpoint.url, {
          method: 'POST',
          headers: signedHeaders(activeSecrets(c.secrets), c.event_id, body),
          body,
          redirect: 'manual',
          signal: AbortSignal.timeout(this.opts.timeoutMs),
        });
        attempt.status_code = res.status;
        attempt.response_body_excerpt = await readExcerpt(res);
        if (res.status >= 200 && res.status < 300) attempt.outcome = 'delivered';
      } catch (err) {
        attempt.error = describeFailure(err, this.opts.timeoutMs);
      }
    }
    attempt.latency_ms = Math.round(performance.now() - started);
    return attempt;
  }

  private async recordDelivered(done: { c: Claimed; attempt: DeliveryAttempt }[]): Promise<void> {
    const col = <T>(f: (d: { c: Claimed; attempt: DeliveryAttempt }) => T) => done.map(f);
    await this.db.tx(async (q) => {
      q.write(
        `INSERT INTO webhook_attempts (account_id, id, event_id, endpoint_id, created, data)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::json[])`,
        [col((d) => d.c.account_id), col((d) => d.attempt.id), col((d) => d.c.event_id), col((d) => d.c.endpoint_id),
          col((d) => d.attempt.created), col((d) => JSON.stringify(d.attempt))]);
      q.write(
        `UPDATE webhook_deliveries SET status = 'delivered'
          WHERE (account_id, event_id, endpoint_id) IN (SELECT * FROM unnest($1::text[], $2::text[], $3::text[]))`,
        [col((d) => d.c.account_id), col((d) => d.c.event_id), col((d) => d.c.endpoint_id)]);
      q.write(
        `UPDATE webhook_endpoints SET failing_since = NULL
          WHERE failing_since IS NOT NULL AND (account_id, id) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
        [col((d) => d.c.account_id), col((d) => d.c.endpoint_id)]);
    });
  }

  private async recordFailure(c: Claimed, attempt: DeliveryAttempt): Promise<void> {
    const retryIndex = c.attempts - 1;
    const delay = retryIndex >= this.opts.scheduleMs.length ? undefined : withJitter(this.opts.scheduleMs[retryIndex]);
    if (delay !== undefined) attempt.next_retry_at = nowSeconds() + Math.ceil(delay / 1000);
    await this.db.tx(async (q) => {
      // Lock order: the endpoint row first, then delivery rows (as delete and disabling do), so
      // concurrent failures to one endpoint queue up instead of deadlocking.
      const { rows } = await q.query<{ data: WebhookEndpoint; failing_for_ms: number | null }>(
        `UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, now())
          WHERE account_id = $1 AND id = $2
        RETURNING data, (extract(epoch FROM now() - failing_since) * 1000)::float8 AS failing_for_ms`,
        [c.account_id, c.endpoint_id]);
      deliveryAttempts.insert(q, c.account_id, attempt);
      const key = [c.account_id, c.event_id, c.endpoint_id];
      if (delay === undefined) q.write(`UPDATE webhook_deliveries SET status = 'failed' WHERE account_id = $1 AND event_id = $2 AND endpoint_id = $3`, key);
      else q.write(`UPDATE webhook_deliveries SET next_attempt_at = now() + make_interval(secs => $4) WHERE account_id = $1 AND event_id = $2 AND endpoint_id = $3`, [...key, delay / 1000]);
      const endpoint = rows[0]?.data;
      if (endpoint && endpoint.status === 'enabled' && (rows[0].failing_for_ms ?? 0) >= this.opts.disableAfterMs) {
        const disabled = { ...endpoint, status: 'disabled' as const };
        webhookEndpoints.update(q, c.account_id, disabled);
        q.write(`UPDATE webhook_deliveries SET status = 'canceled' WHERE account_id = $1 AND endpoint_id = $2 AND status = 'pending'`, [c.account_id, c.endpoint_id]);
        emitEvent(q, systemSource(c.account_id), 'webhook_endpoint.disabled', disabled, { status: 'enabled' });
        this.opts.logger.warn({ account: c.account_id, endpoint: c.endpoint_id }, 'webhook endpoint disabled after failing continuously');
      }
    });
  }
}

async function readExcerpt(res: Response): Promise<string | null> {
  if (!res.body) return null;
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < EXCERPT) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.length;
    }
  } catch {
    // A body cut short still leaves the status code, which is what decides the outcome.
  } finally {
    reader.cancel().catch(() => {});
  }
  return Buffer.concat(chunks).subarray(0, EXCERPT).toString('utf8');
}

function describeFailure(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError') return `timed out after ${timeoutMs} ms`;
  const cause = e?.cause?.code ?? e?.cause?.message;
  return cause ? `${e.message}: ${cause}` : String(e?.message ?? err);
}
