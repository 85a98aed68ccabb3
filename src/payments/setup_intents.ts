/**
 * SetupIntents: saving a card for later payments, as commands of atomic phases. A confirmation is
 * three steps, like a payment intent's:
 *   begin  (lock the setup intent with locked_by, resolve its payment method: a pm_card_* test id
 *           gets its saved copy now, allocate the attempt id)
 *   verify at the acquirer (a zero-amount card check with the downstream key `<seti>:<setatt>`;
 *          3-D Secure cards answer requires_action until the customer authenticated)
 *   record (status, the payment method attached to the customer and set up for off-session
 *          payments when usage=off_session, events, the answer) in one transaction.
 * While locked, every other write on the setup intent is refused (409 lock_timeout, retryable);
 * once recorded, a confirmation in the wrong status is Stripe's setup_intent_unexpected_state.
 *
 * Setup attempts (`latest_attempt`) and mandates are not built: they render null.
 */
import type { Command } from '../idempotency/engine.ts';
import type { Tx } from '../store/db.ts';
import { ObjectTable } from '../store/object_table.ts';
import { ApiError, invalidRequest, objectBusy, resourceMissing } from '../errors.ts';
import { newId, nowSeconds, randomId } from '../ids.ts';
import {
  array, boolean, clearable, enumOf, expandParam, metadata, nonEmptyString, object, optional, string, unsupported, type ParsedObject,
} from '../schema/params.ts';
import { applyMetadata, type Metadata } from '../schema/metadata.ts';
import type { VerifyResult } from '../processor/types.ts';
import { findTestCard } from '../processor/cards.ts';
import { emitEvent } from '../events/outbox.ts';
import { liveCustomer } from './customers.ts';
import { render, type PaymentContext, type PaymentDeps } from './ports.ts';
import { paymentMethodTypes, REFUSED, storedHash } from './payment_params.ts';
import { checkPaymentMethod, markSetUpForOffSession, resolvePaymentMethod, type PaymentMethod, type ResolvedPaymentMethod } from './payment_methods.ts';
import { attachSaved, requirePaymentMethod, savedCopy, usePaymentMethodFor } from './payment_method_use.ts';
import { verificationDeclined, verifyCard } from './payment_method_attach.ts';
import { threeDSecureAction, type NextAction } from './payment_objects.ts';

export const SETUP_INTENT_STATUSES = ['requires_payment_method', 'requires_confirmation', 'requires_action', 'processing', 'succeeded', 'canceled'] as const;
export type SetupIntentStatus = (typeof SETUP_INTENT_STATUSES)[number];

export interface SetupError {
  type: 'card_error';
  code: string;
  decline_code?: string;
  advice_code?: string;
  param?: string;
  doc_url?: string;
  message: string;
  payment_method: PaymentMethod;
  payment_method_type: 'card';
}

export interface SetupIntent {
  id: string;
  object: 'setup_intent';
  allowed_payment_method_types: null;
  application: null;
  automatic_payment_methods: { enabled: boolean; allow_redirects?: 'always' | 'never' } | null;
  cancellation_reason: 'abandoned' | 'duplicate' | 'requested_by_customer' | null;
  client_secret: string;
  created: number;
  customer: string | null;
  customer_account: null;
  description: string | null;
  excluded_payment_method_types: string[] | null;
  flow_directions: null;
  last_setup_error: SetupError | null;
  latest_attempt: null;
  livemode: false;
  mandate: null;
  metadata: Metadata;
  next_action: NextAction | null;
  on_behalf_of: null;
  payment_method: string | null;
  payment_method_configuration_details: null;
  payment_method_options: Record<string, unknown>;
  payment_method_types: string[];
  single_use_mandate: null;
  status: SetupIntentStatus;
  usage: 'off_session' | 'on_session';
}

/** The setup intents; `locked_by` (the key of the confirmation in flight) is a column only. */
export const setupIntents = new ObjectTable<SetupIntent>('setup_intents', 'setup_intent', {
  customer: (si) => si.customer,
  payment_method: (si) => si.payment_method,
});

/** The default card options of a setup, as Stripe renders them. */
const CARD_OPTIONS = { card: { mandate_options: null, network: null, request_three_d_secure: 'automatic' } };

function withCardDefaults(given: Record<string, unknown> | null | undefined): Record<string, unknown> {
  if (!given) return CARD_OPTIONS;
  return { ...given, card: { ...CARD_OPTIONS.card, ...(given.card as object | undefined) } };
}

const CONNECT_SELF = 'attaching to the platform\'s own account (attach_to_self) is Connect, which is not part of Oncepay.';
const onlyInbound = (v: unknown) => Array.isArray(v) ? v.every((d) => d === 'inbound') : v === 'inbound';
const flowDirections = () => unsupported('outbound flows (sending money to the payment method) are not part of Oncepay: only inbound setups are.', { noop: onlyInbound });
const attachToSelf = () => unsupported(CONNECT_SELF, { noop: (v) => String(v) === 'false' });

/** Parameters create and update share. */
const common = {
  payment_method_types: paymentMethodTypes(),
  payment_method_options: clearable(storedHash()),
  excluded_payment_method_types: clearable(array(string({ max: 50 }), { max: 60 })),
  attach_to_self: attachToSelf(),
  flow_directions: flowDirections(),
  allowed_payment_method_types: REFUSED.paymentMethodConfiguration(),
  payment_method_configuration: REFUSED.paymentMethodConfiguration(),
  payment_method_data: REFUSED.paymentMethodData(),
  customer_account: REFUSED.customerAccount(),
  expand: expandParam(),
};

/** Only create and confirm: how the confirmation runs. */
const confirmation = {
  return_url: optional(string({ max: 2048 })),
  use_stripe_sdk: optional(boolean()),
  mandate_data: REFUSED.mandate(),
  confirmation_token: REFUSED.confirmationToken(),
};

export const createSetupIntentParams = object({
  ...common,
  ...confirmation,
  customer: optional(nonEmptyString(255)),
  payment_method: optional(string({ max: 255 })),
  confirm: optional(boolean()),
  usage: optional(enumOf(['off_session', 'on_session'] as const)),
  description: optional(string({ max: 1000 })),
  metadata: optional(metadata()),
  automatic_payment_methods: optional(object({ enabled: boolean(), allow_redirects: optional(enumOf(['always', 'never'] as const)) })),
  on_behalf_of: REFUSED.connect(),
  single_use: unsupported('single-use setups (a later payment of a set amount) are not part of Oncepay: every setup saves the card for reuse.'),
});

export const updateSetupIntentParams = object({
  ...common,
  intent: nonEmptyString(255),
  customer: optional(nonEmptyString(255)),
  payment_method: optional(string({ max: 255 })),
  description: clearable(string({ max: 1000 })),
  metadata: optional(metadata()),
});

export const confirmSetupIntentParams = object({
  ...confirmation,
  intent: nonEmptyString(255),
  payment_method: optional(string({ max: 255 })),
  payment_method_options: clearable(storedHash()),
  payment_method_data: REFUSED.paymentMethodData(),
  allowed_payment_method_types: REFUSED.paymentMethodConfiguration(),
  expand: expandParam(),
});

export const cancelSetupIntentParams = object({
  intent: nonEmptyString(255),
  cancellation_reason: optional(enumOf(['abandoned', 'duplicate', 'requested_by_customer'] as const)),
  expand: expandParam(),
});

type CreateParams = ParsedObject<typeof createSetupIntentParams.shape>;
type UpdateParams = ParsedObject<typeof updateSetupIntentParams.shape>;
type ConfirmParams = ParsedObject<typeof confirmSetupIntentParams.shape>;
type CancelParams = ParsedObject<typeof cancelSetupIntentParams.shape>;

/** Checks on create's parameters that need no database: nothing is saved when they fail. */
export function checkCreateSetupIntent(p: CreateParams): void {
  checkPaymentMethod(p.payment_method);
  if (p.confirm && !p.payment_method) {
    throw invalidRequest('You cannot confirm this SetupIntent because it\'s missing a payment method: pass payment_method (for example pm_card_visa) together with confirm=true.', 'payment_method', 'parameter_missing');
  }
}

type Action = 'update' | 'confirm' | 'cancel';
const ALLOWED: Record<Action, readonly SetupIntentStatus[]> = {
  update: ['requires_payment_method', 'requires_confirmation', 'requires_action'],
  confirm: ['requires_payment_method', 'requires_confirmation', 'requires_action'],
  cancel: ['requires_payment_method', 'requires_confirmation', 'requires_action'],
};
const PAST: Record<Action, string> = { update: 'updated', confirm: 'confirmed', cancel: 'canceled' };

function unexpectedState(si: SetupIntent, action: Action, param?: string, message?: string): ApiError {
  return new ApiError(400, {
    type: 'invalid_request_error',
    code: 'setup_intent_unexpected_state',
    ...(param ? { param } : {}),
    message: message ?? `You cannot ${action} this SetupIntent because it has a status of ${si.status}. Only a SetupIntent with one of the following statuses may be ${PAST[action]}: ${ALLOWED[action].join(', ')}.`,
    setup_intent: si,
  });
}

function requireAction(si: SetupIntent, action: Action): void {
  if (!ALLOWED[action].includes(si.status)) throw unexpectedState(si, action);
}

/** Locks the setup intent row; refuses while another request's confirmation is in flight on it. */
export async function lockSetupIntent(q: Tx, ctx: PaymentContext, id: string): Promise<SetupIntent> {
  const { rows } = await q.query<{ data: SetupIntent; locked_by: string | null }>(
    'SELECT data, locked_by FROM setup_intents WHERE account_id = $1 AND id = $2 FOR UPDATE', [ctx.accountId, id]);
  if (!rows[0]) throw resourceMissing('setup_intent', id);
  if (rows[0].locked_by !== null && rows[0].locked_by !== ctx.idempotencyKey) throw objectBusy('SetupIntent', id);
  return rows[0].data;
}

export function buildSetupIntent(id: string, p: Partial<Omit<CreateParams, 'customer' | 'payment_method'>> & { customer: string | null; payment_method: string | null }): SetupIntent {
  return {
    id, object: 'setup_intent', allowed_payment_method_types: null, application: null,
    automatic_payment_methods: p.automatic_payment_methods ?? null, cancellation_reason: null,
    client_secret: `${id}_secret_${randomId(25)}`, created: nowSeconds(), customer: p.customer, customer_account: null,
    description: p.description ?? null, excluded_payment_method_types: p.excluded_payment_method_types ?? null, flow_directions: null,
    last_setup_error: null, latest_attempt: null, livemode: false, mandate: null, metadata: applyMetadata({}, p.metadata ?? {}),
    next_action: null, on_behalf_of: null, payment_method: p.payment_method, payment_method_configuration_details: null,
    payment_method_options: withCardDefaults(p.payment_method_options), payment_method_types: p.payment_method_types ?? ['card'],
    single_use_mandate: null, status: p.payment_method ? 'requires_confirmation' : 'requires_payment_method', usage: p.usage ?? 'off_session',
  };
}

/** What a confirmation asks the acquirer, and the intent as it left begin (journaled: a resume asks the same). */
export interface SetupPlan {
  snapshot: SetupIntent;
  attempt: string;
  method: PaymentMethod;
  cardRef: string;
  authenticated: boolean;
}

/**
 * The begin step on a locked intent (the caller saves it with locked_by): the payment method
 * resolved and usable for the intent's customer, a test id's saved copy made, the attempt named.
 */
async function beginSetup(q: Tx, ctx: PaymentContext, si: SetupIntent, given: string | undefined): Promise<SetupPlan> {
  requireAction(si, 'confirm');
  const previous = si.payment_method;
  const chosen = given || previous;
  if (!chosen) {
    throw unexpectedState(si, 'confirm', 'payment_method',
      'You cannot confirm this SetupIntent because it\'s missing a payment method. Pass payment_method (for example pm_card_visa) when confirming, or set it with an update first.');
  }
  let resolved: ResolvedPaymentMethod;
  let authenticated = false;
  const prior = previous ? await resolvePaymentMethod(q, ctx.accountId, previous, { param: 'payment_method' }).catch(() => undefined) : undefined;
  // The same card again after requires_action: the customer completed authentication. A test id
  // names the same card as the saved copy it made on the first confirmation.
  const sameCard = prior !== undefined && (chosen === previous || (findTestCard(chosen) !== undefined && prior.saved && prior.cardRef === chosen && !prior.method.customer));
  if (sameCard) {
    resolved = prior!;
    authenticated = si.status === 'requires_action';
  } else {
    resolved = await resolvePaymentMethod(q, ctx.accountId, chosen, { param: 'payment_method' });
  }
  usePaymentMethodFor(resolved, si.customer);
  if (!resolved.saved) resolved = savedCopy(q, ctx.accountId, resolved, { created: nowSeconds() });
  si.payment_method = resolved.method.id;
  si.status = 'requires_confirmation';
  si.next_action = null;
  return { snapshot: structuredClone(si), attempt: newId('setatt'), method: resolved.method, cardRef: resolved.cardRef, authenticated };
}

function verifySetup(ctx: PaymentContext, plan: SetupPlan): Promise<VerifyResult> {
  return verifyCard(ctx, 'verify', {
    downstreamKey: `${plan.snapshot.id}:${plan.attempt}`, reference: plan.snapshot.id,
    method: { method: plan.method, cardRef: plan.cardRef } as ResolvedPaymentMethod,
    setup: true, authenticated: plan.authenticated,
  });
}

/** The record step: the acquirer's answer made into the intent's new status, its events and the answer. */
async function recordSetup(q: Tx, ctx: PaymentContext, plan: SetupPlan, result: VerifyResult, expand: string[] | undefined) {
  const si = structuredClone(plan.snapshot);
  if (result.outcome === 'approved') {
    const offSession = si.usage === 'off_session';
    const r = await resolvePaymentMethod(q, ctx.accountId, si.payment_method!, { forUpdate: true });
    if (si.customer) {
      attachSaved(q, ctx, r, si.customer, { setUpForOffSession: offSession });
    } else if (offSession && !r.setUpForOffSession) {
      markSetUpForOffSession(q, ctx.accountId, r.method);
    }
    si.status = 'succeeded';
    si.last_setup_error = null;
    setupIntents.update(q, ctx.accountId, si, { locked_by: null });
    emitEvent(q, ctx, 'setup_intent.succeeded', si);
    return { status: 200, body: await render(q, ctx, si, expand) };
  }
  if (result.outcome === 'requires_action') {
    si.status = 'requires_action';
    si.next_action = threeDSecureAction(si.id);
    setupIntents.update(q, ctx.accountId, si, { locked_by: null });
    emitEvent(q, ctx, 'setup_intent.requires_action', si);
    return { status: 200, body: await render(q, ctx, si, expand) };
  }
  const declined = verificationDeclined(result, plan.method);
  const error = declined.body as unknown as SetupError;
  si.status = 'requires_payment_method';
  si.payment_method = null;
  si.last_setup_error = error;
  setupIntents.update(q, ctx.accountId, si, { locked_by: null });
  emitEvent(q, ctx, 'setup_intent.setup_failed', si);
  return { status: 402, body: { error: { ...error, setup_intent: await render(q, ctx, si, expand) } } };
}

/** The intent as `setup_intent.created` shows it when it is created and confirmed in one call. */
function asCreated(si: SetupIntent): SetupIntent {
  return { ...structuredClone(si), payment_method: null, status: 'requires_payment_method' };
}

type SetupCommand<P> = Command<P, PaymentDeps>;

function applyCommon(si: SetupIntent, p: Partial<Pick<UpdateParams, 'payment_method_types' | 'payment_method_options' | 'excluded_payment_method_types'>>): void {
  if (p.payment_method_types !== undefined) si.payment_method_types = p.payment_method_types;
  if (p.payment_method_options !== undefined) si.payment_method_options = withCardDefaults(p.payment_method_options);
  if (p.excluded_payment_method_types !== undefined) si.excluded_payment_method_types = p.excluded_payment_method_types;
}

export const createSetupIntent: SetupCommand<CreateParams> = {
  name: 'setup_intents.create',
  async run(ctx, p) {
    const build = async (q: Tx): Promise<SetupIntent> => {
      if (p.customer) await liveCustomer(q, ctx.accountId, p.customer, { param: 'customer' });
      if (p.payment_method && !p.confirm) await requirePaymentMethod(q, ctx.accountId, p.payment_method, 'payment_method', p.customer ?? null);
      return buildSetupIntent(newId('seti'), { ...p, customer: p.customer ?? null, payment_method: p.payment_method || null });
    };
    if (!p.confirm) {
      return ctx.finish('create', async (q) => {
        const si = await build(q);
        setupIntents.insert(q, ctx.accountId, si);
        emitEvent(q, ctx, 'setup_intent.created', si);
        return { status: 200, body: await render(q, ctx, si, p.expand) };
      });
    }
    const plan = await ctx.atomic('create', async (q) => {
      const si = await build(q);
      const created = asCreated(si);
      const planned = await beginSetup(q, ctx, si, p.payment_method);
      setupIntents.insert(q, ctx.accountId, si, { locked_by: ctx.idempotencyKey });
      emitEvent(q, ctx, 'setup_intent.created', created);
      return planned;
    });
    const result = await verifySetup(ctx, plan);
    return ctx.finish('record', (q) => recordSetup(q, ctx, plan, result, p.expand));
  },
};

export const updateSetupIntent: SetupCommand<UpdateParams> = {
  name: 'setup_intents.update',
  run: (ctx, p) => ctx.finish('update', async (q) => {
    const si = await lockSetupIntent(q, ctx, p.intent);
    requireAction(si, 'update');
    if (p.customer !== undefined && p.customer !== si.customer) {
      await liveCustomer(q, ctx.accountId, p.customer, { param: 'customer' });
      si.customer = p.customer;
    }
    if (p.payment_method) await requirePaymentMethod(q, ctx.accountId, p.payment_method, 'payment_method', si.customer);
    if (p.description !== undefined) si.description = p.description;
    if (p.metadata !== undefined) si.metadata = applyMetadata(si.metadata, p.metadata);
    applyCommon(si, p);
    if (p.payment_method !== undefined) {
      si.payment_method = p.payment_method || null;
      si.status = si.payment_method ? 'requires_confirmation' : 'requires_payment_method';
      si.next_action = null;
    }
    setupIntents.update(q, ctx.accountId, si);
    return { status: 200, body: await render(q, ctx, si, p.expand) };
  }),
};

export const confirmSetupIntent: SetupCommand<ConfirmParams> = {
  name: 'setup_intents.confirm',
  async run(ctx, p) {
    const plan = await ctx.atomic('begin', async (q) => {
      const si = await lockSetupIntent(q, ctx, p.intent);
      requireAction(si, 'confirm');
      if (p.payment_method_options !== undefined) si.payment_method_options = withCardDefaults(p.payment_method_options);
      const planned = await beginSetup(q, ctx, si, p.payment_method);
      setupIntents.update(q, ctx.accountId, si, { locked_by: ctx.idempotencyKey });
      return planned;
    });
    const result = await verifySetup(ctx, plan);
    return ctx.finish('record', (q) => recordSetup(q, ctx, plan, result, p.expand));
  },
};

export const cancelSetupIntent: SetupCommand<CancelParams> = {
  name: 'setup_intents.cancel',
  run: (ctx, p) => ctx.finish('cancel', async (q) => {
    const si = await lockSetupIntent(q, ctx, p.intent);
    requireAction(si, 'cancel');
    si.status = 'canceled';
    si.cancellation_reason = p.cancellation_reason ?? null;
    si.next_action = null;
    setupIntents.update(q, ctx.accountId, si);
    emitEvent(q, ctx, 'setup_intent.canceled', si);
    return { status: 200, body: await render(q, ctx, si, p.expand) };
  }),
};
