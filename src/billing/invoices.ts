/**
 * Invoices as commands: create, update (draft), delete (draft), finalize, send, pay, void,
 * mark_uncollectible. Each is one phase, except a card payment (begin, authorize, record: see
 * invoice_payment.ts).
 */
import type { Command, CommandContext } from '../idempotency/engine.ts';
import type { Tx } from '../store/db.ts';
import { ApiError, invalidRequest } from '../errors.ts';
import { newId, nowSeconds } from '../ids.ts';
import {
  boolean, clearable, currency, enumOf, expandParam, integer, metadata, nonEmptyString, object, optional, string, unsupported, type ParsedObject,
} from '../schema/params.ts';
import { emitEvent, previousAttributes, saveIfChanged, type EventSource } from '../events/outbox.ts';
import { customers } from '../payments/payment_objects.ts';
import { applyMetadata } from '../schema/metadata.ts';
import { render, type PaymentContext, type PaymentDeps } from '../payments/ports.ts';
import { liveCustomer } from '../payments/customers.ts';
import { authorize, checkPaymentMethod } from '../payments/payment_intents.ts';
import { requirePaymentMethod } from '../payments/payment_method_use.ts';
import { claimExternalId, existingObject, payloadFingerprint } from '../payments/external_ids.ts';
import { invoiceItems, invoiceMessages, invoices, orders, type Invoice, type InvoiceItem, type InvoiceMessage } from './billing_objects.ts';
import { attachPendingItems, buildInvoice, computeLines, daysUntilDue, emitItemsClaimed, finalizeInvoice, insertInvoice, lockInvoice, pricingOf, requireInvoiceAction, type FinalizingDeps } from './invoice_core.ts';
import { applyInvoiceTerms, invoiceCreateOnlyParams, invoiceTermParams } from './invoice_params.ts';
import { abandonWaitingIntent, beginInvoicePayment, finishInvoicePayment, payOutOfBand, paymentResponse, requireNoPaymentInFlight } from './invoice_payment.ts';
import { billingNow } from './time.ts';

const collectionMethod = () => enumOf(['charge_automatically', 'send_invoice'] as const);
const daysParam = () => integer({ min: 0, max: 3650 });

export const createInvoiceParams = object({
  customer: nonEmptyString(255),
  collection_method: optional(collectionMethod()),
  days_until_due: optional(daysParam()),
  due_date: optional(integer({ min: 0 })),
  auto_advance: optional(boolean()),
  currency: optional(currency()),
  description: optional(string({ max: 1500 })),
  metadata: optional(metadata()),
  default_payment_method: optional(nonEmptyString(255)),
  pending_invoice_items_behavior: optional(enumOf(['exclude', 'include'] as const)),
  order: optional(nonEmptyString(255)),
  external_id: optional(nonEmptyString(255)),
  ...invoiceTermParams,
  ...invoiceCreateOnlyParams,
  expand: expandParam(),
});

export const updateInvoiceParams = object({
  invoice: nonEmptyString(255),
  collection_method: optional(collectionMethod()),
  days_until_due: clearable(daysParam()),
  due_date: clearable(integer({ min: 0 })),
  auto_advance: optional(boolean()),
  description: clearable(string({ max: 1500 })),
  metadata: optional(metadata()),
  default_payment_method: clearable(nonEmptyString(255)),
  ...invoiceTermParams,
  expand: expandParam(),
});

const invoiceOnly = object({ invoice: nonEmptyString(255), expand: expandParam() });
export const deleteInvoiceParams = object({ invoice: nonEmptyString(255) });
export const finalizeInvoiceParams = object({ invoice: nonEmptyString(255), auto_advance: optional(boolean()), expand: expandParam() });
export const sendInvoiceParams = invoiceOnly;
export const voidInvoiceParams = invoiceOnly;
export const markUncollectibleParams = invoiceOnly;
export const payInvoiceParams = object({
  invoice: nonEmptyString(255),
  paid_out_of_band: optional(boolean()),
  payment_method: optional(nonEmptyString(255)),
  off_session: optional(boolean()),
  forgive: optional(boolean()),
  mandate: unsupported('Oncepay has no mandates: invoices are paid by card.'),
  source: unsupported('Oncepay has no sources (the legacy card objects): pass payment_method.'),
  expand: expandParam(),
});

type CreateParams = ParsedObject<typeof createInvoiceParams.shape>;
type UpdateParams = ParsedObject<typeof updateInvoiceParams.shape>;
type PayParams = ParsedObject<typeof payInvoiceParams.shape>;

/** Collection method, due date and days until due must agree (Stripe's rules). */
function checkCollection(method: string, days: number | null | undefined, due: number | null | undefined, param: string): void {
  if (method === 'charge_automatically') {
    if (days != null) throw invalidRequest('Invoices with collection_method=charge_automatically cannot have days_until_due: they are charged, not sent.', 'days_until_due');
    if (due != null) throw invalidRequest('Invoices with collection_method=charge_automatically cannot have a due_date: they are charged, not sent.', 'due_date');
  } else {
    if (days != null && due != null) throw invalidRequest('You may only specify one of these parameters: days_until_due, due_date.', 'due_date', 'parameters_exclusive');
    if (days == null && due == null) throw invalidRequest(`Missing required param: days_until_due (or due_date) for collection_method=send_invoice.`, param, 'parameter_missing');
  }
}

export function checkCreateInvoice(p: CreateParams): void {
  checkCollection(p.collection_method ?? 'charge_automatically', p.days_until_due, p.due_date, 'days_until_due');
  if (p.default_payment_method) checkPaymentMethod(p.default_payment_method, 'default_payment_method');
}

export function checkPayInvoice(p: PayParams): void {
  if (p.paid_out_of_band && p.payment_method) throw invalidRequest('You cannot pass payment_method with paid_out_of_band=true: an out-of-band payment moves no money here.', 'payment_method', 'parameters_exclusive');
  if (p.payment_method) checkPaymentMethod(p.payment_method);
}

/** Stripe's refusal of a send_invoice invoice for a customer it cannot send to (its wording). */
const missingEmail = () => invalidRequest('Missing email. In order to create invoices that are sent to the customer, the customer must have a valid email.', 'customer');

/** Records a message in the invoice's outbox, with the event that announces it. */
export function recordMessage(q: Tx, source: EventSource, inv: Invoice, m: Pick<InvoiceMessage, 'type' | 'subject' | 'reminder_offset'>, eventType: string, now: number): void {
  const event = emitEvent(q, source, eventType, inv);
  const message: InvoiceMessage = {
    id: newId('imsg'), object: 'invoice_message', created: now, invoice: inv.id, to: inv.customer_email, event: event.id, ...m,
  };
  invoiceMessages.insert(q, source.accountId, message);
}

type InvoiceCommand<P> = Command<P, PaymentDeps & FinalizingDeps>;

export const createInvoice: InvoiceCommand<CreateParams> = {
  name: 'invoices.create',
  run: (ctx, p) => ctx.finish('create', async (q) => {
    const id = newId('in');
    if (p.external_id) {
      const existing = await claimExternalId(q, ctx.accountId, 'invoice', p.external_id, id, payloadFingerprint(p), ctx.idempotencyKey);
      if (existing) return { status: 200, body: await render(q, ctx, await existingObject(q, ctx.accountId, invoices, existing, p.external_id), p.expand) };
    }
    const customer = await liveCustomer(q, ctx.accountId, p.customer, { param: 'customer' });
    if (p.default_payment_method) await requirePaymentMethod(q, ctx.accountId, p.default_payment_method, 'default_payment_method', customer.id);
    const order = p.order ? await orders.get(q, ctx.accountId, p.order, { param: 'order' }) : undefined;
    const cur = p.currency ?? order?.currency ?? customer.currency ?? 'usd';
    if (order) {
      if (p.pending_invoice_items_behavior === 'include') {
        throw invalidRequest(`An invoice for order ${order.id} bills what the order still owes, and nothing else: it cannot include pending invoice items.`, 'pending_invoice_items_behavior');
      }
      if (order.currency !== cur) throw invalidRequest(`Order ${order.id} is in ${order.currency}, not ${cur}.`, 'currency');
      if (order.status === 'canceled' || order.amount_remaining === 0) {
        throw invalidRequest(`Order ${order.id} has nothing left to pay (its status is ${order.status}).`, 'order');
      }
    }
    const now = await billingNow(q, ctx.accountId, customer.test_clock);
    const method = p.collection_method ?? 'charge_automatically';
    if (method === 'send_invoice' && !customer.email) throw missingEmail();
    const inv = { ...buildInvoice({
      customer, currency: cur, collectionMethod: method, daysUntilDue: p.days_until_due ?? null, dueDate: p.due_date ?? null,
      autoAdvance: p.auto_advance ?? false, billingReason: 'manual', description: p.description ?? null,
      metadata: applyMetadata({}, p.metadata ?? {}), defaultPaymentMethod: p.default_payment_method ?? null,
      externalId: p.external_id ?? null, order: order?.id ?? null, subscription: null, period: { start: now, end: now }, now,
    }), id };
    inv.lines.url = `/v1/invoices/${id}/lines`;
    applyInvoiceTerms(inv, p);
    const claimed = p.pending_invoice_items_behavior === 'include' ? await attachPendingItems(q, ctx.accountId, inv) : [];
    if (order) {
      // The invoice bills what the order still owes, as one item.
      const item: InvoiceItem = {
        id: newId('ii'), object: 'invoiceitem', amount: order.amount_remaining, created: now, currency: cur, customer: customer.id,
        customer_account: null, date: now, description: order.description ?? `Order ${order.id}`, discountable: false, discounts: [],
        external_id: null, invoice: id, livemode: false, metadata: {}, parent: null, period: { start: now, end: now },
        pricing: pricingOf(null, order.amount_remaining), proration: false, quantity: 1, quantity_decimal: '1', tax_rates: [],
        test_clock: customer.test_clock,
      };
      invoiceItems.insert(q, ctx.accountId, item);
      emitEvent(q, ctx, 'invoiceitem.created', item);
    }
    await computeLines(q, ctx.accountId, inv);
    insertInvoice(q, ctx.accountId, inv, p.days_until_due ?? null);
    emitEvent(q, ctx, 'invoice.created', inv);
    emitItemsClaimed(q, ctx, claimed);
    return { status: 200, body: await render(q, ctx, inv, p.expand) };
  }),
};

export const updateInvoice: InvoiceCommand<UpdateParams> = {
  name: 'invoices.update',
  run: (ctx, p) => ctx.finish('update', async (q) => {
    const inv = await lockInvoice(q, ctx.accountId, p.invoice);
    const before = structuredClone(inv);
    // A finalized invoice keeps its terms: only its description (while collectible) and metadata change.
    const draftOnly = ([
      'collection_method', 'days_until_due', 'due_date', 'default_payment_method', 'auto_advance', 'number', 'effective_at',
      'automatically_finalizes_at', 'custom_fields', 'footer', 'statement_descriptor', 'rendering', 'shipping_details', 'payment_settings',
    ] as const).filter((k) => p[k] !== undefined);
    const locked = inv.status === 'draft' ? [] : inv.status === 'paid' || inv.status === 'void' ? [...draftOnly, ...(p.description !== undefined ? ['description'] : [])] : draftOnly;
    if (locked.length > 0) {
      throw new ApiError(400, {
        type: 'invalid_request_error', code: 'invoice_not_editable', param: locked[0],
        message: `Invoice ${inv.id} is ${inv.status}: ${locked[0]} can be changed only while it is a draft.`,
      });
    }
    if (p.collection_method !== undefined) inv.collection_method = p.collection_method;
    // One of the two terms replaces the other: setting one clears the one not passed.
    const daysBefore = await daysUntilDue(q, ctx.accountId, inv.id);
    let days = daysBefore;
    if (p.days_until_due !== undefined) {
      days = p.days_until_due;
      if (p.due_date === undefined && p.days_until_due !== null) inv.due_date = null;
    }
    if (p.due_date !== undefined) {
      inv.due_date = p.due_date;
      if (p.days_until_due === undefined && p.due_date !== null) days = null;
    }
    if (p.collection_method === 'charge_automatically') {
      if (p.days_until_due === undefined) days = null;
      if (p.due_date === undefined) inv.due_date = null;
    }
    if (p.collection_method !== undefined || p.days_until_due !== undefined || p.due_date !== undefined) {
      checkCollection(inv.collection_method, days, inv.due_date, 'days_until_due');
    }
    if (p.collection_method === 'send_invoice' && !inv.customer_email && !(await customers.get(q, ctx.accountId, inv.customer)).email) throw missingEmail();
    if (p.auto_advance !== undefined) {
      inv.auto_advance = p.auto_advance;
      inv.automatically_finalizes_at = p.auto_advance ? inv.created + 3600 : null;
    }
    if (p.default_payment_method) {
      checkPaymentMethod(p.default_payment_method, 'default_payment_method');
      await requirePaymentMethod(q, ctx.accountId, p.default_payment_method, 'default_payment_method', inv.customer);
    }
    if (p.default_payment_method !== undefined) inv.default_payment_method = p.default_payment_method;
    if (p.description !== undefined) inv.description = p.description;
    if (p.metadata !== undefined) inv.metadata = applyMetadata(inv.metadata, p.metadata);
    applyInvoiceTerms(inv, p);
    if (days === daysBefore) saveIfChanged(q, ctx, invoices, before, inv, 'invoice.updated');
    else {
      invoices.update(q, ctx.accountId, inv, { days_until_due: days });
      emitEvent(q, ctx, 'invoice.updated', inv, previousAttributes(before, inv));
    }
    return { status: 200, body: await render(q, ctx, inv, p.expand) };
  }),
};

export const deleteInvoice: InvoiceCommand<ParsedObject<typeof deleteInvoiceParams.shape>> = {
  name: 'invoices.delete',
  run: (ctx, p) => ctx.finish('delete', async (q) => {
    const inv = await lockInvoice(q, ctx.accountId, p.invoice);
    requireInvoiceAction(inv, 'delete');
    // Its items go back to pending, to be billed by a later invoice; but an order's invoice item
    // is the order's bill and goes with it (a later invoice would charge it without paying the order).
    const { rows } = await q.query<{ data: InvoiceItem }>(
      'SELECT data FROM invoiceitems WHERE account_id = $1 AND invoice = $2 AND NOT deleted ORDER BY seq FOR UPDATE', [ctx.accountId, inv.id]);
    q.write(inv.order
      ? 'UPDATE invoiceitems SET deleted = true, data = (data::jsonb || \'{"deleted": true}\'::jsonb)::json WHERE account_id = $1 AND invoice = $2'
      : 'UPDATE invoiceitems SET invoice = NULL, data = (data::jsonb || \'{"invoice": null}\'::jsonb)::json WHERE account_id = $1 AND invoice = $2',
    [ctx.accountId, inv.id]);
    invoices.update(q, ctx.accountId, { ...inv, deleted: true });
    emitEvent(q, ctx, 'invoice.deleted', inv);
    const items = rows.map((r) => r.data);
    if (inv.order) for (const ii of items) emitEvent(q, ctx, 'invoiceitem.deleted', ii);
    else emitItemsClaimed(q, ctx, items.map((ii) => ({ ...ii, invoice: null })), inv.id);
    return { status: 200, body: { id: inv.id, object: 'invoice', deleted: true } };
  }),
};

export const finalizeInvoiceCommand: InvoiceCommand<ParsedObject<typeof finalizeInvoiceParams.shape>> = {
  name: 'invoices.finalize',
  run: (ctx, p) => ctx.finish('finalize', async (q) => {
    const inv = await lockInvoice(q, ctx.accountId, p.invoice);
    const now = await billingNow(q, ctx.accountId, inv.test_clock);
    await finalizeInvoice(q, ctx, inv, now, { autoAdvance: p.auto_advance });
    return { status: 200, body: await render(q, ctx, inv, p.expand) };
  }),
};

export const sendInvoice: InvoiceCommand<ParsedObject<typeof sendInvoiceParams.shape>> = {
  name: 'invoices.send',
  run: (ctx, p) => ctx.finish('send', async (q) => {
    const inv = await lockInvoice(q, ctx.accountId, p.invoice);
    requireInvoiceAction(inv, 'send');
    if (!inv.customer_email) {
      const customer = await customers.get(q, ctx.accountId, inv.customer);
      if (!customer.email) throw invalidRequest(`Invoice ${inv.id} cannot be sent: customer ${customer.id} has no email address. Set the customer's email first.`, 'invoice');
      inv.customer_email = customer.email;
      invoices.update(q, ctx.accountId, inv);
    }
    const now = await billingNow(q, ctx.accountId, inv.test_clock);
    recordMessage(q, ctx, inv, { type: 'invoice', subject: `Invoice ${inv.number}`, reminder_offset: null }, 'invoice.sent', now);
    return { status: 200, body: await render(q, ctx, inv, p.expand) };
  }),
};

/** void and mark_uncollectible: a status change with a timestamp and its event. */
const closeAs = (name: string, action: 'void' | 'mark_uncollectible', status: 'void' | 'uncollectible', stamp: 'voided_at' | 'marked_uncollectible_at', eventType: string): InvoiceCommand<{ invoice: string; expand?: string[] }> => ({
  name,
  run: (ctx, p) => ctx.finish(action, async (q) => {
    const inv = await lockInvoice(q, ctx.accountId, p.invoice);
    requireInvoiceAction(inv, action);
    await abandonWaitingIntent(q, ctx, await requireNoPaymentInFlight(q, ctx.accountId, inv), nowSeconds());
    inv.status = status;
    inv.status_transitions[stamp] = await billingNow(q, ctx.accountId, inv.test_clock);
    inv.next_payment_attempt = null;
    invoices.update(q, ctx.accountId, inv);
    emitEvent(q, ctx, eventType, inv);
    return { status: 200, body: await render(q, ctx, inv, p.expand) };
  }),
});

export const payInvoice: InvoiceCommand<PayParams> = {
  name: 'invoices.pay',
  async run(ctx, p) {
    if (p.paid_out_of_band) {
      return ctx.finish('pay', async (q) => ({ status: 200, body: await render(q, ctx, await payOutOfBand(q, ctx, p.invoice), p.expand) }));
    }
    return payWithCard(ctx, p.invoice, { paymentMethod: p.payment_method, expand: p.expand });
  },
};

export const voidInvoice = closeAs('invoices.void', 'void', 'void', 'voided_at', 'invoice.voided');
export const markInvoiceUncollectible = closeAs('invoices.mark_uncollectible', 'mark_uncollectible', 'uncollectible', 'marked_uncollectible_at', 'invoice.marked_uncollectible');

/** Pays an open invoice with a card through the three steps of invoice_payment.ts. */
export async function payWithCard(ctx: PaymentContext, invoiceId: string, opts: { paymentMethod?: string; expand?: string[] }) {
  const plan = await ctx.atomic('begin', (q) => beginInvoicePayment(q, ctx, invoiceId, { paymentMethod: opts.paymentMethod }));
  const result = await authorize(ctx, plan.confirm);
  return ctx.finish('record', async (q) => {
    const r = await finishInvoicePayment(q, ctx, plan, result);
    return paymentResponse(r, await render(q, ctx, r.invoice, opts.expand));
  });
}
