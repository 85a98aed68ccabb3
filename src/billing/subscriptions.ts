/**
 * Subscriptions: create (first invoice finalized and charged at once), update (quantities,
 * cancel_at_period_end, payment method), cancel; and the renewal step the billing run repeats
 * for every period that has ended. One invoice per period is guaranteed twice: the renewal holds
 * the subscription's row lock and re-reads its period, and a unique index on (subscription,
 * period_start) refuses a second invoice for the same period whoever writes it.
 */
import type { Command } from '../idempotency/engine.ts';
import type { Tx } from '../store/db.ts';
import type { ListFilter } from '../store/object_table.ts';
import { ApiError, invalidRequest } from '../errors.ts';
import { newId } from '../ids.ts';
import {
  array, boolean, clearable, enumOf, expandParam, integer, metadata, nonEmptyString, object, optional, string, type ParsedObject,
} from '../schema/params.ts';
import { emitEvent, previousAttributes, saveIfChanged, type EventSource } from '../events/outbox.ts';
import { applyMetadata } from '../schema/metadata.ts';
import { render, type PaymentDeps } from '../payments/ports.ts';
import { liveCustomer } from '../payments/customers.ts';
import { authorize, checkPaymentMethod } from '../payments/payment_intents.ts';
import { claimExternalId, payloadFingerprint } from '../payments/external_ids.ts';
import { customers, paymentIntents, type Customer } from '../payments/payment_objects.ts';
import {
  embeddedList, invoices, prices, subscriptions, type Invoice, type InvoiceLineItem, type Period, type Price, type Subscription,
  type SubscriptionItem, type SubscriptionStatus,
} from './billing_objects.ts';
import { attachPendingItems, buildInvoice, computeLines, finalizeInvoice, requireInvoiceAction } from './invoice_core.ts';
import { beginInvoicePayment, finishInvoicePayment } from './invoice_payment.ts';
import { SUBSCRIPTION_ACTIONS, type SubscriptionAction } from './subscription_status.ts';
import { billingNow, periodEnd, periodIndex } from './time.ts';

const itemMetadata = () => optional(metadata());

export const createSubscriptionParams = object({
  customer: nonEmptyString(255),
  items: array(object({ price: nonEmptyString(255), quantity: optional(integer({ min: 1, max: 1_000_000 })), metadata: itemMetadata() }), { max: 20 }),
  default_payment_method: optional(nonEmptyString(255)),
  cancel_at_period_end: optional(boolean()),
  collection_method: optional(enumOf(['charge_automatically', 'send_invoice'] as const)),
  days_until_due: optional(integer({ min: 0, max: 3650 })),
  description: optional(string({ max: 500 })),
  metadata: optional(metadata()),
  payment_behavior: optional(enumOf(['allow_incomplete', 'default_incomplete'] as const)),
  proration_behavior: optional(enumOf(['none', 'create_prorations', 'always_invoice'] as const)),
  external_id: optional(nonEmptyString(255)),
  expand: expandParam(),
});

export const updateSubscriptionParams = object({
  subscription: nonEmptyString(255),
  items: optional(array(object({ id: nonEmptyString(255), quantity: optional(integer({ min: 1, max: 1_000_000 })), metadata: itemMetadata() }), { max: 20 })),
  quantity: optional(integer({ min: 1, max: 1_000_000 })),
  cancel_at_period_end: optional(boolean()),
  default_payment_method: clearable(nonEmptyString(255)),
  description: clearable(string({ max: 500 })),
  metadata: optional(metadata()),
  proration_behavior: optional(enumOf(['none', 'create_prorations', 'always_invoice'] as const)),
  expand: expandParam(),
});

export const cancelSubscriptionParams = object({
  subscription: nonEmptyString(255),
  invoice_now: optional(boolean()),
  prorate: optional(boolean()),
  expand: expandParam(),
});

type CreateParams = ParsedObject<typeof createSubscriptionParams.shape>;
type UpdateParams = ParsedObject<typeof updateSubscriptionParams.shape>;
type CancelParams = ParsedObject<typeof cancelSubscriptionParams.shape>;

/** Oncepay bills whole periods: a change applies from the next period, with no proration. */
function checkProration(p: { proration_behavior?: string }): void {
  if (p.proration_behavior && p.proration_behavior !== 'none') {
    throw invalidRequest('Oncepay does not prorate: quantity changes take effect from the next billing period. Pass proration_behavior=none.', 'proration_behavior');
  }
}

export function checkCreateSubscription(p: CreateParams): void {
  if (p.items.length === 0) throw invalidRequest('Missing required param: items[0][price]. A subscription needs at least one item.', 'items', 'parameter_missing');
  checkProration(p);
  if (p.default_payment_method) checkPaymentMethod(p.default_payment_method, 'default_payment_method');
  const method = p.collection_method ?? 'charge_automatically';
  if (method === 'send_invoice' && p.days_until_due === undefined) throw invalidRequest('Missing required param: days_until_due (collection_method=send_invoice).', 'days_until_due', 'parameter_missing');
  if (method === 'charge_automatically' && p.days_until_due !== undefined) throw invalidRequest('days_until_due applies only to collection_method=send_invoice.', 'days_until_due');
  const seen = new Set<string>();
  p.items.forEach((it, i) => {
    if (seen.has(it.price)) throw invalidRequest(`Price ${it.price} appears twice in items: give it one item with a quantity.`, `items[${i}][price]`);
    seen.add(it.price);
  });
}

export function checkUpdateSubscription(p: UpdateParams): void {
  checkProration(p);
  if (p.default_payment_method) checkPaymentMethod(p.default_payment_method, 'default_payment_method');
  if (p.quantity !== undefined && p.items !== undefined) throw invalidRequest('You may only specify one of these parameters: quantity, items.', 'quantity', 'parameters_exclusive');
}

export function checkCancelSubscription(p: CancelParams): void {
  if (p.invoice_now) throw invalidRequest('Oncepay does not invoice at cancellation (no proration): omit invoice_now.', 'invoice_now');
  if (p.prorate) throw invalidRequest('Oncepay does not prorate: omit prorate.', 'prorate');
}

function requireSubscriptionAction(sub: Subscription, action: SubscriptionAction): void {
  if (SUBSCRIPTION_ACTIONS[action].includes(sub.status)) return;
  throw new ApiError(400, {
    type: 'invalid_request_error', code: 'subscription_unexpected_state',
    message: `You cannot ${action} subscription ${sub.id} because its status is ${sub.status}: a ${sub.status} subscription has ended.`,
  });
}

async function lockSubscription(q: Tx, accountId: string, id: string): Promise<Subscription> {
  return subscriptions.get(q, accountId, id, { forUpdate: true });
}

/** The lines a subscription bills for one period: one per item, quantity × unit amount. */
function subscriptionLines(sub: Subscription, invoiceId: string, period: Period): InvoiceLineItem[] {
  return sub.items.data.map((it) => ({
    id: newId('il'), object: 'line_item', amount: it.price.unit_amount * it.quantity, currency: it.price.currency,
    description: `${it.quantity} × ${it.price.nickname ?? it.price.product} (at ${it.price.unit_amount} / ${it.price.recurring!.interval_count > 1 ? `${it.price.recurring!.interval_count} ` : ''}${it.price.recurring!.interval})`,
    invoice: invoiceId, invoice_item: null, livemode: false, metadata: it.metadata, period, price: it.price, quantity: it.quantity,
    subscription: sub.id, subscription_item: it.id, type: 'subscription',
  }));
}

/**
 * The invoice of one period: created with the subscription's lines and the customer's pending
 * items, inserted, and finalized (numbered; a zero invoice is paid at once).
 */
async function invoicePeriod(q: Tx, source: EventSource, sub: Subscription, customer: Customer, period: Period, reason: 'subscription_create' | 'subscription_cycle'): Promise<Invoice> {
  const inv = buildInvoice({
    customer, currency: sub.currency, collectionMethod: sub.collection_method, daysUntilDue: sub.days_until_due, dueDate: null,
    autoAdvance: true, billingReason: reason, description: null, metadata: {}, defaultPaymentMethod: null, externalId: null,
    order: null, subscription: sub.id, period, now: period.start,
  });
  await attachPendingItems(q, source.accountId, inv);
  await computeLines(q, source.accountId, inv, subscriptionLines(sub, inv.id, period));
  invoices.insert(q, source.accountId, inv);
  emitEvent(q, source, 'invoice.created', inv);
  await finalizeInvoice(q, source, inv, period.start, { collect: reason !== 'subscription_create' });
  return inv;
}

const recurringOf = (sub: Subscription) => sub.items.data[0].price.recurring!;

function setPeriod(sub: Subscription, period: Period): void {
  sub.current_period_start = period.start;
  sub.current_period_end = period.end;
  for (const it of sub.items.data) {
    it.current_period_start = period.start;
    it.current_period_end = period.end;
  }
}

function endSubscription(sub: Subscription, at: number, canceledAt: number): void {
  sub.status = 'canceled';
  sub.ended_at = at;
  sub.canceled_at = sub.canceled_at ?? canceledAt;
}

/**
 * One renewal step of a subscription at time `now`, in its own transaction: ends it if it was
 * set to cancel at this period's end, or starts the next period with its invoice. Returns
 * whether another step may be due (the clock may have jumped several periods).
 */
export async function renewSubscription(q: Tx, source: EventSource, subscriptionId: string, now: number): Promise<{ invoice: string | null; more: boolean }> {
  const sub = await lockSubscription(q, source.accountId, subscriptionId);
  const before = structuredClone(sub);
  if (sub.status === 'canceled' || sub.status === 'incomplete_expired') return { invoice: null, more: false };
  if (sub.status === 'incomplete') {
    // Stripe gives a first payment 23 hours; after that the subscription expires and its invoice is voided.
    if (now < sub.created + 23 * 3600) return { invoice: null, more: false };
    // A first payment still being authorized decides first: a later pass expires it if it fails.
    const first = sub.latest_invoice ? await invoices.get(q, source.accountId, sub.latest_invoice, { forUpdate: true }) : undefined;
    if (first?.payment_intent && (await paymentIntents.get(q, source.accountId, first.payment_intent)).status === 'processing') {
      return { invoice: null, more: false };
    }
    sub.status = 'incomplete_expired';
    sub.ended_at = now;
    subscriptions.update(q, source.accountId, sub);
    if (first) {
      const inv = first;
      if (inv.status === 'open') {
        requireInvoiceAction(inv, 'void');
        inv.status = 'void';
        inv.status_transitions.voided_at = now;
        inv.next_payment_attempt = null;
        invoices.update(q, source.accountId, inv);
        emitEvent(q, source, 'invoice.voided', inv, { status: 'open' });
      }
    }
    emitEvent(q, source, 'customer.subscription.updated', sub, previousAttributes(before, sub));
    return { invoice: null, more: false };
  }
  if (sub.current_period_end > now) return { invoice: null, more: false };
  if (sub.cancel_at_period_end || (sub.cancel_at !== null && sub.cancel_at <= sub.current_period_end)) {
    endSubscription(sub, sub.current_period_end, now);
    subscriptions.update(q, source.accountId, sub);
    emitEvent(q, source, 'customer.subscription.deleted', sub, previousAttributes(before, sub));
    return { invoice: null, more: false };
  }
  const r = recurringOf(sub);
  const n = periodIndex(sub.billing_cycle_anchor, r.interval, r.interval_count, sub.current_period_end);
  const period = { start: sub.current_period_end, end: periodEnd(sub.billing_cycle_anchor, r.interval, r.interval_count, n + 1) };
  const customer = await customers.get(q, source.accountId, sub.customer);
  const inv = await invoicePeriod(q, source, sub, customer, period, 'subscription_cycle');
  setPeriod(sub, period);
  sub.latest_invoice = inv.id;
  subscriptions.update(q, source.accountId, sub);
  emitEvent(q, source, 'customer.subscription.updated', sub, previousAttributes(before, sub));
  return { invoice: inv.id, more: period.end <= now };
}

type SubscriptionCommand<P> = Command<P, PaymentDeps>;

export const createSubscription: SubscriptionCommand<CreateParams> = {
  name: 'subscriptions.create',
  async run(ctx, p) {
    const begun = await ctx.atomic('create', async (q) => {
      const id = newId('sub');
      if (p.external_id) {
        const existing = await claimExternalId(q, ctx.accountId, 'subscription', p.external_id, id, payloadFingerprint(p), ctx.idempotencyKey);
        if (existing) return { subscription: existing, invoice: null as string | null };
      }
      const customer = await liveCustomer(q, ctx.accountId, p.customer, { param: 'customer' });
      const itemPrices: Price[] = [];
      for (const [i, it] of p.items.entries()) {
        const price = await prices.get(q, ctx.accountId, it.price, { param: `items[${i}][price]` });
        if (!price.active) throw invalidRequest(`Price ${price.id} is not active: subscriptions take active prices.`, `items[${i}][price]`);
        if (price.type !== 'recurring' || !price.recurring) throw invalidRequest(`Price ${price.id} is a one-time price: subscription items take recurring prices.`, `items[${i}][price]`);
        const first = itemPrices[0];
        if (first && (first.currency !== price.currency)) throw invalidRequest(`All items of a subscription must have one currency: ${price.id} is in ${price.currency}, ${first.id} in ${first.currency}.`, `items[${i}][price]`);
        if (first && (first.recurring!.interval !== price.recurring.interval || first.recurring!.interval_count !== price.recurring.interval_count)) {
          throw invalidRequest(`All items of a subscription must bill on one interval: ${price.id} bills every ${price.recurring.interval_count} ${price.recurring.interval}, ${first.id} every ${first.recurring!.interval_count} ${first.recurring!.interval}.`, `items[${i}][price]`);
        }
        itemPrices.push(price);
      }
      const method = p.collection_method ?? 'charge_automatically';
      const behavior = p.payment_behavior ?? 'allow_incomplete';
      if (method === 'charge_automatically' && behavior !== 'default_incomplete' && !p.default_payment_method && !customer.invoice_settings.default_payment_method) {
        throw invalidRequest(`This customer (${customer.id}) has no default payment method: pass default_payment_method, set the customer's invoice_settings[default_payment_method], or use payment_behavior=default_incomplete.`, 'default_payment_method');
      }
      const now = await billingNow(q, ctx.accountId, customer.test_clock);
      const r = itemPrices[0].recurring!;
      const period = { start: now, end: periodEnd(now, r.interval, r.interval_count, 1) };
      const items: SubscriptionItem[] = p.items.map((it, i) => ({
        id: newId('si'), object: 'subscription_item', created: now, current_period_end: period.end, current_period_start: period.start,
        metadata: applyMetadata({}, it.metadata ?? {}), price: itemPrices[i], quantity: it.quantity ?? 1, subscription: id,
      }));
      const sub: Subscription = {
        id, object: 'subscription', billing_cycle_anchor: now, cancel_at: null, cancel_at_period_end: p.cancel_at_period_end ?? false,
        canceled_at: null, collection_method: method, created: now, currency: itemPrices[0].currency,
        current_period_end: period.end, current_period_start: period.start, customer: customer.id,
        days_until_due: p.days_until_due ?? null, default_payment_method: p.default_payment_method ?? null,
        description: p.description ?? null, ended_at: null, external_id: p.external_id ?? null,
        items: embeddedList(items, `/v1/subscription_items?subscription=${id}`), latest_invoice: null, livemode: false,
        metadata: applyMetadata({}, p.metadata ?? {}), start_date: now, status: 'incomplete', test_clock: customer.test_clock,
      };
      const inv = await invoicePeriod(q, ctx, sub, customer, period, 'subscription_create');
      sub.latest_invoice = inv.id;
      // Nothing to collect (a zero invoice, or one sent for payment): the subscription starts now.
      if (inv.status === 'paid' || method === 'send_invoice') sub.status = 'active';
      subscriptions.insert(q, ctx.accountId, sub);
      emitEvent(q, ctx, 'customer.subscription.created', sub);
      const charge = inv.status === 'open' && method === 'charge_automatically' && behavior === 'allow_incomplete';
      return { subscription: id, invoice: charge ? inv.id : null };
    });
    const invoiceId = begun.invoice;
    // Paid or voided meanwhile (by /pay, say, before a retry of a create cut off after its first phase): nothing to charge.
    const plan = invoiceId && await ctx.atomic('pay', async (q) => {
      const inv = await invoices.get(q, ctx.accountId, invoiceId);
      return inv.status === 'open' ? beginInvoicePayment(q, ctx, invoiceId) : null;
    });
    if (plan) {
      const result = await authorize(ctx, plan.confirm);
      return ctx.finish('record', async (q) => {
        await finishInvoicePayment(q, ctx, plan, result);
        return { status: 200, body: await render(q, ctx, await subscriptions.get(q, ctx.accountId, begun.subscription), p.expand) };
      });
    }
    return ctx.finish('respond', async (q) => ({
      status: 200, body: await render(q, ctx, await subscriptions.get(q, ctx.accountId, begun.subscription), p.expand),
    }));
  },
};

export const updateSubscription: SubscriptionCommand<UpdateParams> = {
  name: 'subscriptions.update',
  run: (ctx, p) => ctx.finish('update', async (q) => {
    const sub = await lockSubscription(q, ctx.accountId, p.subscription);
    requireSubscriptionAction(sub, 'update');
    const before = structuredClone(sub);
    if (p.quantity !== undefined) {
      if (sub.items.data.length !== 1) throw invalidRequest(`Subscription ${sub.id} has ${sub.items.data.length} items: set each one's quantity with items[i][id] and items[i][quantity].`, 'quantity');
      sub.items.data[0].quantity = p.quantity;
    }
    for (const [i, change] of (p.items ?? []).entries()) {
      const item = sub.items.data.find((it) => it.id === change.id);
      if (!item) throw invalidRequest(`Subscription ${sub.id} has no item ${change.id}.`, `items[${i}][id]`, 'resource_missing');
      if (change.quantity !== undefined) item.quantity = change.quantity;
      if (change.metadata !== undefined) item.metadata = applyMetadata(item.metadata, change.metadata);
    }
    if (p.cancel_at_period_end !== undefined) {
      sub.cancel_at_period_end = p.cancel_at_period_end;
      sub.canceled_at = p.cancel_at_period_end ? await billingNow(q, ctx.accountId, sub.test_clock) : null;
    }
    if (p.default_payment_method !== undefined) sub.default_payment_method = p.default_payment_method;
    if (p.description !== undefined) sub.description = p.description;
    if (p.metadata !== undefined) sub.metadata = applyMetadata(sub.metadata, p.metadata);
    saveIfChanged(q, ctx, subscriptions, before, sub, 'customer.subscription.updated');
    return { status: 200, body: await render(q, ctx, sub, p.expand) };
  }),
};

export const cancelSubscription: SubscriptionCommand<CancelParams> = {
  name: 'subscriptions.cancel',
  run: (ctx, p) => ctx.finish('cancel', async (q) => {
    const sub = await lockSubscription(q, ctx.accountId, p.subscription);
    requireSubscriptionAction(sub, 'cancel');
    const before = structuredClone(sub);
    const now = await billingNow(q, ctx.accountId, sub.test_clock);
    endSubscription(sub, now, now);
    subscriptions.update(q, ctx.accountId, sub);
    emitEvent(q, ctx, 'customer.subscription.deleted', sub, previousAttributes(before, sub));
    return { status: 200, body: await render(q, ctx, sub, p.expand) };
  }),
};

/** The statuses a subscription has once it is over. */
const ENDED = ['canceled', 'incomplete_expired'];

/**
 * Subscriptions narrowed by customer and test clock, and by status: by default those not ended,
 * `ended` those that are, `all` every one, or one status.
 */
export function subscriptionListFilter(p: { customer?: string; test_clock?: string; status?: SubscriptionStatus | 'ended' | 'all' }): ListFilter {
  const where = { ...(p.customer ? { customer: p.customer } : {}), ...(p.test_clock ? { test_clock: p.test_clock } : {}) };
  const status = p.status ?? 'default';
  const whereSql = status === 'all' ? undefined
    : status === 'default' ? { sql: 'status <> ALL($)', value: ENDED }
      : status === 'ended' ? { sql: 'status = ANY($)', value: ENDED }
        : { sql: 'status = $', value: status };
  return { where, whereSql };
}
