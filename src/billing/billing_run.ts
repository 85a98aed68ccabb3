/**
 * The billing run: everything time makes happen, for one timeline (the wall clock, or one test
 * clock) at one instant. Each step is idempotent on its own, so a run can be repeated, cut off
 * by a crash, or raced by another process, and the outcome is the same:
 *
 * 0. trial warnings: customer.subscription.trial_will_end three days before a trial ends, once;
 * 1. renewals: every subscription whose period ended gets the next period and exactly one
 *    invoice for it (row lock + unique index on subscription and period start), or ends if it
 *    was set to cancel then (cancel_at, cancel_at_period_end); a trial ends into its first paid
 *    period, or as trial_settings say when there is no payment method; incomplete ones expire
 *    after 23 hours;
 * 2. finalization of drafts with auto_advance, an hour after their creation;
 * 3. collection: open charge_automatically invoices with auto_advance that were never attempted
 *    are paid through the idempotency engine under a key derived from the invoice, so the
 *    charge happens once whoever runs it, and a crash mid-payment is resumed like any request;
 * 4. reminders of open send_invoice invoices, at the configured offsets from their due date,
 *    each recorded once (a primary key on invoice and offset) with its message and event.
 */
import type { Logger } from 'pino';
import type { Db, Tx } from '../store/db.ts';
import type { IdempotencyEngine } from '../idempotency/engine.ts';
import { ApiError } from '../errors.ts';
import { SimulatedCrash, type FaultHook } from '../faults.ts';
import { newId, nowSeconds } from '../ids.ts';
import { emitEvent, systemSource } from '../events/outbox.ts';
import { invoices, type Invoice } from './billing_objects.ts';
import { billingNow } from './time.ts';
import { finalizeInvoice, lockInvoice, type FinalizingSource } from './invoice_core.ts';
import { renewSubscription, warnTrialEndingDue, TRIAL_WARNING_SECONDS } from './subscription_renewal.ts';
import { payInvoice, recordMessage } from './invoices.ts';
import { syncSubscriptionPayment } from './subscription_status.ts';
import { countFailedAttempt, lockForSettling } from './invoice_payment.ts';

/** Which timeline a run covers: the wall clock (clock null, every account) or one test clock. */
export interface BillingScope {
  accountId?: string;
  clock: string | null;
}

export interface BillingOptions {
  /** Test-only crash points: `billing.renew:renewed` after each committed renewal (src/faults.ts). */
  faults?: FaultHook;
  /** Reminder times relative to an invoice's due date, in seconds (negative: before it). */
  reminderOffsets: number[];
  logger?: Logger;
  /** Where browsers reach this server: the base of the hosted page of an invoice the run finalizes. */
  publicUrl(): string;
}

interface Due { account_id: string; id: string }

/** Different subscriptions and invoices are independent: a run works on this many at once. */
const PARALLEL = 8;
const PAGE = 500;

/** Runs fn over items, `limit` at a time; returns the sum of what it returns. */
async function sumLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<number>): Promise<number> {
  let next = 0;
  let total = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) total += await fn(items[next++]);
  }));
  return total;
}

export class BillingRun {
  constructor(private readonly db: Db, private readonly engine: Pick<IdempotencyEngine, 'execute'>, private readonly opts: BillingOptions) {}

  /** The run's own event source, which may finalize invoices (and so knows the public URL). */
  private source(accountId: string): FinalizingSource {
    return { ...systemSource(accountId), deps: { publicUrl: this.opts.publicUrl } };
  }

  /** One pass; returns how many things it did. `now` defaults to the scope's time. */
  async run(scope: BillingScope): Promise<number> {
    const now = scope.clock ? await billingNow(this.db, scope.accountId!, scope.clock) : nowSeconds();
    let done = 0;
    done += await this.warnTrials(scope, now);
    done += await this.renew(scope, now);
    done += await this.finalizeDrafts(scope, now);
    done += await this.collect(scope, now);
    done += await this.remind(scope, now);
    return done;
  }

  /**
   * Every row of `table` in the scope matching `where` ($1: account or null, $2: clock or null,
   * $3: now), read in pages along `seq`, so rows that stay due (a step that keeps failing) never
   * hide the ones behind them.
   */
  private async due(table: string, where: string, scope: BillingScope, now: number): Promise<Due[]> {
    const all: Due[] = [];
    for (let after = 0; ;) {
      const { rows } = await this.db.query<Due & { seq: number }>(
        `SELECT account_id, id, seq FROM ${table}
          WHERE ($1::text IS NULL OR account_id = $1) AND test_clock IS NOT DISTINCT FROM $2 AND seq > $4 AND ${where}
          ORDER BY seq LIMIT ${PAGE}`,
        [scope.accountId ?? null, scope.clock, now, after],
      );
      all.push(...rows);
      if (rows.length < PAGE) return all;
      after = rows[rows.length - 1].seq;
    }
  }

  /**
   * customer.subscription.trial_will_end, three days before each trial ends, once per trial end
   * (the event itself is the record: none is emitted twice for one subscription and trial_end).
   * Runs before the renewals, so a clock jumping past the trial's end still warns first.
   */
  private async warnTrials(scope: BillingScope, now: number): Promise<number> {
    const subs = await this.due('subscriptions',
      `status = 'trialing' AND (data->>'trial_end')::bigint - ${TRIAL_WARNING_SECONDS} <= $3
        AND NOT EXISTS (SELECT 1 FROM events e WHERE e.account_id = subscriptions.account_id
                          AND e.type = 'customer.subscription.trial_will_end'
                          AND e.data->'data'->'object'->>'id' = subscriptions.id
                          AND e.data->'data'->'object'->>'trial_end' = subscriptions.data->>'trial_end')`, scope, now);
    return sumLimit(subs, PARALLEL, async (s) => {
      const warned = await this.db.tx((q) => warnTrialEndingDue(q, systemSource(s.account_id), s.id, now)).catch((err) => this.skip(err, s));
      return warned ? 1 : 0;
    });
  }

  private async renew(scope: BillingScope, now: number): Promise<number> {
    let n = 0;
    const subs = await this.due('subscriptions',
      `((status NOT IN ('canceled', 'incomplete_expired', 'incomplete', 'paused')
          AND (current_period_end <= $3 OR (data->>'cancel_at')::bigint <= $3))
        OR (status = 'incomplete' AND (data->>'created')::bigint + 82800 <= $3))`, scope, now);
    for (const s of subs) {
      for (let more = true; more;) {
        const r = await this.db.tx((q) => renewSubscription(q, this.source(s.account_id), s.id, now));
        if (r.invoice) n++;
        this.opts.faults?.hit('billing.renew', 'renewed');
        more = r.more;
      }
    }
    return n;
  }

  private async finalizeDrafts(scope: BillingScope, now: number): Promise<number> {
    const drafts = await this.due('invoices',
      `status = 'draft' AND NOT deleted AND (data->>'automatically_finalizes_at')::bigint <= $3`, scope, now);
    return sumLimit(drafts, PARALLEL, async (d) => {
      const finalized = await this.db.tx(async (q) => {
        const inv = await lockInvoice(q, d.account_id, d.id);
        if (inv.status !== 'draft' || !inv.auto_advance) return false;
        await finalizeInvoice(q, this.source(d.account_id), inv, now);
        return true;
      }).catch((err) => this.skip(err, d));
      return finalized ? 1 : 0;
    });
  }

  private async collect(scope: BillingScope, now: number): Promise<number> {
    const open = await this.due('invoices',
      `status = 'open' AND data->>'collection_method' = 'charge_automatically' AND (data->>'auto_advance')::boolean
        AND (data->>'attempt_count')::int = 0 AND (data->>'next_payment_attempt')::bigint <= $3
        AND data->>'billing_reason' <> 'subscription_create'`, scope, now);
    return sumLimit(open, PARALLEL, async (inv) => {
      try {
        const res = await this.engine.execute({
          accountId: inv.account_id, requestId: newId('req'), key: `oncepay_billing_pay_${inv.id}`, internal: true,
          method: 'POST', path: `/v1/invoices/${inv.id}/pay`, command: payInvoice, params: { invoice: inv.id },
        });
        if (res.status === 400) await this.db.tx((q) => this.failWithoutAttempt(q, inv, res.body));
        return 1;
      } catch (err) {
        this.skip(err, inv);
        return 0;
      }
    });
  }

  /**
   * The payment could not even start (no payment method): the attempt still counts, so the
   * invoice is not retried forever and the subscription goes past due, as after a decline.
   */
  private async failWithoutAttempt(q: Tx, due: Due, body: string): Promise<void> {
    const inv = await lockForSettling(q, due.account_id, due.id);
    if (inv.status !== 'open' || inv.attempt_count > 0) return;
    const source = systemSource(due.account_id);
    countFailedAttempt(q, source, inv);
    await syncSubscriptionPayment(q, source, inv, false);
    this.opts.logger?.info({ invoice: inv.id, reason: safeMessage(body) }, 'automatic invoice payment could not start');
  }

  private async remind(scope: BillingScope, now: number): Promise<number> {
    const offsets = [...new Set(this.opts.reminderOffsets)].sort((a, b) => a - b);
    if (offsets.length === 0) return 0;
    // Invoices with a reminder due and not yet recorded (the offsets are numbers from the configuration).
    const open = await this.due('invoices',
      `status = 'open' AND data->>'collection_method' = 'send_invoice' AND data->>'due_date' IS NOT NULL
        AND EXISTS (SELECT 1 FROM unnest(ARRAY[${offsets.map((o) => Math.trunc(o)).join(',')}]::bigint[]) AS o(offset_seconds)
                     WHERE (data->>'due_date')::bigint + o.offset_seconds <= $3
                       AND NOT EXISTS (SELECT 1 FROM invoice_reminders r
                                        WHERE r.account_id = invoices.account_id AND r.invoice_id = invoices.id
                                          AND r.offset_seconds = o.offset_seconds))`,
      scope, now);
    return sumLimit(open, PARALLEL, (d) => this.db.tx(async (q) => {
        const inv = await lockInvoice(q, d.account_id, d.id);
        if (inv.status !== 'open' || inv.due_date === null) return 0;
        let sent = 0;
        for (const offset of offsets) {
          const at = inv.due_date + offset;
          if (at > now) break;
          // A reminder whose time had passed when the invoice was finalized is recorded as skipped.
          const send = at >= (inv.status_transitions.finalized_at ?? 0);
          const { rows } = await q.query(
            `INSERT INTO invoice_reminders (account_id, invoice_id, offset_seconds, sent) VALUES ($1, $2, $3, $4)
             ON CONFLICT DO NOTHING RETURNING 1`, [d.account_id, inv.id, offset, send]);
          if (rows.length === 0 || !send) continue;
          recordMessage(q, systemSource(d.account_id), inv, { type: 'reminder', subject: reminderSubject(inv, offset), reminder_offset: offset }, 'invoice.reminder', at);
          sent++;
        }
        return sent;
    }).catch((err) => (this.skip(err, d), 0)));
  }

  /** A step another process is doing right now, or that failed: the next pass tries again. */
  private skip(err: unknown, d: Due): false {
    if (err instanceof SimulatedCrash) throw err;
    const busy = err instanceof ApiError && err.status === 409;
    if (!busy) this.opts.logger?.warn({ err, invoice: d.id }, 'billing step failed; the next pass retries it');
    return false;
  }
}

function reminderSubject(inv: Invoice, offset: number): string {
  const days = Math.round(Math.abs(offset) / 86_400);
  if (offset < 0) return `Reminder: invoice ${inv.number} is due in ${days} day${days === 1 ? '' : 's'}`;
  if (offset === 0) return `Reminder: invoice ${inv.number} is due today`;
  return `Reminder: invoice ${inv.number} is ${days} day${days === 1 ? '' : 's'} overdue`;
}

function safeMessage(body: string): string {
  try {
    return (JSON.parse(body) as { error?: { message?: string } }).error?.message ?? body;
  } catch {
    return body;
  }
}
