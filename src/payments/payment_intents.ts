/**
 * Payment intents as commands of atomic phases. A confirmation is three steps:
 *   begin (lock the intent, allocate the charge id, status -> processing)
 *   authorize at the processor with the charge id as downstream key
 *   record (charge, balance transaction, final status, response) in one transaction.
 * A crash anywhere resumes from the last committed step; the downstream key makes the
 * processor call safe to repeat.
 *
 * Events follow what Stripe emits for card payments (test/e2e/event_sequences.test.ts lists
 * each flow). `processing` is only Oncepay's fence while the processor answers: Stripe documents
 * that cards never enter it, so no event shows it. State events (succeeded, canceled, ...)
 * carry no previous_attributes: Stripe includes them only on `*.updated` events.
 */
import type { Command } from '../idempotency/engine.ts';
import type { Tx } from '../store/db.ts';
import { ApiError, invalidRequest, objectBusy, resourceMissing } from '../errors.ts';
import { newId, nowSeconds, randomId } from '../ids.ts';
import {
  amount, array, boolean, clearable, currency, enumOf, expandParam, integer, metadata, nonEmptyString, object,
  optional, string, type ParsedObject, type Schema,
} from '../schema/params.ts';
import type { AuthorizeResult, CardDetails } from '../processor/types.ts';
import { charges, paymentIntents, threeDSecureAction, type Charge, type PaymentError, type PaymentIntent } from './payment_objects.ts';
import { ALLOWED, allows, type PaymentIntentAction } from './state.ts';
import { applyMetadata } from '../schema/metadata.ts';
import { liveCustomer } from './customers.ts';
import { recordBalanceTransaction } from './balance.ts';
import { claimExternalId, payloadFingerprint } from './external_ids.ts';
import { emitEvent } from '../events/outbox.ts';
import { render, type PaymentContext, type PaymentDeps } from './ports.ts';
import { paymentMethodTypes, REFUSED, setupFutureUsage, shipping, storedHash } from './payment_params.ts';
import { buildCharge, declineError } from './charges.ts';
import { checkPaymentMethod, resolvePaymentMethod, type PaymentMethod } from './payment_methods.ts';
import { requirePaymentMethod, savedCopy, usePaymentMethodFor, saveAfterPayment } from './payment_method_use.ts';

export { checkPaymentMethod };

/** off_session: true/false, or Stripe's older one_off/recurring spellings (both mean true). */
function offSession(): Schema<boolean> {
  const b = boolean();
  return {
    required: true,
    parse: (v, path) => (v === 'one_off' || v === 'recurring' ? true : b.parse(v, path)),
    jsonSchema: () => ({ anyOf: [{ type: 'boolean' }, { type: 'string', enum: ['one_off', 'recurring'] }] }),
  };
}

/** final_capture=false (a multicapture) needs what Oncepay's cards lack; true is what every capture is. */
function finalCapture(): Schema<boolean> {
  const b = boolean();
  return {
    required: true,
    parse: (v, path) => {
      if (b.parse(v, path)) return true;
      throw invalidRequest(`Oncepay does not support '${path}': multicapture (capturing a PaymentIntent in parts) is not available for its cards; every capture is final.`, path, 'parameter_unsupported');
    },
    jsonSchema: () => ({ type: 'boolean', description: 'Only true: every capture is final.' }),
  };
}

const paymentMethod = () => string({ max: 255 });
const captureMethod = () => enumOf(['automatic', 'automatic_async', 'manual'] as const);

/** Parameters create, update and confirm share: stored and echoed, or refused with their reason. */
const common = {
  payment_method_types: paymentMethodTypes(),
  payment_method_options: clearable(storedHash()),
  setup_future_usage: setupFutureUsage(),
  shipping: clearable(shipping()),
  receipt_email: clearable(string({ max: 800 })),
  excluded_payment_method_types: clearable(array(string({ max: 50 }), { max: 60 })),
  allowed_payment_method_types: REFUSED.paymentMethodConfiguration(),
  payment_method_data: REFUSED.paymentMethodData(),
  amount_details: REFUSED.amountDetails(),
  hooks: REFUSED.hooks(),
  payment_details: REFUSED.paymentDetails(),
  expand: expandParam(),
};

/** Only create and confirm: how the confirmation runs. */
const confirmation = {
  off_session: optional(offSession()),
  error_on_requires_action: optional(boolean()),
  return_url: optional(string({ max: 2048 })),
  use_stripe_sdk: optional(boolean()),
  mandate: REFUSED.mandate(),
  mandate_data: REFUSED.mandate(),
  confirmation_token: REFUSED.confirmationToken(),
  radar_options: REFUSED.radar(),
};

export const createPaymentIntentParams = object({
  ...common,
  ...confirmation,
  amount: amount(),
  currency: currency(),
  customer: optional(nonEmptyString(255)),
  description: optional(string({ max: 1000 })),
  metadata: optional(metadata()),
  payment_method: optional(paymentMethod()),
  automatic_payment_methods: optional(object({ enabled: boolean(), allow_redirects: optional(enumOf(['always', 'never'] as const)) })),
  capture_method: optional(captureMethod()),
  confirmation_method: optional(enumOf(['automatic', 'manual'] as const)),
  confirm: optional(boolean()),
  statement_descriptor: optional(string({ max: 22 })),
  statement_descriptor_suffix: optional(string({ max: 22 })),
  transfer_group: optional(string({ max: 5000 })),
  payment_method_configuration: REFUSED.paymentMethodConfiguration(),
  application_fee_amount: REFUSED.connect(),
  on_behalf_of: REFUSED.connect(),
  transfer_data: REFUSED.connect(),
  customer_account: REFUSED.customerAccount(),
  external_id: optional(nonEmptyString(255)),
  order: optional(nonEmptyString(255)),
});

export const updatePaymentIntentParams = object({
  ...common,
  intent: nonEmptyString(255),
  amount: optional(amount()),
  currency: optional(currency()),
  customer: clearable(nonEmptyString(255)),
  description: clearable(string({ max: 1000 })),
  metadata: optional(metadata()),
  payment_method: clearable(paymentMethod()),
  capture_method: optional(captureMethod()),
  statement_descriptor: clearable(string({ max: 22 })),
  statement_descriptor_suffix: clearable(string({ max: 22 })),
  transfer_group: optional(string({ max: 5000 })),
  payment_method_configuration: REFUSED.paymentMethodConfiguration(),
  application_fee_amount: REFUSED.connect(),
  transfer_data: REFUSED.connect(),
  customer_account: REFUSED.customerAccount(),
});

export const confirmPaymentIntentParams = object({
  ...common,
  ...confirmation,
  intent: nonEmptyString(255),
  payment_method: optional(paymentMethod()),
  capture_method: optional(captureMethod()),
  amount_to_confirm: optional(amount()),
});

export const capturePaymentIntentParams = object({
  intent: nonEmptyString(255),
  amount_to_capture: optional(integer({ min: 1 })),
  final_capture: optional(finalCapture()),
  application_fee_amount: REFUSED.connect(),
  transfer_data: REFUSED.connect(),
  amount_details: REFUSED.amountDetails(),
  hooks: REFUSED.hooks(),
  payment_details: REFUSED.paymentDetails(),
  metadata: optional(metadata()),
  statement_descriptor: optional(string({ max: 22 })),
  statement_descriptor_suffix: optional(string({ max: 22 })),
  expand: expandParam(),
});

export const cancelPaymentIntentParams = object({
  intent: nonEmptyString(255),
  cancellation_reason: optional(enumOf(['duplicate', 'fraudulent', 'requested_by_customer', 'abandoned'] as const)),
  expand: expandParam(),
});

type CreateParams = ParsedObject<typeof createPaymentIntentParams.shape>;
type UpdateParams = ParsedObject<typeof updatePaymentIntentParams.shape>;
type ConfirmParams = ParsedObject<typeof confirmPaymentIntentParams.shape>;
type CaptureParams = ParsedObject<typeof capturePaymentIntentParams.shape>;
type CancelParams = ParsedObject<typeof cancelPaymentIntentParams.shape>;

/** Stripe refuses to set up future usage on a payment made while the customer is away. */
export function checkOffSessionUsage(p: { off_session?: boolean; setup_future_usage?: string | null }): void {
  if (p.off_session && p.setup_future_usage) {
    throw invalidRequest('You cannot confirm with the off_session parameter when setup_future_usage is also set on the PaymentIntent: future usage cannot be set up while the payment is processed off-session.', 'off_session');
  }
}

const PAST: Record<PaymentIntentAction, string> = { update: 'updated', confirm: 'confirmed', capture: 'captured', cancel: 'canceled' };

function unexpectedState(pi: PaymentIntent, action: PaymentIntentAction, allowed: readonly string[]): ApiError {
  return new ApiError(400, {
    type: 'invalid_request_error',
    code: 'payment_intent_unexpected_state',
    message: `You cannot ${action} this PaymentIntent because it has a status of ${pi.status}. Only a PaymentIntent with one of the following statuses may be ${PAST[action]}: ${allowed.join(', ')}.`,
    payment_intent: pi,
  });
}

/**
 * An authorization's uncaptured part goes back to the customer: Stripe counts it in the charge's
 * amount_refunded (refunded once all of the amount is), with no balance transaction, since it
 * never moved.
 */
function releaseUncaptured(charge: Charge, amount: number): void {
  charge.amount_refunded += amount;
  charge.refunded = charge.amount_refunded >= charge.amount;
}

/** Locks the intent row; refuses when another request is mid-operation on it. */
export async function lockIntent(q: Tx, ctx: PaymentContext, id: string): Promise<PaymentIntent> {
  const { rows } = await q.query<{ data: PaymentIntent; locked_by: string | null }>(
    'SELECT data, locked_by FROM payment_intents WHERE account_id = $1 AND id = $2 FOR UPDATE', [ctx.accountId, id]);
  if (!rows[0]) throw resourceMissing('payment_intent', id);
  if (rows[0].locked_by !== null && rows[0].locked_by !== ctx.idempotencyKey) throw objectBusy('PaymentIntent', id);
  return rows[0].data;
}

function setLock(q: Tx, ctx: PaymentContext, id: string, owner: string | null): void {
  q.write('UPDATE payment_intents SET locked_by = $3 WHERE account_id = $1 AND id = $2', [ctx.accountId, id, owner], { expectRow: `payment_intents ${id}` });
}

function requireAction(pi: PaymentIntent, action: PaymentIntentAction): void {
  if (!allows(action, pi.status)) throw unexpectedState(pi, action, ALLOWED[action]);
}

/** What a confirmation will ask the processor for; journaled, so a resume asks the same. */
export interface ConfirmPlan {
  intent: string;
  /**
   * The intent as this request left it in `processing`. While it is processing, every other
   * action on it is refused, so the record phase can write from this snapshot without reading
   * the row again (the write is guarded on the status still being processing).
   */
  snapshot: PaymentIntent;
  chargeId: string;
  paymentMethod: string;
  amount: number;
  currency: string;
  capture: boolean;
  authenticated: boolean;
  /** The payment method as it was when confirmed, with its card and the acquirer's reference for it. */
  method: PaymentMethod;
  card: CardDetails;
  cardRef: string;
  offSession: boolean;
  setUpForOffSession: boolean;
}

/** Checks on create's parameters that need no database: nothing is saved when they fail. */
export function checkCreateParams(p: CreateParams): void {
  checkPaymentMethod(p.payment_method);
  if (p.off_session && !p.confirm) {
    throw invalidRequest('The off_session parameter can only be used when confirm=true: it describes the confirmation made in this request.', 'off_session');
  }
  checkOffSessionUsage(p);
  if (p.confirm && !p.payment_method) {
    throw invalidRequest('You cannot confirm this PaymentIntent because it\'s missing a payment method: pass payment_method (for example pm_card_visa) together with confirm=true.', 'payment_method', 'parameter_missing');
  }
}

/**
 * Moves an intent into processing for a confirmation (the caller saves it). What the intent pays
 * for reserves its amount first (an order refuses an overpayment).
 */
export async function startConfirmation(q: Tx, ctx: PaymentContext, pi: PaymentIntent, p: ConfirmOptions): Promise<ConfirmPlan> {
  const begun = beginConfirmation(pi, p);
  let resolved = await resolvePaymentMethod(q, ctx.accountId, pi.payment_method!, { param: 'payment_method', created: pi.created });
  usePaymentMethodFor(resolved, pi.customer);
  // A test id paying for a customer who keeps the card (setup_future_usage): the card is saved now, as Stripe does.
  if (!resolved.saved && pi.setup_future_usage && pi.customer) {
    resolved = savedCopy(q, ctx.accountId, resolved, { created: nowSeconds() });
    pi.payment_method = resolved.method.id;
  }
  await ctx.deps.purposes.reserve(q, ctx.accountId, pi);
  return {
    ...begun, snapshot: structuredClone(pi), paymentMethod: pi.payment_method!, method: resolved.method, card: resolved.card,
    cardRef: resolved.cardRef, offSession: p.off_session ?? false, setUpForOffSession: resolved.setUpForOffSession,
  };
}

/** What a confirmation may change on the intent, and how it runs. */
export interface ConfirmOptions {
  payment_method?: string | null;
  capture_method?: PaymentIntent['capture_method'];
  off_session?: boolean;
}

type BegunConfirmation = Omit<ConfirmPlan, 'method' | 'card' | 'cardRef' | 'offSession' | 'setUpForOffSession'>;

function beginConfirmation(pi: PaymentIntent, p: ConfirmOptions): BegunConfirmation {
  requireAction(pi, 'confirm');
  const previousMethod = pi.payment_method;
  if (!p.payment_method && !pi.payment_method) {
    throw new ApiError(400, {
      type: 'invalid_request_error',
      code: 'payment_intent_unexpected_state',
      param: 'payment_method',
      message: 'You cannot confirm this PaymentIntent because it\'s missing a payment method. Pass payment_method (for example pm_card_visa) when confirming, or set it with an update first.',
      payment_intent: pi,
    });
  }
  if (p.payment_method) pi.payment_method = p.payment_method;
  if (p.capture_method) pi.capture_method = p.capture_method;
  // Confirming again after requires_action with the same card means the customer completed authentication.
  const authenticated = pi.status === 'requires_action' && pi.payment_method === previousMethod;
  pi.status = 'processing';
  pi.next_action = null;
  return {
    intent: pi.id, snapshot: structuredClone(pi), chargeId: newId('ch'), paymentMethod: pi.payment_method!, amount: pi.amount, currency: pi.currency,
    capture: pi.capture_method !== 'manual', authenticated,
  };
}

export function authorize(ctx: PaymentContext, plan: ConfirmPlan): Promise<AuthorizeResult> {
  return ctx.foreign('authorize', () => ctx.deps.processor.authorize({
    accountId: ctx.accountId, downstreamKey: plan.chargeId, reference: plan.intent, paymentMethod: plan.paymentMethod, cardRef: plan.cardRef,
    amount: plan.amount, currency: plan.currency, capture: plan.capture, authenticated: plan.authenticated,
    offSession: plan.offSession, setUpForOffSession: plan.setUpForOffSession,
  }));
}

/** What the processor's answer made of an intent: its new state, and the card error of a decline. */
export interface AuthorizationOutcome {
  pi: PaymentIntent;
  error: PaymentError | null;
}

/**
 * Applies the processor's answer: the charge, the balance, the intent's new status, its events,
 * and what it pays for (through the purposes port). Shared by confirmations and invoice payments.
 */
export async function applyAuthorization(q: Tx, ctx: PaymentContext, plan: ConfirmPlan, result: AuthorizeResult): Promise<AuthorizationOutcome> {
  const pi = structuredClone(plan.snapshot);
  const save = () => paymentIntents.update(q, ctx.accountId, pi, {}, { status: 'processing' });
  const now = nowSeconds();
  if (result.outcome === 'requires_action') {
    pi.status = 'requires_action';
    pi.next_action = threeDSecureAction(pi.id);
    save();
    emitEvent(q, ctx, 'payment_intent.requires_action', pi);
    await ctx.deps.purposes.authorized(q, ctx, pi);
    return { pi, error: null };
  }
  const approved = result.outcome === 'approved';
  const charge = buildCharge(pi, { id: plan.chargeId, paymentMethod: plan.paymentMethod, card: plan.card, billingDetails: plan.method.billing_details,
    amount: plan.amount, currency: plan.currency, capture: plan.capture, authenticated: plan.authenticated, created: now }, result);
  if (charge.captured) {
    charge.balance_transaction = await recordBalanceTransaction(q, ctx.accountId, now, {
      amount: plan.amount, currency: plan.currency, source: charge.id, type: 'charge', description: pi.description,
    });
  }
  charges.insert(q, ctx.accountId, charge);
  emitEvent(q, ctx, approved ? 'charge.succeeded' : 'charge.failed', charge);
  pi.latest_charge = charge.id;
  if (approved) {
    pi.status = plan.capture ? 'succeeded' : 'requires_capture';
    pi.amount_received = plan.capture ? plan.amount : 0;
    pi.amount_capturable = plan.capture ? 0 : plan.amount;
    pi.last_payment_error = null;
    save();
    await saveAfterPayment(q, ctx, pi, plan);
    emitEvent(q, ctx, plan.capture ? 'payment_intent.succeeded' : 'payment_intent.amount_capturable_updated', pi);
    await ctx.deps.purposes.authorized(q, ctx, pi);
    return { pi, error: null };
  }
  const error = declineError(charge, result as Extract<AuthorizeResult, { outcome: 'declined' }>, plan.method);
  pi.status = 'requires_payment_method';
  pi.payment_method = null;
  pi.last_payment_error = error;
  save();
  emitEvent(q, ctx, 'payment_intent.payment_failed', pi);
  await ctx.deps.purposes.authorized(q, ctx, pi);
  return { pi, error };
}

/** A confirmation's response: the intent, or a 402 card error carrying it. */
async function recordAuthorization(q: Tx, ctx: PaymentContext, plan: ConfirmPlan, result: AuthorizeResult, expand: string[] | undefined) {
  const { pi, error } = await applyAuthorization(q, ctx, plan, result);
  if (!error) return { status: 200, body: await render(q, ctx, pi, expand) };
  return { status: 402, body: { error: { ...error, payment_intent: await render(q, ctx, pi, expand) } } };
}

/** The default payment_method_options of a card payment, as Stripe renders them. */
const CARD_OPTIONS = { card: { installments: null, mandate_options: null, network: null, request_three_d_secure: 'automatic' } };

/** Options as given, the card's over Stripe's rendered defaults (null clears them to the defaults). */
function withCardDefaults(given: Record<string, unknown> | null | undefined): Record<string, unknown> {
  if (!given) return CARD_OPTIONS;
  return { ...given, card: { ...CARD_OPTIONS.card, ...(given.card as object | undefined) } };
}

/**
 * What `payment_intent.created` carries for an intent created and confirmed in one call: the
 * intent before its payment method is attached (requires_payment_method). Stripe's lifecycle
 * says an intent is created in requires_payment_method until a payment method is attached, and
 * that requires_confirmation is skipped when the payment method comes with the confirmation.
 */
export function asCreatedForConfirmation(pi: PaymentIntent): PaymentIntent {
  return { ...structuredClone(pi), payment_method: null, status: 'requires_payment_method' };
}

/** A new intent (requires_payment_method, or requires_confirmation when it has a payment method). */
export function buildPaymentIntent(id: string, p: Partial<Pick<CreateParams, 'capture_method' | 'confirmation_method' | 'description'
  | 'external_id' | 'payment_method_types' | 'receipt_email' | 'statement_descriptor' | 'statement_descriptor_suffix' | 'setup_future_usage'
  | 'shipping' | 'payment_method_options' | 'automatic_payment_methods' | 'transfer_group' | 'excluded_payment_method_types'>>
  & { amount: number; currency: string; customer: string | null; order: string | null; invoice?: string; payment_method: string | null; metadata: Record<string, string> }): PaymentIntent {
  return {
    id, object: 'payment_intent', allowed_payment_method_types: null, amount: p.amount, amount_capturable: 0, amount_received: 0,
    application: null, application_fee_amount: null, automatic_payment_methods: p.automatic_payment_methods ?? null,
    canceled_at: null, cancellation_reason: null, capture_method: p.capture_method ?? 'automatic',
    client_secret: `${id}_secret_${randomId(25)}`, confirmation_method: p.confirmation_method ?? 'automatic',
    created: nowSeconds(), currency: p.currency, customer: p.customer, customer_account: null, description: p.description ?? null,
    excluded_payment_method_types: p.excluded_payment_method_types ?? null,
    external_id: p.external_id ?? null, invoice: p.invoice ?? null, last_payment_error: null, latest_charge: null, livemode: false,
    managed_payments: null, metadata: p.metadata, next_action: null, on_behalf_of: null, order: p.order, payment_method: p.payment_method,
    payment_method_configuration_details: null, payment_method_options: withCardDefaults(p.payment_method_options),
    payment_method_types: p.payment_method_types ?? ['card'], payment_record: null, processing: null, receipt_email: p.receipt_email ?? null,
    review: null, setup_future_usage: p.setup_future_usage ?? null, shipping: p.shipping ?? null, source: null,
    statement_descriptor: p.statement_descriptor ?? null, statement_descriptor_suffix: p.statement_descriptor_suffix ?? null,
    status: p.payment_method ? 'requires_confirmation' : 'requires_payment_method', transfer_group: p.transfer_group ?? null,
  };
}

type PaymentIntentCommand<P> = Command<P, PaymentDeps>;

/** What update and confirm both set: stored and echoed (the options and types are Oncepay's card payments as given). */
function applyCommon(pi: PaymentIntent, p: Partial<Pick<UpdateParams, 'payment_method_types' | 'payment_method_options' | 'setup_future_usage'
  | 'shipping' | 'receipt_email' | 'excluded_payment_method_types'>>): void {
  if (p.payment_method_types !== undefined) pi.payment_method_types = p.payment_method_types;
  if (p.payment_method_options !== undefined) pi.payment_method_options = withCardDefaults(p.payment_method_options);
  if (p.setup_future_usage !== undefined) pi.setup_future_usage = p.setup_future_usage;
  if (p.shipping !== undefined) pi.shipping = p.shipping;
  if (p.receipt_email !== undefined) pi.receipt_email = p.receipt_email;
  if (p.excluded_payment_method_types !== undefined) pi.excluded_payment_method_types = p.excluded_payment_method_types;
}

export const createPaymentIntent: PaymentIntentCommand<CreateParams> = {
  name: 'payment_intents.create',
  async run(ctx, p) {
    const build = async (q: Tx): Promise<{ pi: PaymentIntent; existing: boolean }> => {
      const id = newId('pi');
      if (p.external_id) {
        const existing = await claimExternalId(q, ctx.accountId, 'payment_intent', p.external_id, id, payloadFingerprint(p), ctx.idempotencyKey);
        if (existing) return { pi: await paymentIntents.get(q, ctx.accountId, existing), existing: true };
      }
      if (p.customer) await liveCustomer(q, ctx.accountId, p.customer, { param: 'customer' });
      if (p.payment_method && !p.confirm) await requirePaymentMethod(q, ctx.accountId, p.payment_method, 'payment_method', p.customer ?? null);
      if (p.order) await ctx.deps.purposes.checkAmount(q, ctx.accountId, { order: p.order, amount: p.amount, currency: p.currency }, 'order');
      const pi = buildPaymentIntent(id, {
        ...p, metadata: applyMetadata({}, p.metadata ?? {}), customer: p.customer ?? null, order: p.order ?? null,
        payment_method: p.payment_method || null,
      });
      return { pi, existing: false };
    };
    if (!p.confirm) {
      return ctx.finish('create', async (q) => {
        const { pi, existing } = await build(q);
        if (!existing) {
          paymentIntents.insert(q, ctx.accountId, pi);
          emitEvent(q, ctx, 'payment_intent.created', pi);
        }
        return { status: 200, body: await render(q, ctx, pi, p.expand) };
      });
    }
    const begun = await ctx.atomic('create', async (q) => {
      const { pi, existing } = await build(q);
      if (existing) return { existing: pi.id, plan: null };
      const created = asCreatedForConfirmation(pi);
      const plan = await startConfirmation(q, ctx, pi, { off_session: p.off_session });
      paymentIntents.insert(q, ctx.accountId, pi);
      emitEvent(q, ctx, 'payment_intent.created', created);
      return { existing: null, plan };
    });
    if (!begun.plan) {
      return ctx.finish('respond', async (q) => ({ status: 200, body: await render(q, ctx, await paymentIntents.get(q, ctx.accountId, begun.existing!), p.expand) }));
    }
    const result = await authorize(ctx, begun.plan);
    return ctx.finish('record', (q) => recordAuthorization(q, ctx, begun.plan!, result, p.expand));
  },
};

export const updatePaymentIntent: PaymentIntentCommand<UpdateParams> = {
  name: 'payment_intents.update',
  run: (ctx, p) => ctx.finish('update', async (q) => {
    const pi = await lockIntent(q, ctx, p.intent);
    requireAction(pi, 'update');
    if (p.customer) await liveCustomer(q, ctx.accountId, p.customer, { param: 'customer' });
    if (p.amount !== undefined) pi.amount = p.amount;
    if (p.currency !== undefined) pi.currency = p.currency;
    if (pi.invoice && (p.amount !== undefined || p.currency !== undefined)) {
      throw invalidRequest(`This PaymentIntent pays invoice ${pi.invoice}: its amount and currency are the invoice's.`, p.amount !== undefined ? 'amount' : 'currency');
    }
    if (pi.order && (p.amount !== undefined || p.currency !== undefined)) {
      await ctx.deps.purposes.checkAmount(q, ctx.accountId, pi, p.amount !== undefined ? 'amount' : 'currency');
    }
    if (p.customer !== undefined) pi.customer = p.customer;
    if (p.payment_method) await requirePaymentMethod(q, ctx.accountId, p.payment_method, 'payment_method', pi.customer);
    if (p.description !== undefined) pi.description = p.description;
    if (p.metadata !== undefined) pi.metadata = applyMetadata(pi.metadata, p.metadata);
    if (p.capture_method !== undefined) pi.capture_method = p.capture_method;
    applyCommon(pi, p);
    if (p.transfer_group !== undefined) pi.transfer_group = p.transfer_group;
    if (p.statement_descriptor !== undefined) pi.statement_descriptor = p.statement_descriptor;
    if (p.statement_descriptor_suffix !== undefined) pi.statement_descriptor_suffix = p.statement_descriptor_suffix;
    if (p.payment_method !== undefined) {
      pi.payment_method = p.payment_method;
      pi.status = p.payment_method ? 'requires_confirmation' : 'requires_payment_method';
      pi.next_action = null;
    }
    paymentIntents.update(q, ctx.accountId, pi);
    return { status: 200, body: await render(q, ctx, pi, p.expand) };
  }),
};

export const confirmPaymentIntent: PaymentIntentCommand<ConfirmParams> = {
  name: 'payment_intents.confirm',
  async run(ctx, p) {
    const plan = await ctx.atomic('begin', async (q) => {
      const pi = await lockIntent(q, ctx, p.intent);
      requireAction(pi, 'confirm');
      applyCommon(pi, p);
      const planned = await startConfirmation(q, ctx, pi, p);
      paymentIntents.update(q, ctx.accountId, pi);
      return planned;
    });
    const result = await authorize(ctx, plan);
    return ctx.finish('record', (q) => recordAuthorization(q, ctx, plan, result, p.expand));
  },
};

export const capturePaymentIntent: PaymentIntentCommand<CaptureParams> = {
  name: 'payment_intents.capture',
  async run(ctx, p) {
    const plan = await ctx.atomic('begin', async (q) => {
      const pi = await lockIntent(q, ctx, p.intent);
      requireAction(pi, 'capture');
      const amountToCapture = p.amount_to_capture ?? pi.amount_capturable;
      if (amountToCapture > pi.amount_capturable) {
        throw invalidRequest(`The amount to capture (${amountToCapture}) is greater than the amount capturable (${pi.amount_capturable}) on this PaymentIntent.`, 'amount_to_capture', 'amount_too_large');
      }
      setLock(q, ctx, pi.id, ctx.idempotencyKey);
      return { intent: pi.id, chargeId: pi.latest_charge!, amount: amountToCapture, currency: pi.currency };
    });
    await ctx.foreign('capture', () => ctx.deps.processor.capture({
      accountId: ctx.accountId, downstreamKey: `${plan.chargeId}:capture`, reference: plan.intent,
      authorization: plan.chargeId, amount: plan.amount, currency: plan.currency,
    }));
    return ctx.finish('record', async (q) => {
      const pi = await lockIntent(q, ctx, plan.intent);
      const charge = await charges.get(q, ctx.accountId, plan.chargeId, { forUpdate: true });
      const now = nowSeconds();
      charge.captured = true;
      charge.amount_captured = plan.amount;
      // Stripe: capturing less than authorized refunds the rest automatically (the charge's amount_refunded).
      releaseUncaptured(charge, charge.amount - plan.amount);
      charge.balance_transaction = await recordBalanceTransaction(q, ctx.accountId, now, {
        amount: plan.amount, currency: plan.currency, source: charge.id, type: 'charge', description: pi.description,
      });
      charges.update(q, ctx.accountId, charge);
      emitEvent(q, ctx, 'charge.captured', charge);
      pi.status = 'succeeded';
      pi.amount_received = plan.amount;
      pi.amount_capturable = 0;
      if (p.metadata !== undefined) pi.metadata = applyMetadata(pi.metadata, p.metadata);
      if (p.statement_descriptor !== undefined) pi.statement_descriptor = p.statement_descriptor;
      if (p.statement_descriptor_suffix !== undefined) pi.statement_descriptor_suffix = p.statement_descriptor_suffix;
      paymentIntents.update(q, ctx.accountId, pi, { locked_by: null });
      emitEvent(q, ctx, 'payment_intent.succeeded', pi);
      await ctx.deps.purposes.captured(q, ctx, pi);
      return { status: 200, body: await render(q, ctx, pi, p.expand) };
    });
  },
};

export const cancelPaymentIntent: PaymentIntentCommand<CancelParams> = {
  name: 'payment_intents.cancel',
  async run(ctx, p) {
    const plan = await ctx.atomic('begin', async (q) => {
      const pi = await lockIntent(q, ctx, p.intent);
      requireAction(pi, 'cancel');
      if (pi.status !== 'requires_capture') return { intent: pi.id, voidCharge: null as string | null, amount: 0, currency: pi.currency };
      setLock(q, ctx, pi.id, ctx.idempotencyKey);
      return { intent: pi.id, voidCharge: pi.latest_charge, amount: pi.amount_capturable, currency: pi.currency };
    });
    if (plan.voidCharge) {
      const chargeId = plan.voidCharge;
      await ctx.foreign('void', () => ctx.deps.processor.void({
        accountId: ctx.accountId, downstreamKey: `${chargeId}:void`, reference: plan.intent,
        authorization: chargeId, amount: plan.amount, currency: plan.currency,
      }));
    }
    return ctx.finish('record', async (q) => {
      const pi = await lockIntent(q, ctx, plan.intent);
      if (!plan.voidCharge) requireAction(pi, 'cancel');
      if (plan.voidCharge) {
        // Stripe: canceling a requires_capture intent refunds its amount_capturable automatically.
        const charge = await charges.get(q, ctx.accountId, plan.voidCharge, { forUpdate: true });
        releaseUncaptured(charge, plan.amount);
        charges.update(q, ctx.accountId, charge);
        emitEvent(q, ctx, 'charge.refunded', charge);
      }
      pi.status = 'canceled';
      pi.canceled_at = nowSeconds();
      pi.cancellation_reason = p.cancellation_reason ?? null;
      pi.amount_capturable = 0;
      pi.next_action = null;
      paymentIntents.update(q, ctx.accountId, pi, { locked_by: null });
      await ctx.deps.purposes.canceled(q, ctx, pi);
      emitEvent(q, ctx, 'payment_intent.canceled', pi);
      return { status: 200, body: await render(q, ctx, pi, p.expand) };
    });
  },
};
