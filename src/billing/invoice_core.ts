/**
 * What every invoice flow shares: building an invoice, computing its lines from its items,
 * finalizing it (number, due date), settling it, and the state machine it moves through.
 * Everything runs inside the caller's phase transaction.
 */
import type { Tx, Queryable } from '../store/db.ts';
import { ApiError, invalidRequest, resourceMissing } from '../errors.ts';
import { newId, newPageToken } from '../ids.ts';
import { emitEvent, previousAttributes, type EventSource } from '../events/outbox.ts';
import { customers, type Customer } from '../payments/payment_objects.ts';
import { MAX_AMOUNT, formatAmount } from '../schema/money.ts';
import {
  invoiceList, invoiceItems, invoices, type BillingReason, type CollectionMethod, type Invoice, type InvoiceItem, type InvoiceLineItem,
  type InvoiceStatus, type Period, type Price, type Pricing,
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
  /** Kept beside the invoice by insertInvoice, not in it. */
  daysUntilDue: number | null;
  dueDate: number | null;
  autoAdvance: boolean;
  billingReason: BillingReason;
  description: string | null;
  metadata: Record<string, string>;
  defaultPaymentMethod: string | null;
  externalId: string | null;
  order: string | null;
  /** The subscription billed, with its metadata at the time (parent.subscription_details). */
  subscription: { id: string; metadata: Record<string, string> } | null;
  period: Period;
  now: number;
}

/** The fields a new invoice's creator may set beyond NewInvoice (footer, rendering, ...), all nullable. */
export type InvoiceTerms = Partial<Pick<Invoice, 'custom_fields' | 'footer' | 'rendering' | 'shipping_details' | 'statement_descriptor' | 'effective_at' | 'payment_settings' | 'automatically_finalizes_at' | 'number'>>;

export function buildInvoice(n: NewInvoice, terms: InvoiceTerms = {}): Invoice {
  const id = newId('in');
  return {
    id, object: 'invoice', account_country: null, account_name: null, account_tax_ids: null,
    amount_due: 0, amount_overpaid: 0, amount_paid: 0, amount_paid_off_stripe: 0, amount_remaining: 0, amount_shipping: 0,
    application: null, attempt_count: 0, attempted: false, auto_advance: n.autoAdvance,
    automatic_tax: { disabled_reason: null, enabled: false, liability: null, provider: null, status: null },
    automatically_finalizes_at: n.autoAdvance ? n.now + 3600 : null,
    billing_reason: n.billingReason, collection_method: n.collectionMethod, created: n.now, currency: n.currency,
    custom_fields: null, customer: n.customer.id, customer_account: null, customer_address: null,
    customer_email: n.customer.email, customer_name: n.customer.name, customer_phone: null, customer_shipping: null,
    customer_tax_exempt: 'none', customer_tax_ids: [], default_payment_method: n.defaultPaymentMethod, default_source: null,
    default_tax_rates: [], description: n.description, discounts: [], due_date: n.dueDate, effective_at: null, ending_balance: null,
    external_id: n.externalId, footer: null, from_invoice: null, hosted_invoice_url: null, invoice_pdf: null, issuer: { type: 'self' },
    last_finalization_error: null, latest_revision: null,
    lines: invoiceList([], `/v1/invoices/${id}/lines`), livemode: false, metadata: n.metadata, next_payment_attempt: null,
    number: null, on_behalf_of: null, order: n.order,
    parent: n.subscription ? {
      type: 'subscription_details', quote_details: null,
      subscription_details: { metadata: { ...n.subscription.metadata }, subscription: n.subscription.id },
    } : null,
    payment_settings: { default_mandate: null, payment_method_options: null, payment_method_types: null },
    period_end: n.period.end, period_start: n.period.start,
    post_payment_credit_notes_amount: 0, pre_payment_credit_notes_amount: 0, receipt_number: null, rendering: null,
    shipping_cost: null, shipping_details: null, starting_balance: 0, statement_descriptor: null, status: 'draft',
    status_transitions: { finalized_at: null, marked_uncollectible_at: null, paid_at: null, voided_at: null },
    subtotal: 0, subtotal_excluding_tax: 0, test_clock: n.customer.test_clock, total: 0, total_discount_amounts: [],
    total_excluding_tax: 0, total_pretax_credit_amounts: [], total_taxes: [], webhooks_delivered_at: null,
    ...terms,
  };
}

/** The pricing of a line or an item: its price, or its unit amount alone. */
export const pricingOf = (price: Pick<Price, 'id' | 'product'> | null, unitAmount: number): Pricing => ({
  ...(price ? { price_details: { price: price.id, product: price.product } } : {}),
  type: 'price_details', unit_amount_decimal: String(unitAmount),
});

const NO_PRORATION = { proration: false, proration_details: { credited_items: null } } as const;

/** The line of an invoice that bills an invoice item. */
export function invoiceItemLine(invoiceId: string, ii: InvoiceItem): InvoiceLineItem {
  return {
    id: `il_${ii.id.slice(3)}`, object: 'line_item', amount: ii.amount, currency: ii.currency, description: ii.description,
    discount_amounts: [], discountable: ii.discountable, discounts: [], invoice: invoiceId, livemode: false, metadata: ii.metadata,
    parent: {
      type: 'invoice_item_details', subscription_item_details: null,
      invoice_item_details: { invoice_item: ii.id, ...NO_PRORATION, subscription: null },
    },
    period: ii.period, pretax_credit_amounts: [], pricing: ii.pricing, quantity: ii.quantity, quantity_decimal: String(ii.quantity),
    subscription: null, subtotal: ii.amount, taxes: [],
  };
}

/** The line of an invoice that bills a subscription item for a period. */
export function subscriptionItemLine(invoiceId: string, l: {
  subscription: string; item: { id: string; metadata: Record<string, string>; price: Price; quantity: number }; description: string; period: Period;
}): InvoiceLineItem {
  const amount = l.item.price.unit_amount * l.item.quantity;
  return {
    id: newId('il'), object: 'line_item', amount, currency: l.item.price.currency, description: l.description,
    discount_amounts: [], discountable: true, discounts: [], invoice: invoiceId, livemode: false, metadata: l.item.metadata,
    parent: {
      type: 'subscription_item_details', invoice_item_details: null,
      subscription_item_details: { invoice_item: null, ...NO_PRORATION, subscription: l.subscription, subscription_item: l.item.id },
    },
    period: l.period, pretax_credit_amounts: [], pricing: pricingOf(l.item.price, l.item.price.unit_amount),
    quantity: l.item.quantity, quantity_decimal: String(l.item.quantity), subscription: l.subscription, subtotal: amount, taxes: [],
  };
}

/**
 * Rebuilds a draft's lines and totals from its invoice items (plus `extraLines`, the
 * subscription lines, which have no invoice item).
 */
export async function computeLines(q: Queryable, accountId: string, inv: Invoice, extraLines: InvoiceLineItem[] = []): Promise<void> {
  const { rows } = await q.query<{ data: InvoiceItem }>(
    'SELECT data FROM invoiceitems WHERE account_id = $1 AND invoice = $2 AND NOT deleted ORDER BY seq', [accountId, inv.id]);
  const itemLines = rows.map(({ data: ii }) => invoiceItemLine(inv.id, ii));
  const keep = inv.lines.data.filter((l) => l.parent.type === 'subscription_item_details');
  const lines = [...(extraLines.length ? extraLines : keep), ...itemLines];
  const total = lines.reduce((s, l) => s + l.amount, 0);
  inv.lines = invoiceList(lines, `/v1/invoices/${inv.id}/lines`);
  inv.subtotal = total;
  inv.subtotal_excluding_tax = total;
  inv.total = total;
  inv.total_excluding_tax = total;
  inv.amount_due = Math.max(total, 0);
  inv.amount_remaining = Math.max(total - inv.amount_paid, 0);
}

/** Inserts a new invoice with its terms kept beside it (days_until_due is not a field of the invoice). */
export function insertInvoice(q: Tx, accountId: string, inv: Invoice, daysUntilDue: number | null): void {
  invoices.insert(q, accountId, inv, { days_until_due: daysUntilDue });
}

/** A send_invoice invoice's days_until_due (null: due on its due_date, or charged automatically). */
export async function daysUntilDue(q: Queryable, accountId: string, invoiceId: string): Promise<number | null> {
  const { rows } = await q.query<{ days_until_due: number | null }>('SELECT days_until_due FROM invoices WHERE account_id = $1 AND id = $2', [accountId, invoiceId]);
  return rows[0]?.days_until_due ?? null;
}

/**
 * Attaches the customer's pending invoice items (no invoice yet) of this currency to a draft;
 * returns them, for emitItemsClaimed once the invoice's own event is out.
 */
export async function attachPendingItems(q: Tx, accountId: string, inv: Invoice): Promise<InvoiceItem[]> {
  const { rows } = await q.query<{ data: InvoiceItem }>(
    `SELECT data FROM invoiceitems WHERE account_id = $1 AND customer = $2 AND invoice IS NULL AND NOT deleted
        AND data->>'currency' = $3 ORDER BY seq FOR UPDATE`, [accountId, inv.customer, inv.currency]);
  for (const { data: ii } of rows) {
    ii.invoice = inv.id;
    invoiceItems.update(q, accountId, ii);
  }
  // The updates above are deferred: flush them before computing the lines by reading.
  if (rows.length) await q.query('SELECT 1');
  return rows.map((r) => r.data);
}

/**
 * invoiceitem.updated for items an invoice claimed (or released: `previousInvoice` is what they
 * had), after the invoice's event, as Stripe emitted it (stripe-cli's invoice fixtures show
 * invoice.created, then invoiceitem.updated). Stripe dropped the type from its Event enum on
 * 2023-09-04 and now says nothing; Oncepay keeps it as its own, so that a consumer's mirror of an
 * item learns the invoice it is on.
 */
export function emitItemsClaimed(q: Tx, source: EventSource, items: InvoiceItem[], previousInvoice: string | null = null): void {
  for (const ii of items) emitEvent(q, source, 'invoiceitem.updated', ii, { invoice: previousInvoice });
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
 * Who finalizes an invoice: an event source that knows where browsers reach this server, since
 * finalizing gives the invoice its hosted page (a command's deps, or the billing run's).
 */
export type FinalizingSource = EventSource & { readonly deps: FinalizingDeps };

/** What finalizing needs of a command's deps (BillingDeps has it): where browsers reach this server. */
export interface FinalizingDeps {
  publicUrl(): string;
}

/** The path of an invoice's hosted page by its token (src/web/invoice_page.ts); its PDF is `${path}/pdf`. */
export const invoicePagePath = (token: string) => `/i/${token}`;

/**
 * The token of an invoice's hosted page: random (62^48), kept beside the invoice (url_token,
 * unique), never derived from the invoice id, so knowing an invoice's id opens nothing.
 */

/**
 * draft -> open: number, due date, finalized_at, the hosted page's URL and the PDF's; a zero
 * invoice is paid at once. Saves the invoice and emits invoice.finalized (and invoice.paid). The
 * caller holds the invoice row lock. `collect: false`: the billing run must not collect it (its
 * creator pays it, or chose not to).
 */
export async function finalizeInvoice(q: Tx, source: FinalizingSource, inv: Invoice, now: number, opts: { autoAdvance?: boolean; collect?: boolean } = {}): Promise<void> {
  requireInvoiceAction(inv, 'finalize');
  if (inv.total < 0) throw invalidRequest(`Invoice ${inv.id} totals ${formatAmount(inv.total, inv.currency)}: an invoice cannot be finalized with a negative total.`, 'invoice');
  if (inv.total > MAX_AMOUNT) throw invalidRequest(`Invoice ${inv.id} totals more than the largest amount a payment may have.`, 'invoice', 'amount_too_large');
  // A number the caller chose (number=...) is kept; otherwise the account's sequence gives one.
  const seq = inv.number === null ? await nextInvoiceNumber(q, source.accountId) : null;
  if (opts.autoAdvance !== undefined) inv.auto_advance = opts.autoAdvance;
  if (seq !== null) inv.number = `${(await customers.get(q, source.accountId, inv.customer)).invoice_prefix}-${String(seq).padStart(4, '0')}`;
  inv.status = 'open';
  inv.automatically_finalizes_at = null;
  inv.status_transitions.finalized_at = now;
  inv.effective_at ??= now;
  inv.ending_balance = inv.starting_balance;
  if (inv.collection_method === 'send_invoice' && inv.due_date === null) inv.due_date = now + ((await daysUntilDue(q, source.accountId, inv.id)) ?? 30) * 86_400;
  // Collected by the billing run, unless the caller pays it itself (a subscription's first invoice).
  if (inv.collection_method === 'charge_automatically' && inv.auto_advance && inv.amount_remaining > 0 && opts.collect !== false) inv.next_payment_attempt = now;
  const token = newPageToken();
  inv.hosted_invoice_url = `${source.deps.publicUrl()}${invoicePagePath(token)}`;
  inv.invoice_pdf = `${inv.hosted_invoice_url}/pdf`;
  const zero = inv.amount_remaining === 0;
  if (zero) markPaid(inv, now);
  invoices.update(q, source.accountId, inv, { url_token: token, ...(seq === null ? {} : { number_seq: seq }) });
  emitEvent(q, source, 'invoice.finalized', inv);
  if (zero) emitPaid(q, source, inv, { outOfBand: false });
}

function markPaid(inv: Invoice, now: number): void {
  inv.amount_paid += inv.amount_remaining;
  inv.amount_remaining = 0;
  inv.status = 'paid';
  inv.attempted = true;
  inv.next_payment_attempt = null;
  inv.status_transitions.paid_at = now;
}

/**
 * invoice.paid, then invoice.payment_succeeded for a payment (a $0 invoice counts as one):
 * Stripe's order. An out-of-band payment is invoice.paid alone ("invoice.paid is also emitted
 * for out-of-band payments", stripe-cli#821; payment_succeeded is about a payment attempt).
 */
function emitPaid(q: Tx, source: EventSource, inv: Invoice, opts: { outOfBand: boolean }): void {
  emitEvent(q, source, 'invoice.paid', inv);
  if (!opts.outOfBand) emitEvent(q, source, 'invoice.payment_succeeded', inv);
}

/** open|uncollectible -> paid, saving the invoice: invoice.updated (what changed), then emitPaid's events. */
export function settleInvoice(q: Tx, source: EventSource, inv: Invoice, now: number, opts: { outOfBand?: boolean } = {}): void {
  const before = structuredClone(inv);
  markPaid(inv, now);
  if (opts.outOfBand) inv.amount_paid_off_stripe += inv.amount_paid - before.amount_paid;
  else inv.attempt_count += 1;
  invoices.update(q, source.accountId, inv);
  emitEvent(q, source, 'invoice.updated', inv, previousAttributes(before, inv));
  emitPaid(q, source, inv, { outOfBand: opts.outOfBand === true });
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
