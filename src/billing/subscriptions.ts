/**
 * Subscriptions (commands): create (a trial's $0 invoice, or the first invoice finalized and
 * charged at once), update (items, prices, quantities, cancellation, trials, billing_cycle_anchor
 * =now, payment settings), cancel and resume. What time does to them (renewals, trial ends,
 * trial_will_end) is in subscription_renewal.ts; their parameters in subscription_params.ts.
 *
 * A command that starts a period with an invoice to charge (create, trial_end=now,
 * billing_cycle_anchor=now, resume) commits the change first, then pays in the usual phases
 * (begin, authorize with a downstream key, record), so a crash resumes the payment, never the change.
 */
import type { Command, CommandContext } from '../idempotency/engine.ts';
import { requirePaymentMethod } from '../payments/payment_method_use.ts';
import type { Tx } from '../store/db.ts';
import type { ListFilter } from '../store/object_table.ts';
import { ApiError, invalidRequest } from '../errors.ts';
import { newId } from '../ids.ts';
import { emitEvent, previousAttributes, saveIfChanged } from '../events/outbox.ts';
import { applyMetadata } from '../schema/metadata.ts';
import { render, type PaymentDeps } from '../payments/ports.ts';
import type { FinalizingDeps } from './invoice_core.ts';
import { liveCustomer } from '../payments/customers.ts';
import { authorize } from '../payments/payment_intents.ts';
import { claimExternalId, payloadFingerprint } from '../payments/external_ids.ts';
import { customers, type Customer } from '../payments/payment_objects.ts';
import { invoices, subscriptions, type Invoice, type Period, type Price, type Subscription, type SubscriptionStatus } from './billing_objects.ts';
import { beginInvoicePayment, finishInvoicePayment } from './invoice_payment.ts';
import { SUBSCRIPTION_ACTIONS, type SubscriptionAction } from './subscription_status.ts';
import { buildSubscription, fullPeriodFrom, newItem, periodOf, setPeriod } from './subscription_build.ts';
import { livePrice, planOf } from './catalog.ts';
import { endSubscription, invoicePeriod, startPeriodNow, trialWarningDue, warnTrialEnding } from './subscription_renewal.ts';
import {
  itemPrice, MAX_TRIAL_DAYS, type CancelParams, type CreateParams, type ResumeParams, type UpdateParams,
} from './subscription_params.ts';
import { billingNow } from './time.ts';

export {
  createSubscriptionParams, updateSubscriptionParams, cancelSubscriptionParams, resumeSubscriptionParams,
  checkCreateSubscription, checkUpdateSubscription, checkResumeSubscription,
} from './subscription_params.ts';
export { renewSubscription } from './subscription_renewal.ts';

const DAY = 86_400;

function requireSubscriptionAction(sub: Subscription, action: SubscriptionAction): void {
  if (SUBSCRIPTION_ACTIONS[action].includes(sub.status)) return;
  const why = action === 'resume' ? 'only a paused subscription can be resumed' : `a ${sub.status} subscription has ended`;
  throw new ApiError(400, {
    type: 'invalid_request_error', code: 'subscription_unexpected_state',
    message: `You cannot ${action} subscription ${sub.id} because its status is ${sub.status}: ${why}.`,
  });
}

/** A subscription locked for `action` (refused if its status does not allow it), as it was, and its billing time. */
async function lockForAction(q: Tx, accountId: string, id: string, action: SubscriptionAction): Promise<{ sub: Subscription; before: Subscription; now: number }> {
  const sub = await subscriptions.get(q, accountId, id, { forUpdate: true });
  requireSubscriptionAction(sub, action);
  return { sub, before: structuredClone(sub), now: await billingNow(q, accountId, sub.test_clock) };
}

/** A price a subscription item may take: active, recurring, on the subscription's currency and interval. */
async function itemPriceObject(q: Tx, accountId: string, id: string, param: string, like?: Price): Promise<Price> {
  const price = await livePrice(q, accountId, id, { param });
  if (!price.active) throw invalidRequest(`Price ${price.id} is not active: subscriptions take active prices.`, param);
  if (price.type !== 'recurring' || !price.recurring) throw invalidRequest(`Price ${price.id} is a one-time price: subscription items take recurring prices.`, param);
  if (like && like.currency !== price.currency) throw invalidRequest(`All items of a subscription must have one currency: ${price.id} is in ${price.currency}, ${like.id} in ${like.currency}.`, param);
  if (like && (like.recurring!.interval !== price.recurring.interval || like.recurring!.interval_count !== price.recurring.interval_count)) {
    throw invalidRequest(`All items of a subscription must bill on one interval: ${price.id} bills every ${price.recurring.interval_count} ${price.recurring.interval}, ${like.id} every ${like.recurring!.interval_count} ${like.recurring!.interval}.`, param);
  }
  return price;
}

/** A future timestamp at most two years away (trial_end, cancel_at). */
function futureTimestamp(t: number, now: number, param: string, maxDays = Infinity): number {
  if (t <= now) throw invalidRequest(`Invalid timestamp: ${param} must be in the future (after ${now}).`, param);
  if (t > now + maxDays * DAY) throw invalidRequest(`Invalid timestamp: ${param} can be at most ${maxDays} days from now.`, param);
  return t;
}

/** The trial a creation asks for, if any: trial_end (not `now`), trial_period_days, or the price's own (trial_from_plan). */
function trialOf(p: CreateParams, first: Price, now: number): Period | null {
  if (p.trial_end !== undefined) return p.trial_end === 'now' ? null : { start: now, end: futureTimestamp(p.trial_end, now, 'trial_end', MAX_TRIAL_DAYS) };
  const days = p.trial_period_days ?? (p.trial_from_plan ? first.recurring!.trial_period_days : null);
  return days ? { start: now, end: now + days * DAY } : null;
}

/** cancel_at as given: a timestamp in the future, or a period end keyword (one interval for all items: the current period's end). */
function cancelAtOf(v: number | string, period: Period, now: number): number {
  return typeof v === 'number' ? futureTimestamp(v, now, 'cancel_at') : period.end;
}

const paymentMethodOf = (sub: Subscription, customer: Customer) => sub.default_payment_method ?? customer.invoice_settings.default_payment_method;

/**
 * The phases after a change that left `invoiceId` to charge now: begin the payment, authorize,
 * record; then answer with the subscription. Without an invoice to charge, just answer.
 */
async function chargeAndRespond(ctx: CommandContext<PaymentDeps>, subscriptionId: string, invoiceId: string | null, expand: string[] | undefined) {
  // Paid or voided meanwhile (by /pay, say, before a retry of a request cut off after its first phase): nothing to charge.
  const plan = invoiceId && await ctx.atomic('pay', async (q) => {
    const inv = await invoices.get(q, ctx.accountId, invoiceId);
    return inv.status === 'open' ? beginInvoicePayment(q, ctx, invoiceId) : null;
  });
  const respond = async (q: Tx) => ({ status: 200, body: await render(q, ctx, await subscriptions.get(q, ctx.accountId, subscriptionId), expand) });
  if (!plan) return ctx.finish('respond', respond);
  const result = await authorize(ctx, plan.confirm);
  return ctx.finish('record', async (q) => {
    const outcome = await finishInvoicePayment(q, ctx, plan, result);
    if (outcome.invoice.status === 'paid') await saveMethodOnSubscription(q, ctx, subscriptionId, plan.confirm.paymentMethod);
    return respond(q);
  });
}

/** payment_settings[save_default_payment_method]=on_subscription: the method that paid becomes the subscription's default. */
async function saveMethodOnSubscription(q: Tx, ctx: CommandContext<PaymentDeps>, subscriptionId: string, method: string): Promise<void> {
  const sub = await subscriptions.get(q, ctx.accountId, subscriptionId, { forUpdate: true });
  if (sub.payment_settings.save_default_payment_method !== 'on_subscription' || sub.default_payment_method === method) return;
  const before = structuredClone(sub);
  sub.default_payment_method = method;
  saveIfChanged(q, ctx, subscriptions, before, sub, 'customer.subscription.updated');
}

/** Whether a change's invoice is charged by the request now (allow_incomplete) or left for the billing run or the client. */
function chargeNow(inv: Invoice, sub: Subscription, customer: Customer, behavior: string | undefined): boolean {
  return inv.status === 'open' && sub.collection_method === 'charge_automatically' && (behavior ?? 'allow_incomplete') === 'allow_incomplete'
    && paymentMethodOf(sub, customer) !== null;
}

type SubscriptionCommand<P> = Command<P, PaymentDeps & FinalizingDeps>;

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
      if (p.default_payment_method) await requirePaymentMethod(q, ctx.accountId, p.default_payment_method, 'default_payment_method', customer.id);
      const itemPrices: Price[] = [];
      for (const [i, it] of p.items.entries()) itemPrices.push(await itemPriceObject(q, ctx.accountId, itemPrice(it, i)!, `items[${i}][price]`, itemPrices[0]));
      const first = itemPrices[0];
      if (p.currency !== undefined && p.currency.toLowerCase() !== first.currency) {
        throw invalidRequest(`Oncepay prices have one currency: ${first.id} is in ${first.currency}, not ${p.currency.toLowerCase()}.`, 'currency');
      }
      const now = await billingNow(q, ctx.accountId, customer.test_clock);
      const trial = trialOf(p, first, now);
      const method = p.collection_method ?? 'charge_automatically';
      const behavior = p.payment_behavior ?? 'allow_incomplete';
      if (!trial && method === 'charge_automatically' && behavior !== 'default_incomplete' && !p.default_payment_method && !customer.invoice_settings.default_payment_method) {
        throw invalidRequest(`This customer (${customer.id}) has no default payment method: pass default_payment_method, set the customer's invoice_settings[default_payment_method], start a trial, or use payment_behavior=default_incomplete.`, 'default_payment_method');
      }
      const natural = fullPeriodFrom(first, now);
      if (p.billing_cycle_anchor !== undefined && (p.billing_cycle_anchor <= now || p.billing_cycle_anchor > natural.end)) {
        throw invalidRequest(`Invalid billing_cycle_anchor: it must be after now (${now}) and no later than the end of the first full period (${natural.end}).`, 'billing_cycle_anchor');
      }
      const anchor = trial?.end ?? p.billing_cycle_anchor ?? now;
      const period = trial ?? (anchor === now ? natural : { start: now, end: anchor });
      const items = p.items.map((it, i) => newItem(id, itemPrices[i], it.quantity ?? 1, it.metadata, period, now));
      const sub = buildSubscription({
        id, customer: customer.id, testClock: customer.test_clock, currency: first.currency, items, now, anchor,
        status: trial ? 'trialing' : 'incomplete', collectionMethod: method, daysUntilDue: p.days_until_due ?? null,
        defaultPaymentMethod: p.default_payment_method ?? null, description: p.description ?? null,
        metadata: applyMetadata({}, p.metadata ?? {}), externalId: p.external_id ?? null,
        cancelAt: p.cancel_at === undefined ? null : cancelAtOf(p.cancel_at, period, now), cancelAtPeriodEnd: p.cancel_at_period_end ?? false,
        billingMode: p.billing_mode?.type ?? 'flexible', trial, trialEndBehavior: p.trial_settings?.end_behavior.missing_payment_method ?? 'create_invoice',
        saveDefaultPaymentMethod: p.payment_settings?.save_default_payment_method ?? 'off',
        invoiceSettings: {
          custom_fields: p.invoice_settings?.custom_fields ?? null, description: p.invoice_settings?.description ?? null,
          footer: p.invoice_settings?.footer ?? null,
        },
      });
      // A trial, and the time before a later anchor, are free: a $0 invoice, paid at once.
      const inv = await invoicePeriod(q, ctx, sub, customer, period, 'subscription_create', trial ? 'trial' : anchor !== now ? 'until_anchor' : null, false, (first) => {
        sub.latest_invoice = first.id;
        // Nothing to collect (a zero invoice, paid at finalization, or one sent for payment): the subscription starts now.
        if (!trial && (first.amount_remaining === 0 || method === 'send_invoice')) sub.status = 'active';
        subscriptions.insert(q, ctx.accountId, sub);
        emitEvent(q, ctx, 'customer.subscription.created', sub);
      });
      if (trialWarningDue(sub, now)) await warnTrialEnding(q, ctx, sub);
      const charge = inv.status === 'open' && method === 'charge_automatically' && behavior === 'allow_incomplete';
      return { subscription: id, invoice: charge ? inv.id : null };
    });
    return chargeAndRespond(ctx, begun.subscription, begun.invoice, p.expand);
  },
};

/** Item changes: quantity, metadata, a new price (from the next period), removal (deleted), new items (no id). */
async function applyItemChanges(q: Tx, accountId: string, sub: Subscription, p: UpdateParams, now: number): Promise<void> {
  if (p.quantity !== undefined) {
    if (sub.items.data.length !== 1) throw invalidRequest(`Subscription ${sub.id} has ${sub.items.data.length} items: set each one's quantity with items[i][id] and items[i][quantity].`, 'quantity');
    sub.items.data[0].quantity = p.quantity;
  }
  const period = periodOf(sub);
  for (const [i, change] of (p.items ?? []).entries()) {
    const priceId = itemPrice(change, i);
    const others = sub.items.data.filter((it) => it.id !== change.id);
    const price = priceId === undefined ? undefined : await itemPriceObject(q, accountId, priceId, `items[${i}][price]`, others[0]?.price);
    if (price && others.some((it) => it.price.id === price.id)) throw invalidRequest(`Price ${price.id} is already on subscription ${sub.id}: change that item's quantity instead.`, `items[${i}][price]`);
    if (change.id === undefined) {
      if (change.deleted) throw invalidRequest(`items[${i}][deleted] needs items[${i}][id]: name the item to remove.`, `items[${i}][id]`, 'parameter_missing');
      if (!price) throw invalidRequest(`Missing required param: items[${i}][price] (a new item needs a price).`, `items[${i}][price]`, 'parameter_missing');
      sub.items.data.push(newItem(sub.id, price, change.quantity ?? 1, change.metadata, period, now));
      continue;
    }
    const item = sub.items.data.find((it) => it.id === change.id);
    if (!item) throw invalidRequest(`Subscription ${sub.id} has no item ${change.id}.`, `items[${i}][id]`, 'resource_missing');
    if (change.deleted) {
      if (sub.items.data.length === 1) throw invalidRequest(`Subscription ${sub.id} needs at least one item: cancel it instead of deleting its last item.`, `items[${i}][deleted]`);
      sub.items.data = others;
      continue;
    }
    if (price) {
      item.price = price;
      item.plan = planOf(price);
    }
    if (change.quantity !== undefined) item.quantity = change.quantity;
    if (change.metadata !== undefined) item.metadata = applyMetadata(item.metadata, change.metadata);
  }
  sub.items.total_count = sub.items.data.length;
}

/** A new trial end on a trialing subscription: its period and anchor move with it. */
function moveTrialEnd(sub: Subscription, end: number, now: number): void {
  if (sub.status !== 'trialing') {
    throw invalidRequest(`Oncepay does not add a trial to subscription ${sub.id}, which is ${sub.status}: that would credit the period already billed, and Oncepay does not prorate. Pass trial_end only for trialing subscriptions (or trial_end=now to end a trial).`, 'trial_end', 'parameter_unsupported');
  }
  sub.trial_end = futureTimestamp(end, now, 'trial_end', MAX_TRIAL_DAYS);
  sub.billing_cycle_anchor = end;
  setPeriod(sub, { start: periodOf(sub).start, end });
}

function applyCollection(sub: Subscription, p: UpdateParams): void {
  if (p.collection_method !== undefined) sub.collection_method = p.collection_method;
  if (p.days_until_due !== undefined) sub.days_until_due = p.days_until_due;
  if (sub.collection_method === 'charge_automatically') sub.days_until_due = null;
  if (sub.collection_method === 'send_invoice' && sub.days_until_due === null) {
    throw invalidRequest('Missing required param: days_until_due (collection_method=send_invoice).', 'days_until_due', 'parameter_missing');
  }
  if (p.collection_method === undefined && p.days_until_due !== undefined && sub.collection_method !== 'send_invoice') {
    throw invalidRequest('days_until_due applies only to collection_method=send_invoice.', 'days_until_due');
  }
}

export const updateSubscription: SubscriptionCommand<UpdateParams> = {
  name: 'subscriptions.update',
  async run(ctx, p) {
    const invoice = await ctx.atomic('update', async (q) => {
      const { sub, before, now } = await lockForAction(q, ctx.accountId, p.subscription, 'update');
      if (p.default_payment_method) await requirePaymentMethod(q, ctx.accountId, p.default_payment_method, 'default_payment_method', sub.customer);
      await applyItemChanges(q, ctx.accountId, sub, p, now);
      if (p.cancel_at_period_end !== undefined) {
        sub.cancel_at_period_end = p.cancel_at_period_end;
        sub.canceled_at = p.cancel_at_period_end ? now : null;
      }
      if (p.cancel_at !== undefined) {
        sub.cancel_at = p.cancel_at === null ? null : cancelAtOf(p.cancel_at, periodOf(sub), now);
        sub.canceled_at = sub.cancel_at === null && !sub.cancel_at_period_end ? null : sub.canceled_at ?? now;
      }
      const details = p.cancellation_details;
      if (details?.comment !== undefined) sub.cancellation_details.comment = details.comment;
      if (details?.feedback !== undefined) sub.cancellation_details.feedback = details.feedback;
      applyCollection(sub, p);
      for (const k of ['custom_fields', 'description', 'footer'] as const) {
        const v = p.invoice_settings?.[k];
        if (v !== undefined) (sub.invoice_settings as Record<typeof k, unknown>)[k] = v;
      }
      if (p.default_payment_method !== undefined) sub.default_payment_method = p.default_payment_method;
      if (p.description !== undefined) sub.description = p.description;
      if (p.metadata !== undefined) sub.metadata = applyMetadata(sub.metadata, p.metadata);
      if (p.payment_settings?.save_default_payment_method) sub.payment_settings.save_default_payment_method = p.payment_settings.save_default_payment_method;
      if (p.trial_settings) sub.trial_settings.end_behavior.missing_payment_method = p.trial_settings.end_behavior.missing_payment_method;
      const fromPlan = p.trial_from_plan && sub.status === 'trialing' ? sub.items.data[0].price.recurring!.trial_period_days : null;
      const trialEnd = p.trial_end ?? (fromPlan ? (sub.trial_start ?? now) + fromPlan * DAY : undefined);
      if (typeof trialEnd === 'number') {
        moveTrialEnd(sub, trialEnd, now);
        if (trialWarningDue(sub, now)) await warnTrialEnding(q, ctx, sub);
      }
      // trial_end=now ends a trial; billing_cycle_anchor=now restarts the cycle: either starts a full period now.
      const restart = (p.trial_end === 'now' && sub.status === 'trialing') || p.billing_cycle_anchor === 'now';
      let inv: Invoice | null = null;
      let customer: Customer | null = null;
      if (restart) {
        customer = await customers.get(q, ctx.accountId, sub.customer);
        inv = await startPeriodNow(q, ctx, sub, customer, now, { collect: paymentMethodOf(sub, customer) === null });
      }
      saveIfChanged(q, ctx, subscriptions, before, sub, 'customer.subscription.updated');
      return inv && customer && chargeNow(inv, sub, customer, p.payment_behavior) ? inv.id : null;
    });
    return chargeAndRespond(ctx, p.subscription, invoice, p.expand);
  },
};

export const cancelSubscription: SubscriptionCommand<CancelParams> = {
  name: 'subscriptions.cancel',
  run: (ctx, p) => ctx.finish('cancel', async (q) => {
    const { sub, before, now } = await lockForAction(q, ctx.accountId, p.subscription, 'cancel');
    endSubscription(sub, now, now);
    sub.cancellation_details = {
      comment: p.cancellation_details?.comment ?? null, feedback: p.cancellation_details?.feedback ?? null, feedback_option: null,
      reason: 'cancellation_requested',
    };
    subscriptions.update(q, ctx.accountId, sub);
    emitEvent(q, ctx, 'customer.subscription.deleted', sub, previousAttributes(before, sub));
    return { status: 200, body: await render(q, ctx, sub, p.expand) };
  }),
};

/** Resuming a paused subscription (a trial that ended without a payment method) starts a full period now. */
export const resumeSubscription: SubscriptionCommand<ResumeParams> = {
  name: 'subscriptions.resume',
  async run(ctx, p) {
    const invoice = await ctx.atomic('resume', async (q) => {
      const { sub, before, now } = await lockForAction(q, ctx.accountId, p.subscription, 'resume');
      const customer = await customers.get(q, ctx.accountId, sub.customer);
      const untilPaid = p.payment_behavior === 'resume_on_payment_success';
      const inv = await startPeriodNow(q, ctx, sub, customer, now, { collect: paymentMethodOf(sub, customer) === null, stayPaused: untilPaid });
      subscriptions.update(q, ctx.accountId, sub);
      if (sub.status !== 'paused') emitEvent(q, ctx, 'customer.subscription.resumed', sub, previousAttributes(before, sub));
      emitEvent(q, ctx, 'customer.subscription.updated', sub, previousAttributes(before, sub));
      return chargeNow(inv, sub, customer, 'allow_incomplete') ? inv.id : null;
    });
    return chargeAndRespond(ctx, p.subscription, invoice, p.expand);
  },
};

/** The statuses a subscription has once it is over. */
const ENDED = ['canceled', 'incomplete_expired'];

type Range = { gt?: number; gte?: number; lt?: number; lte?: number };

export interface SubscriptionListFilters {
  customer?: string;
  test_clock?: string;
  status?: SubscriptionStatus | 'ended' | 'all';
  collection_method?: 'charge_automatically' | 'send_invoice';
  price?: string;
  plan?: string;
  current_period_start?: Range;
  current_period_end?: Range;
}

/**
 * Subscriptions narrowed by customer, test clock and status (by default those not ended, `ended`
 * those that are, `all` every one, or one status), and inside the stored object by collection
 * method, price (or plan) and the current period's bounds, as one condition over one JSON parameter.
 */
export function subscriptionListFilter(p: SubscriptionListFilters): ListFilter {
  const where = { ...(p.customer ? { customer: p.customer } : {}), ...(p.test_clock ? { test_clock: p.test_clock } : {}) };
  const status = p.status ?? 'default';
  const conds: string[] = [];
  if (status === 'default') conds.push(`NOT ((f.v->'ended') ? status)`);
  else if (status === 'ended') conds.push(`(f.v->'ended') ? status`);
  else if (status !== 'all') conds.push(`status = f.v->>'status'`);
  if (p.collection_method) conds.push(`data->>'collection_method' = f.v->>'collection_method'`);
  if (p.price ?? p.plan) conds.push(`jsonb_path_exists(data::jsonb, '$.items.data[*].price.id ? (@ == $price)', jsonb_build_object('price', f.v->>'price'))`);
  for (const [field, range] of [['current_period_start', p.current_period_start], ['current_period_end', p.current_period_end]] as const) {
    if (!range) continue;
    const col = `(data->'items'->'data'->0->>'${field}')::bigint`;
    for (const [op, sql] of [['gt', '>'], ['gte', '>='], ['lt', '<'], ['lte', '<=']] as const) {
      if (range[op] !== undefined) conds.push(`${col} ${sql} (f.v->'${field}'->>'${op}')::bigint`);
    }
  }
  if (conds.length === 0) return { where };
  const value = JSON.stringify({ ended: ENDED, status, collection_method: p.collection_method, price: p.price ?? p.plan, current_period_start: p.current_period_start, current_period_end: p.current_period_end });
  return { where, whereSql: { sql: `EXISTS (SELECT 1 FROM (SELECT $::jsonb AS v) AS f WHERE ${conds.join(' AND ')})`, value } };
}
