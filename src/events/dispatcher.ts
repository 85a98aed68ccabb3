/**
 * The webhook dispatcher: turns pending delivery rows into signed POSTs, at least once.
 *
 * Claim (one transaction): take due rows with FOR UPDATE SKIP LOCKED (so several processes share
 * the work without sending one attempt twice), fence each with this claim's lease token and push
 * its next_attempt_at out by the lease; mark any attempt of those deliveries still `pending` as
 * `unknown` (its sender stopped before recording an answer: the lease it held ran out), and write
 * the new attempts as `pending`. So the history shows every attempt that may have reached a
 * receiver, even one a crash cut off.
 * Send, then record at once (a failure in its own transaction; 2xx answers that arrive while
 * one is being written go together in the next statement): the attempt's outcome always; the delivery's
 * new state (delivered, the next retry by the schedule with jitter, or failed once the schedule
 * is spent) only while this claim's lease token is still the delivery's. A process that lost its
 * lease (paused past it, presumed dead) cannot overwrite what the new holder recorded, and an
 * attempt counts against the schedule only once its outcome is recorded: a crash costs at most
 * the attempts in flight (and 2xx answers waiting for that one success write), whose pending
 * rows become unknown; they are sent again when their lease runs out, and not counted.
 * Order: the events of one object go to one endpoint in the order they were created. A claim
 * takes only the head of each (endpoint, object) queue: a delivery waits while an earlier one of
 * its object to its endpoint is pending (in flight, or waiting for a retry), and goes once that
 * one is delivered or given up. Each keeps its own retry schedule; other objects are not held.
 * An endpoint failing continuously for longer than `disableAfterMs` is disabled, and that is
 * itself an event. Nothing is held only in memory: all scheduling lives in the delivery rows.
 */
import type { Logger } from 'pino';
import type { Db, Tx } from '../store/db.ts';
import { newId, nowSeconds, randomId } from '../ids.ts';
import { deliveryAttempts, webhookEndpoints, type DeliveryAttempt, type EndpointSecret, type StripeEvent, type WebhookEndpoint } from './event_objects.ts';
import { activeSecrets } from './endpoints.ts';
import { signedHeaders } from './signing.ts';
import { resolvedRefusal, type UrlPolicy } from './url_safety.ts';
import { emitEvent, systemSource } from './outbox.ts';
import { wireJson } from '../schema/wire_json.ts';
import { commitNotes, noteEndpointsChanged } from './commit_notes.ts';
import { EndpointInterest } from './endpoint_interest.ts';

export interface DispatcherOptions {
  /** Delays before each retry, in order; the delivery fails after the last. */
  scheduleMs: number[];
  timeoutMs: number;
  /** How long a claim owns its deliveries; longer than timeoutMs, so a live sender never loses it. */
  leaseMs: number;
  disableAfterMs: number;
  batch: number;
  policy: UrlPolicy;
  logger: Logger;
  /** Called after every attempt (metrics, tests). */
  onAttempt?: (a: DeliveryAttempt) => void;
  /** Called for every claim statement (metrics: claims per request). */
  onClaim?: () => void;
}

/** Stripe-like: exponential from 1 minute, capped at 12 hours, about three days in all. */
export const DEFAULT_SCHEDULE_MS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 720, 720, 720, 720].map((m) => m * 60_000);

interface Claimed {
  account_id: string;
  event_id: string;
  endpoint_id: string;
  /** Outcomes recorded so far: what the retry schedule has spent. */
  attempts: number;
  /** Attempts made so far, this one included (its number). */
  sent: number;
  /** This claim's fence on the delivery row. */
  lease: string;
  /** The attempt this claim makes, as written at the claim (pending). */
  attempt: DeliveryAttempt;
  event: StripeEvent;
  endpoint: WebhookEndpoint & { deleted?: boolean };
  secrets: EndpointSecret[];
  pending: number;
  /** Later events of the same object wait for this delivery to finish (delivered or given up). */
  queued_behind: boolean;
}

const EXCERPT = 1024;

/** Equal jitter: between 80% and 120% of the scheduled delay, so retries of many events spread out. */
export const withJitter = (ms: number, random = Math.random) => Math.round(ms * (0.8 + 0.4 * random()));

export class WebhookDispatcher {
  private stopped = true;
  private timer: NodeJS.Timeout | undefined;
  private concurrency = 4;
  /** The claim statement in flight: there is never more than one. */
  private claiming: Promise<void> | undefined;
  /** A wake came while a claim was in flight or every sender was busy: claim again once possible. */
  private again = false;
  /** Claimed batches being sent. */
  private sending = new Set<Promise<void>>();
  /** Wakes so far: a delivery that commits while an earlier one of its object is in flight is not claimable yet. */
  private wakes = 0;
  private readonly interest: EndpointInterest;
  /** Successes waiting for the write in flight (see recordDelivered). */
  private delivered: Success[] = [];
  private writingDelivered = false;

  constructor(private readonly db: Db, private readonly opts: DispatcherOptions) {
    this.interest = new EndpointInterest(db);
  }

  /**
   * Polls every intervalMs (deliveries other processes wrote, retries coming due), claims at once
   * when woken, and again at once while claims come back full. One claim statement at a time;
   * up to `concurrency` claimed batches are sent at once.
   */
  start(intervalMs: number, concurrency = 4): void {
    this.stopped = false;
    this.concurrency = concurrency;
    this.timer = setInterval(() => this.wake(), intervalMs);
    this.wake();
  }

  /**
   * A transaction committed in this process: wakes the dispatcher when it may have written
   * deliveries (commit notes: a redelivery, or events of a type an enabled endpoint of their
   * account wants), and not otherwise.
   */
  committed(q: Tx): void {
    const notes = commitNotes(q);
    if (!notes) return;
    for (const account of notes.endpointsChanged) this.interest.forget(account);
    if (notes.deliveries) return this.wake();
    for (const [account, types] of notes.events) {
      const wanted = this.interest.wants(account, types);
      if (wanted) return this.wake();
      if (wanted === undefined) {
        // Not known yet (or forgotten meanwhile): read the account's endpoints, then decide.
        this.interest.load(account).then(
          () => { if (this.interest.wants(account, types) !== false) this.wake(); },
          () => this.wake(),
        );
      }
    }
  }

  /** Claims now, or right after the claim in flight (wakes meanwhile coalesce into one claim). */
  wake(): void {
    if (this.stopped) return;
    this.wakes++;
    if (this.claiming || this.sending.size >= this.concurrency) {
      this.again = true;
      return;
    }
    this.again = false;
    this.claiming = this.claimAndSend().finally(() => {
      this.claiming = undefined;
      if (this.again) this.wake();
    });
  }

  private async claimAndSend(): Promise<void> {
    const wakes = this.wakes;
    let claimed: Claimed[];
    try {
      claimed = await this.claim();
    } catch (err) {
      this.opts.logger.warn({ err }, 'webhook dispatch pass failed');
      return;
    }
    if (claimed.length === 0) return;
    // A full batch: more may be due.
    if (claimed.length >= this.opts.batch) this.again = true;
    const batch: Promise<void> = this.sendAll(claimed, wakes)
      .catch((err) => { this.opts.logger.warn({ err }, 'webhook dispatch pass failed'); })
      .finally(() => {
        this.sending.delete(batch);
        if (this.again) this.wake();
      });
    this.sending.add(batch);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
    await this.claiming;
    await Promise.all([...this.sending]);
    this.again = false;
  }

  /** Claims due deliveries and sends them, recording each outcome as soon as it is known; returns how many were claimed. */
  async runOnce(): Promise<number> {
    const wakes = this.wakes;
    const claimed = await this.claim();
    await this.sendAll(claimed, wakes);
    return claimed.length;
  }

  /** Sends a claim's deliveries; `wakes` is the wake count when it was claimed. */
  private async sendAll(claimed: Claimed[], wakes: number): Promise<void> {
    await Promise.all(claimed.map(async (c) => {
      const attempt = await this.send(c);
      if (!attempt) return;
      if (attempt.outcome === 'delivered') await this.recordDelivered(c, attempt);
      else await this.recordFailure(c, attempt);
      this.opts.onAttempt?.(attempt);
      // The next event of this object is now due: claim it without waiting for the poll. Known
      // at the claim (queued_behind), or maybe committed since (any wake since the claim: a claim
      // meanwhile found it behind this one).
      if (attempt.outcome === 'delivered' && (c.queued_behind || this.wakes > wakes)) this.wake();
    }));
  }

  /**
   * One statement (one round trip, atomic by itself): take due rows, fence them with this
   * claim's lease, turn their abandoned `pending` attempts into `unknown`, and write the new
   * attempts as `pending`, with ids drawn here.
   */
  private async claim(): Promise<Claimed[]> {
    this.opts.onClaim?.();
    const lease = randomId(16);
    const ids = Array.from({ length: this.opts.batch }, () => newId('wha'));
    const { rows } = await this.db.query<Omit<Claimed, 'attempt'> & { attempt_id: string; attempt_created: number }>(
      `WITH due AS (
         SELECT account_id, event_id, endpoint_id, object_id, seq FROM webhook_deliveries d
          WHERE status = 'pending' AND next_attempt_at <= now()
            -- One object's events go to one endpoint in order: only the head of its queue.
            AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p
                             WHERE p.account_id = d.account_id AND p.endpoint_id = d.endpoint_id
                               AND p.object_id = d.object_id AND p.status = 'pending' AND p.seq < d.seq)
          ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED
       ), taken AS (
         UPDATE webhook_deliveries d SET next_attempt_at = now() + make_interval(secs => $2), sent = d.sent + 1, lease_token = $3
           FROM due WHERE d.account_id = due.account_id AND d.event_id = due.event_id AND d.endpoint_id = due.endpoint_id
         RETURNING d.account_id, d.event_id, d.endpoint_id, d.object_id, d.seq, d.attempts, d.sent, d.lease_token AS lease
       ), claimed AS (
         SELECT t.account_id, t.event_id, t.endpoint_id, t.attempts, t.sent, t.lease, e.data AS event, w.data AS endpoint, w.secrets,
                EXISTS (SELECT 1 FROM webhook_deliveries n
                         WHERE n.account_id = t.account_id AND n.endpoint_id = t.endpoint_id
                           AND n.object_id = t.object_id AND n.status = 'pending' AND n.seq > t.seq) AS queued_behind,
                (SELECT count(*)::int FROM webhook_deliveries p
                  WHERE p.account_id = t.account_id AND p.event_id = t.event_id AND p.status = 'pending') AS pending,
                ($4::text[])[row_number() OVER ()] AS attempt_id, $5::bigint AS attempt_created
           FROM taken t
           JOIN events e ON e.account_id = t.account_id AND e.id = t.event_id
           JOIN webhook_endpoints w ON w.account_id = t.account_id AND w.id = t.endpoint_id
       ), abandoned AS (
         -- Whoever held these deliveries before let its lease run out without an answer: its
         -- attempts in flight may have reached the receiver, and stay in the history as unknown.
         UPDATE webhook_attempts a SET outcome = 'unknown', data = ${attemptJson((f) => (f === 'outcome' ? `'unknown'` : f === 'error' ? `'${UNKNOWN_ERROR}'` : `a.data->'${f}'`))}
           FROM claimed c
          WHERE a.outcome = 'pending' AND a.account_id = c.account_id AND a.event_id = c.event_id AND a.endpoint_id = c.endpoint_id
       ), sent AS (
         INSERT INTO webhook_attempts (account_id, id, event_id, endpoint_id, created, outcome, data)
         SELECT account_id, attempt_id, event_id, endpoint_id, attempt_created, 'pending', ${attemptJson(newAttemptSql)}
           FROM claimed WHERE endpoint->>'status' = 'enabled' AND (endpoint->>'deleted') IS DISTINCT FROM 'true'
       )
       SELECT * FROM claimed`,
      [this.opts.batch, this.opts.leaseMs / 1000, lease, ids, nowSeconds()],
    );
    return rows.map(({ attempt_id, attempt_created, ...c }) => ({ ...c, attempt: newAttempt(c, attempt_id, attempt_created) }));
  }

  /** Sends one delivery; undefined when there is nothing to send (the endpoint went away). */
  private async send(c: Claimed): Promise<DeliveryAttempt | undefined> {
    if (c.endpoint.deleted || c.endpoint.status !== 'enabled') {
      await this.db.query(
        `UPDATE webhook_deliveries SET status = 'canceled', lease_token = NULL WHERE account_id = $1 AND event_id = $2 AND endpoint_id = $3 AND lease_token = $4`,
        [c.account_id, c.event_id, c.endpoint_id, c.lease]);
      return undefined;
    }
    const started = performance.now();
    const attempt: DeliveryAttempt = { ...c.attempt, outcome: 'failed' };
    const refusal = await resolvedRefusal(c.endpoint.url, this.opts.policy);
    if (refusal) {
      attempt.outcome = 'refused';
      attempt.error = `refused to deliver: ${refusal}`;
    } else {
      try {
        const body = wireJson({ ...c.event, pending_webhooks: c.pending });
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

  /**
   * Records a 2xx at once: written now if no success is being written, else with the others that
   * arrived meanwhile, in the next statement (group commit: no outcome waits for a send, only
   * for the one write ahead of it, and under load one statement carries many).
   */
  private recordDelivered(c: Claimed, attempt: DeliveryAttempt): Promise<void> {
    return new Promise((resolve, reject) => {
      this.delivered.push({ c, attempt, resolve, reject });
      if (!this.writingDelivered) void this.writeDelivered();
    });
  }

  private async writeDelivered(): Promise<void> {
    this.writingDelivered = true;
    while (this.delivered.length > 0) {
      const done = this.delivered.splice(0);
      try {
        await this.db.tx(async (q) => writeSuccesses(q, done));
        for (const d of done) d.resolve();
      } catch (err) {
        for (const d of done) d.reject(err);
      }
    }
    this.writingDelivered = false;
  }

  private async recordFailure(c: Claimed, attempt: DeliveryAttempt): Promise<void> {
    // This outcome is the (attempts + 1)-th counted one; the schedule's delay after it is at index attempts.
    const delay = c.attempts >= this.opts.scheduleMs.length ? undefined : withJitter(this.opts.scheduleMs[c.attempts]);
    if (delay !== undefined) attempt.next_retry_at = nowSeconds() + Math.ceil(delay / 1000);
    let committed: Tx | undefined;
    await this.db.tx(async (q) => {
      committed = q;
      // Lock order: the endpoint row first, then delivery rows (as delete and disabling do), so
      // concurrent failures to one endpoint queue up instead of deadlocking.
      const { rows } = await q.query<{ data: WebhookEndpoint; failing_for_ms: number | null }>(
        `UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, now())
          WHERE account_id = $1 AND id = $2
        RETURNING data, (extract(epoch FROM now() - failing_since) * 1000)::float8 AS failing_for_ms`,
        [c.account_id, c.endpoint_id]);
      const fenced = await q.query(
        `UPDATE webhook_deliveries SET attempts = attempts + 1, lease_token = NULL,
                status = CASE WHEN $5::float8 IS NULL THEN 'failed' ELSE status END,
                next_attempt_at = CASE WHEN $5::float8 IS NULL THEN next_attempt_at ELSE now() + make_interval(secs => $5::float8) END
          WHERE account_id = $1 AND event_id = $2 AND endpoint_id = $3 AND lease_token = $4`,
        [c.account_id, c.event_id, c.endpoint_id, c.lease, delay === undefined ? null : delay / 1000]);
      // Lost the lease: another process owns the delivery now and decides what happens next.
      if (fenced.rowCount === 0) attempt.next_retry_at = null;
      deliveryAttempts.update(q, c.account_id, attempt);
      if (fenced.rowCount === 0) return;
      const endpoint = rows[0]?.data;
      if (endpoint && endpoint.status === 'enabled' && (rows[0].failing_for_ms ?? 0) >= this.opts.disableAfterMs) {
        const disabled = { ...endpoint, status: 'disabled' as const };
        webhookEndpoints.update(q, c.account_id, disabled);
        noteEndpointsChanged(q, c.account_id);
        q.write(`UPDATE webhook_deliveries SET status = 'canceled' WHERE account_id = $1 AND endpoint_id = $2 AND status = 'pending'`, [c.account_id, c.endpoint_id]);
        emitEvent(q, systemSource(c.account_id), 'webhook_endpoint.disabled', disabled, { status: 'enabled' });
        this.opts.logger.warn({ account: c.account_id, endpoint: c.endpoint_id }, 'webhook endpoint disabled after failing continuously');
      }
    });
    if (committed) this.committed(committed);
  }
}

interface Success {
  c: Claimed;
  attempt: DeliveryAttempt;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * The outcomes of 2xx attempts, and each delivery delivered while its claim still holds the
 * lease (a delivery another process took over is left to that one). The endpoint rows first
 * (when they were failing), then the deliveries: the lock order of failures, disabling and
 * deletion.
 */
function writeSuccesses(q: Tx, done: Success[]): void {
  const col = <T>(f: (d: Success) => T) => done.map(f);
  q.write(
    `UPDATE webhook_endpoints SET failing_since = NULL
      WHERE failing_since IS NOT NULL AND (account_id, id) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
    [col((d) => d.c.account_id), col((d) => d.c.endpoint_id)]);
  q.write(
    `UPDATE webhook_attempts a SET outcome = 'delivered', data = u.data
       FROM unnest($1::text[], $2::text[], $3::json[]) AS u(account_id, id, data)
      WHERE a.account_id = u.account_id AND a.id = u.id`,
    [col((d) => d.c.account_id), col((d) => d.attempt.id), col((d) => JSON.stringify(d.attempt))]);
  q.write(
    `UPDATE webhook_deliveries d SET status = 'delivered', attempts = d.attempts + 1, lease_token = NULL
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS u(account_id, event_id, endpoint_id, lease)
      WHERE d.account_id = u.account_id AND d.event_id = u.event_id AND d.endpoint_id = u.endpoint_id AND d.lease_token = u.lease`,
    [col((d) => d.c.account_id), col((d) => d.c.event_id), col((d) => d.c.endpoint_id), col((d) => d.c.lease)]);
}

/** The attempt a claim is about to make, as written when it is sent (pending). */
function newAttempt(c: Omit<Claimed, 'attempt'>, id: string, created: number): DeliveryAttempt {
  return {
    id, object: 'webhook_delivery_attempt', created, event: c.event_id,
    event_type: c.event.type, webhook_endpoint: c.endpoint_id, url: c.endpoint.url, attempt: c.sent,
    outcome: 'pending', status_code: null, latency_ms: 0, response_body_excerpt: null, error: null, next_retry_at: null,
  };
}

/** An attempt's fields, in the order its JSON lists them (the order newAttempt writes). */
const ATTEMPT_FIELDS: readonly (keyof DeliveryAttempt)[] = [
  'id', 'object', 'created', 'event', 'event_type', 'webhook_endpoint', 'url', 'attempt', 'outcome', 'status_code',
  'latency_ms', 'response_body_excerpt', 'error', 'next_retry_at',
];

const UNKNOWN_ERROR = 'the process sending it stopped before the answer was recorded; sent again, not counted';

/** An attempt as SQL json (json, not jsonb, so its keys keep their order), each field's value from `value`. */
function attemptJson(value: (field: keyof DeliveryAttempt) => string): string {
  return `json_build_object(${ATTEMPT_FIELDS.map((f) => `'${f}', ${value(f)}`).join(', ')})`;
}

/** newAttempt's values, from the claim statement's `claimed` rows. */
function newAttemptSql(f: keyof DeliveryAttempt): string {
  switch (f) {
    case 'id': return 'attempt_id';
    case 'object': return `'webhook_delivery_attempt'`;
    case 'created': return 'attempt_created';
    case 'event': return 'event_id';
    case 'event_type': return `event->>'type'`;
    case 'webhook_endpoint': return 'endpoint_id';
    case 'url': return `endpoint->>'url'`;
    case 'attempt': return 'sent';
    case 'outcome': return `'pending'`;
    case 'latency_ms': return '0';
    default: return 'NULL';
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
