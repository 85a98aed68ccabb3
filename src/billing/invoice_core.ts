/**
 * What every invoice flow shares: building an invoice, computing its lines from its items,
 * finalizing it (number, due date), settling it, and the state machine it moves through.
 * Everything runs inside the caller's phase transaction.
 */
import type { Tx, Queryable } from '../store/db.ts';
import { ApiError, invalidRequest, resourceMissing } from '../errors.ts';
import { newId } from '../ids.ts';
import { emitEvent, type EventSource } from '../events/outbox.ts';
import { customers, type Customer } from '../payments/payment_objects.ts';
import { MAX_AMOUNT, formatAmount } from '../schema/money.ts';
import {
  embeddedList, invoiceItems, invoices, type BillingReason, type CollectionMethod, type Invoice, type InvoiceLineItem,
  type InvoiceStatus, type Period,
} from './billing_objects.ts';

// ---- the state machine ------------------------------------------------------------------------

export type InvoiceAction = 'update' | 'delete' | 'finalize' | 'send' | 'pay' | 'void' | 'mark_uncollectible';

/** Stripe's invoice lifecycle: which status each action may start from, and where it leads. */
export const INVOICE_ACTIONS: Readonly<Record<InvoiceAction, { from: readonly InvoiceStatus[]; to: InvoiceStatus | null }>> = {
  update: { from: ['draft'], to: 'draft' },
  delete: { from: ['draft'], to: null },
  finalize: { from: ['draft'], to: 'open' },
  send: { from: ['open'], to: 'open' },
  pay: { from: ['open', 'uncollectible'], to: 'paid' },
  void: { from: ['open', 'uncollectible'], to: 'void' },
  mark_uncollectible: { from: ['open'], to: 'uncollectible' },
};

/** Every status move the API can make (finalizing a zero invoice goes draft -> open -> paid in one call). */
export const INVOICE_TRANSITIONS: Readonly<Record<InvoiceStatus, readonly InvoiceStatus[]>> = {
  draft: ['open'],
  open: ['paid', 'void', 'uncollectible'],
  uncollectible: ['paid', 'void'],
  paid: [],
  void: [],
};

const PHRASES: Record<InvoiceAction, string> = {
  update: 'update', delete: 'delete', finalize: 'finalize', send: 'send', pay: 'pay', void: 'void', mark_uncollectible: 'mark as uncollectible',
};

export function requireInvoiceAction(inv: Invoice, action: InvoiceAction): void {
  const allowed = INVOICE_ACTIONS[action].from;
  if (allowed.includes(inv.status)) return;
  const why = inv.status === 'paid' ? 'it is already paid' : inv.status === 'void' ? 'it has been voided' : `its status is ${inv.status}`;
  throw new ApiError(400, {
    type: 'invalid_request_error',
    code: action === 'update' || action === 'delete' ? 'invoice_not_editable' : 'invoice_unexpected_state',
    message: `You cannot ${PHRASES[action]} invoice ${inv.id} because ${why}; this action is allowed only when the status is ${allowed.join(' or ')}.`,
  });
}

// ---- building and computing -------------------------------------------------------------------

export interface NewInvoice {
  customer: Customer;
  currency: string;
  collectionMethod: CollectionMethod;
  daysUntilDue: number | null;
  dueDate: number | null;
  autoAdvance: boolean;
  billingReason: BillingReason;
  description: string | null;
  metadata: Record<string, string>;
  defaultPaymentMethod: string | null;
  externalId: string | null;
  order: string | null;
  subscription: string | null;
  period: Period;
  now: number;
}

export function buildInvoice(n: NewInvoice): Invoice {
  const id = newId('in');
  return {
    id, object: 'invoice', amount_due: 0, amount_paid: 0, amount_remaining: 0, attempt_count: 0, attempted: false,
    auto_advance: n.autoAdvance, automatically_finalizes_at: n.autoAdvance ? n.now + 3600 : null,
    billing_reason: n.billingReason, collection_method: n.collectionMethod, created: n.now, currency: n.currency,
    customer: n.customer.id, customer_email: n.customer.email, customer_name: n.customer.name,
    days_until_due: n.daysUntilDue, default_payment_method: n.defaultPaymentMethod, description: n.description,
    due_date: n.dueDate, effective_at: null, external_id: n.externalId, hosted_invoice_url: null, last_finalization_error: null,
    lines: embeddedList([], `/v1/invoices/${id}/lines`), livemode: false, metadata: n.metadata, next_payment_attempt: null,
    number: null, order: n.order, paid_out_of_band: false, payment_intent: null,
    period_end: n.period.end, period_start: n.period.start, status: 'draft',
    status_transitions: { finalized_at: null, marked_uncollectible_at: null, paid_at: null, voided_at: null },
    subscription: n.subscription, subtotal: 0, test_clock: n.customer.test_clock, total: 0, webhooks_delivered_at: null,
  };
}

/**
 * Rebuilds a draft's lines and totals from its invoice items (plus `extraLines`, the
 * subscription lines, which have no invoice item).
 */
export async function computeLines(q: Queryable, accountId: string, inv: Invoice, extraLines: InvoiceLineItem[] = []): Promise<void> {
  const { rows } = await q.query<{ data: import('./billing_objects.ts').InvoiceItem }>(
    'SELECT data FROM invoiceitems WHERE account_id = $1 AND invoice = $2 AND NOT deleted ORDER BY seq', [accountId, inv.id]);
  const itemLines: InvoiceLineItem[] = rows.map(({ data: ii }) => ({
    id: `il_${ii.id.slice(3)}`, object: 'line_item', amount: ii.amount, currency: ii.currency, description: ii.description,
    invoice: inv.id, invoice_item: ii.id, livemode: false, metadata: ii.metadata, period: ii.period, price: ii.price,
    quantity: ii.quantity, subscription: null, subscription_item: null, type: 'invoiceitem',
  }));
  const keep = inv.lines.data.filter((l) => l.type === 'subscription');
  const lines = [...(extraLines.length ? extraLines : keep), ...itemLines];
  const total = lines.reduce((s, l) => s + l.amount, 0);
  inv.lines = embeddedList(lines, `/v1/invoices/${inv.id}/lines`);
  inv.subtotal = total;
  inv.total = total;
  inv.amount_due = Math.max(total, 0);
  inv.amount_remaining = Math.max(total - inv.amount_paid, 0);
}

/** Attaches the customer's pending invoice items (no invoice yet) of this currency to a draft. */
export async function attachPendingItems(q: Tx, accountId: string, inv: Invoice): Promise<void> {
  const { rows } = await q.query<{ data: import('./billing_objects.ts').InvoiceItem }>(
    `SELECT data FROM invoiceitems WHERE account_id = $1 AND customer = $2 AND invoice IS NULL AND NOT deleted
        AND data->>'currency' = $3 ORDER BY seq FOR UPDATE`, [accountId, inv.customer, inv.currency]);
  for (const { data: ii } of rows) {
    ii.invoice = inv.id;
    invoiceItems.update(q, accountId, ii);
  }
  // The updates above are deferred: flush them before computing the lines by reading.
  if (rows.length) await q.query('SELECT 1');
}

// ---- finalizing and settling ------------------------------------------------------------------

/**
 * The next invoice number of the account. The counter row stays locked until the finalizing
 * transaction ends, so concurrent finalizations take turns, and a rollback gives the number
 * back: numbers are sequential with no gap and no duplicate.
 */
async function nextInvoiceNumber(q: Tx, accountId: string): Promise<number> {
  const { rows } = await q.query<{ last_number: number }>(
    `INSERT INTO invoice_counters (account_id, last_number) VALUES ($1, 1)
     ON CONFLICT (account_id) DO UPDATE SET last_number = invoice_counters.last_number + 1
     RETURNING last_number`, [accountId]);
  return rows[0].last_number;
}

/**
 * draft -> open: number, due date, finalized_at; a zero invoice is paid at once. Saves the
 * invoice and emits invoice.finalized (and invoice.paid). The caller holds the invoice row lock.
 * `collect: false`: the billing run must not collect it (its creator pays it, or chose not to).
 */
export async function finalizeInvoice(q: Tx, source: EventSource, inv: Invoice, now: number, opts: { autoAdvance?: boolean; collect?: boolean } = {}): Promise<void> {
  requireInvoiceAction(inv, 'finalize');
  if (inv.total < 0) throw invalidRequest(`Invoice ${inv.id} totals ${formatAmount(inv.total, inv.currency)}: an invoice cannot be finalized with a negative total.`, 'invoice');
  if (inv.total > MAX_AMOUNT) throw invalidRequest(`Invoice ${inv.id} totals more than the largest amount a payment may have.`, 'invoice', 'amount_too_large');
  const customer = await customers.get(q, source.accountId, inv.customer);
  const seq = await nextInvoiceNumber(q, source.accountId);
  if (opts.autoAdvance !== undefined) inv.auto_advance = opts.autoAdvance;
  inv.number = `${customer.invoice_prefix}-${String(seq).padStart(4, '0')}`;
  inv.status = 'open';
  inv.automatically_finalizes_at = null;
  inv.status_transitions.finalized_at = now;
  inv.effective_at = now;
  if (inv.collection_method === 'send_invoice' && inv.due_date === null) inv.due_date = now + (inv.days_until_due ?? 30) * 86_400;
  // Collected by the billing run, unless the caller pays it itself (a subscription's first invoice).
  if (inv.collection_method === 'charge_automatically' && inv.auto_advance && inv.amount_remaining > 0 && opts.collect !== false) inv.next_payment_attempt = now;
  const zero = inv.amount_remaining === 0;
  if (zero) markPaid(inv, now);
  invoices.update(q, source.accountId, inv, { number_seq: seq });
  emitEvent(q, source, 'invoice.finalized', inv, { status: 'draft', number: null });
  if (zero) emitPaid(q, source, inv);
}

function markPaid(inv: Invoice, now: number): void {
  inv.amount_paid += inv.amount_remaining;
  inv.amount_remaining = 0;
  inv.status = 'paid';
  inv.attempted = true;
  inv.next_payment_attempt = null;
  inv.status_transitions.paid_at = now;
}

function emitPaid(q: Tx, source: EventSource, inv: Invoice): void {
  emitEvent(q, source, 'invoice.payment_succeeded', inv);
  emitEvent(q, source, 'invoice.paid', inv);
}

/** open|uncollectible -> paid, saving the invoice and emitting invoice.payment_succeeded and invoice.paid. */
export function settleInvoice(q: Tx, source: EventSource, inv: Invoice, now: number, opts: { outOfBand?: boolean } = {}): void {
  const before = inv.status;
  markPaid(inv, now);
  if (opts.outOfBand) inv.paid_out_of_band = true;
  else inv.attempt_count += 1;
  invoices.update(q, source.accountId, inv);
  emitEvent(q, source, 'invoice.updated', inv, { status: before });
  emitPaid(q, source, inv);
}

/** Locks an invoice (not deleted); 404 resource_missing otherwise. */
/** An invoice that exists and is not deleted (a read: no lock), or resource_missing. */
export async function liveInvoice(q: Queryable, accountId: string, id: string): Promise<Invoice> {
  const inv = await invoices.find(q, accountId, id);
  if (!inv || inv.deleted) throw resourceMissing('invoice', id);
  return inv;
}

export async function lockInvoice(q: Tx, accountId: string, id: string, param = 'id'): Promise<Invoice> {
  const inv = await invoices.find(q, accountId, id, { forUpdate: true });
  if (!inv || inv.deleted) throw resourceMissing('invoice', id, param);
  return inv;
}
