/**
 * Completing a Checkout Session: what the hosted page's submit does (and the test helper, with the
 * same command), made of the API's own commands as an integration would call them:
 *
 *   begin    lock the open session under this completion's key (a second tab, or the helper,
 *            waits), note the attempt every inner key is derived from
 *   steps    payment mode:      customers.create (customer_creation=always, or a card kept for
 *                               later) -> payment_intents.create with confirm=true (a retry after a
 *                               decline confirms the same intent with the new card)
 *            subscription mode: customers.create (unless given) -> payment_methods.attach ->
 *                               invoiceitems.create (one-time items, on the first invoice) ->
 *                               subscriptions.create (a retry: the new card as its default, then
 *                               invoices.pay)
 *            setup mode:        setup_intents.confirm of the session's setup intent
 *   record   the outcome read back from the objects: complete (checkout.session.completed), a
 *            3-D Secure step the customer must finish, or a card error the page shows (the attempt
 *            counter moves on, so the next submission is a new request)
 *
 * Each step runs through the engine under `oncepay_checkout_<session>_<attempt>_<step>`: a resume
 * (the page's retry after `kill -9`, or the completer) asks again with the same keys and gets the
 * first answers back, so nothing is charged, created or attached twice.
 *
 * The 3-D Secure step's answer (authenticateCheckoutSession) confirms the waiting intent again (an
 * authenticated confirmation) or fails its authentication, then records the same way.
 */
import type { Command, CommandContext } from '../idempotency/engine.ts';
import type { Queryable, Tx } from '../store/db.ts';
import { ApiError, invalidRequest } from '../errors.ts';
import { nowSeconds } from '../ids.ts';
import { emitEvent } from '../events/outbox.ts';
import { render } from '../payments/ports.ts';
import { createCustomer, createCustomerParams } from '../payments/customers.ts';
import { confirmPaymentIntent, confirmPaymentIntentParams, createPaymentIntent, createPaymentIntentParams } from '../payments/payment_intents.ts';
import { attachPaymentMethod, attachPaymentMethodParams } from '../payments/payment_method_commands.ts';
import { confirmSetupIntent, confirmSetupIntentParams, setupIntents, type SetupIntent } from '../payments/setup_intents.ts';
import { failAuthenticationParams, failPaymentAuthentication, failSetupAuthentication } from '../payments/authentication.ts';
import { customers, paymentIntents, type PaymentIntent } from '../payments/payment_objects.ts';
import { createSubscription, updateSubscription } from '../billing/subscriptions.ts';
import { createSubscriptionParams, updateSubscriptionParams } from '../billing/subscription_params.ts';
import { createInvoiceItem, createInvoiceItemParams } from '../billing/invoice_items.ts';
import { payInvoice, payInvoiceParams } from '../billing/invoices.ts';
import { invoicePayments, invoices, subscriptions } from '../billing/billing_objects.ts';
import type { ObjectSchema, Shape } from '../schema/params.ts';
import type { CommandAnswer, HostedDeps } from './hosted_deps.ts';
import { customerDetails, lockSession, saveSession, type AttemptError, type CheckoutSession, type StoredSession } from './session_objects.ts';
import { notOpen } from './sessions.ts';
import type { AuthenticateParams, CompleteParams } from './session_params.ts';

type Ctx = CommandContext<HostedDeps>;

/** What begin fixed: the attempt, and the session as it was (the steps read it, never the live row). */
interface Begun {
  attempt: number;
  session: CheckoutSession;
  lineItems: StoredSession['lineItems'];
  settings: StoredSession['settings'];
  customerMade: boolean;
}

/** The card error a page shows: Stripe's message, code and decline code. */
function attemptError(body: Record<string, unknown>): AttemptError {
  const e = (body.error ?? {}) as { message?: string; code?: string; decline_code?: string };
  return { message: e.message ?? 'Your card could not be charged.', code: e.code ?? 'card_declined', ...(e.decline_code ? { decline_code: e.decline_code } : {}) };
}

async function begin(ctx: Ctx, p: { session: string; attempt?: number }, awaiting: boolean): Promise<Begun> {
  return ctx.atomic('begin', async (q) => {
    const s = await lockSession(q, ctx.accountId, p.session, ctx.idempotencyKey);
    if (s.session.status !== 'open') throw notOpen(s.session, 'complete');
    if (s.session.expires_at <= nowSeconds()) throw invalidRequest(`This Checkout Session (${s.session.id}) has expired.`, 'session');
    if (s.progress.awaiting_action !== awaiting) {
      throw invalidRequest(awaiting
        ? `This Checkout Session (${s.session.id}) has no authentication step waiting.`
        : `This Checkout Session (${s.session.id}) is waiting for the customer to authenticate the card (3-D Secure): answer that step first.`, 'session');
    }
    if (p.attempt !== undefined && p.attempt !== s.progress.attempt) {
      throw invalidRequest(`This submission belongs to attempt ${p.attempt} of the Checkout Session, which is now at attempt ${s.progress.attempt}: reload the page.`, 'attempt');
    }
    saveSession(q, ctx.accountId, s, ctx.idempotencyKey);
    return { attempt: s.progress.attempt, session: s.session, lineItems: s.lineItems, settings: s.settings, customerMade: s.progress.customer_made };
  });
}

/** Runs one of the API's commands as a step, under a key derived from the session (and the attempt). */
function step<S extends Shape>(ctx: Ctx, name: string, key: string, call: { path: string; method?: 'POST' | 'DELETE'; command: Command<never, never>; schema: ObjectSchema<S>; params: Record<string, unknown> }): Promise<CommandAnswer> {
  return ctx.foreign(name, async () => {
    const params = call.schema.parse(call.params, '') as Record<string, unknown>;
    try {
      return await ctx.deps.commands.execute({ accountId: ctx.accountId, key, method: call.method ?? 'POST', path: call.path, command: call.command, params });
    } catch (err) {
      // The inner key is in use (the completer resumes it right now): this completion waits its turn.
      if (err instanceof ApiError && err.status === 409) throw new ApiError(409, err.body, err.headers, true);
      throw err;
    }
  });
}

const ok = (a: CommandAnswer) => a.status === 200;
const idOf = (a: CommandAnswer) => a.body.id as string;

interface Steps {
  /** The customer the session has (or made). */
  customer: string | null;
  customerMade: boolean;
  /** The payment intent a payment-mode step made or confirmed (a decline's answer carries it too). */
  paymentIntent?: string;
  /** The subscription a subscription-mode step made. */
  subscription?: string;
  /** A step that refused (a decline at attach, a bad payment method): the answer to pass on. */
  refused?: CommandAnswer;
}

/** The customer to pay as: the session's, or one made now from what the page collected (once per session). */
async function customerFor(ctx: Ctx, b: Begun, p: CompleteParams, required: boolean): Promise<Steps> {
  if (b.session.customer) return { customer: b.session.customer, customerMade: b.customerMade };
  if (!required) return { customer: null, customerMade: false };
  const email = p.email ?? b.session.customer_email ?? undefined;
  const made = await step(ctx, 'customer', `oncepay_checkout_${b.session.id}_customer`, {
    path: '/v1/customers', command: createCustomer as Command<never, never>, schema: createCustomerParams,
    params: { ...(email ? { email } : {}), ...(p.name ? { name: p.name } : {}) },
  });
  if (!ok(made)) return { customer: null, customerMade: false, refused: made };
  return { customer: idOf(made), customerMade: true };
}

async function payStep(ctx: Ctx, b: Begun, p: CompleteParams, keyBase: string): Promise<Steps> {
  const pid = b.settings.payment_intent_data ?? {};
  const who = await customerFor(ctx, b, p, b.session.customer_creation === 'always' || !!pid.setup_future_usage);
  if (who.refused) return who;
  const answer = b.session.payment_intent
    ? await step(ctx, 'pay', `${keyBase}_pay`, {
      path: `/v1/payment_intents/${b.session.payment_intent}/confirm`, command: confirmPaymentIntent as Command<never, never>, schema: confirmPaymentIntentParams,
      params: { intent: b.session.payment_intent, payment_method: p.payment_method },
    })
    : await step(ctx, 'pay', `${keyBase}_pay`, {
      path: '/v1/payment_intents', command: createPaymentIntent as Command<never, never>, schema: createPaymentIntentParams,
      params: {
        amount: b.session.amount_total, currency: b.session.currency, confirm: true, payment_method: p.payment_method, payment_method_types: ['card'],
        ...(who.customer ? { customer: who.customer } : {}),
        ...(pid.capture_method ? { capture_method: pid.capture_method === 'automatic_async' ? 'automatic' : pid.capture_method } : {}),
        ...(pid.setup_future_usage ? { setup_future_usage: pid.setup_future_usage } : {}),
        ...(pid.description ? { description: pid.description } : {}),
        ...(pid.metadata ? { metadata: pid.metadata } : {}),
        ...(pid.statement_descriptor ? { statement_descriptor: pid.statement_descriptor } : {}),
        ...(pid.statement_descriptor_suffix ? { statement_descriptor_suffix: pid.statement_descriptor_suffix } : {}),
        ...((pid.receipt_email ?? p.email ?? b.session.customer_email) ? { receipt_email: pid.receipt_email ?? p.email ?? b.session.customer_email } : {}),
      },
    });
  // A decline answers 402 with the intent: the session keeps it, the next attempt confirms it again.
  const intent = answer.status === 200 ? idOf(answer) : (answer.body.error as { payment_intent?: { id: string } } | undefined)?.payment_intent?.id;
  if (intent) who.paymentIntent = intent;
  return answer.status === 200 || answer.status === 402 ? who : { ...who, refused: answer };
}

async function subscribeStep(ctx: Ctx, b: Begun, p: CompleteParams, keyBase: string): Promise<Steps> {
  const who = await customerFor(ctx, b, p, true);
  if (who.refused) return who;
  const customer = who.customer!;
  const attached = await step(ctx, 'attach', `${keyBase}_attach`, {
    path: `/v1/payment_methods/${p.payment_method}/attach`, command: attachPaymentMethod as Command<never, never>, schema: attachPaymentMethodParams,
    params: { payment_method: p.payment_method, customer },
  });
  if (!ok(attached)) return { ...who, refused: attached };
  const method = idOf(attached);
  if (b.session.subscription) {
    const sub = await step(ctx, 'default', `${keyBase}_default`, {
      path: `/v1/subscriptions/${b.session.subscription}`, command: updateSubscription as Command<never, never>, schema: updateSubscriptionParams,
      params: { subscription: b.session.subscription, default_payment_method: method },
    });
    if (!ok(sub)) return { ...who, refused: sub };
    const invoice = sub.body.latest_invoice as string;
    const paid = await step(ctx, 'pay', `${keyBase}_pay`, {
      path: `/v1/invoices/${invoice}/pay`, command: payInvoice as Command<never, never>, schema: payInvoiceParams,
      params: { invoice, payment_method: method },
    });
    return paid.status === 200 || paid.status === 402 ? who : { ...who, refused: paid };
  }
  const once = `oncepay_checkout_${b.session.id}`;
  const recurring = b.lineItems.filter((li) => li.price.type === 'recurring');
  for (const [i, li] of b.lineItems.entries()) {
    if (li.price.type === 'recurring') continue;
    const item = await step(ctx, `item_${i}`, `${once}_item_${i}`, {
      path: '/v1/invoiceitems', command: createInvoiceItem as Command<never, never>, schema: createInvoiceItemParams,
      params: { customer, pricing: { price: li.price.id }, quantity: li.quantity },
    });
    if (!ok(item)) return { ...who, refused: item };
  }
  const sd = b.settings.subscription_data ?? {};
  const sub = await step(ctx, 'subscribe', `${once}_subscribe`, {
    path: '/v1/subscriptions', command: createSubscription as Command<never, never>, schema: createSubscriptionParams,
    params: {
      customer, default_payment_method: method, payment_behavior: 'allow_incomplete',
      items: recurring.map((li) => ({ price: li.price.id, quantity: li.quantity })),
      ...(sd.trial_period_days ? { trial_period_days: sd.trial_period_days } : {}),
      ...(sd.metadata ? { metadata: sd.metadata } : {}),
      ...(sd.description ? { description: sd.description } : {}),
    },
  });
  return ok(sub) ? { ...who, subscription: idOf(sub) } : { ...who, refused: sub };
}

async function setupStep(ctx: Ctx, b: Begun, p: CompleteParams, keyBase: string): Promise<Steps> {
  const answer = await step(ctx, 'setup', `${keyBase}_setup`, {
    path: `/v1/setup_intents/${b.session.setup_intent}/confirm`, command: confirmSetupIntent as Command<never, never>, schema: confirmSetupIntentParams,
    params: { intent: b.session.setup_intent, payment_method: p.payment_method },
  });
  const who = { customer: b.session.customer, customerMade: false };
  return answer.status === 200 || answer.status === 402 ? who : { ...who, refused: answer };
}

/** The payment intent of a subscription's latest invoice (its last payment attempt). */
async function invoiceIntent(q: Queryable, accountId: string, invoice: string | null): Promise<PaymentIntent | undefined> {
  if (!invoice) return undefined;
  const { data } = await invoicePayments.list(q, accountId, { limit: 1, where: { invoice } });
  return data[0] ? paymentIntents.find(q, accountId, data[0].payment.payment_intent) : undefined;
}

type Outcome = { kind: 'complete'; paymentStatus: CheckoutSession['payment_status'] } | { kind: 'action' } | { kind: 'declined'; error: AttemptError } | { kind: 'open' };

const intentError = (e: { message: string; code: string; decline_code?: string } | null | undefined): AttemptError =>
  e ? { message: e.message, code: e.code, ...(e.decline_code ? { decline_code: e.decline_code } : {}) } : { message: 'Your card could not be charged.', code: 'card_declined' };

function intentOutcome(pi: PaymentIntent | undefined): Outcome {
  if (!pi) return { kind: 'open' };
  if (pi.status === 'succeeded') return { kind: 'complete', paymentStatus: 'paid' };
  if (pi.status === 'requires_capture' || pi.status === 'processing') return { kind: 'complete', paymentStatus: 'unpaid' };
  if (pi.status === 'requires_action') return { kind: 'action' };
  return { kind: 'declined', error: intentError(pi.last_payment_error) };
}

function setupOutcome(si: SetupIntent | undefined): Outcome {
  if (!si) return { kind: 'open' };
  if (si.status === 'succeeded') return { kind: 'complete', paymentStatus: 'no_payment_required' };
  if (si.status === 'requires_action') return { kind: 'action' };
  return { kind: 'declined', error: intentError(si.last_setup_error) };
}

/**
 * Reads where the session's payment, subscription or setup stands and moves the session with it:
 * complete (once: checkout.session.completed), waiting on 3-D Secure, or declined (attempt + 1).
 */
async function record(q: Tx, ctx: Ctx, sessionId: string, steps: Steps, collected: { email?: string; name?: string }, expand: string[] | undefined) {
  const s = await lockSession(q, ctx.accountId, sessionId, ctx.idempotencyKey);
  const session = s.session;
  if (steps.customer && !session.customer) session.customer = steps.customer;
  if (steps.customerMade) s.progress.customer_made = true;
  if (steps.subscription) session.subscription = steps.subscription;
  if (steps.paymentIntent) session.payment_intent = steps.paymentIntent;
  let outcome: Outcome;
  if (steps.refused) {
    outcome = { kind: 'declined', error: attemptError(steps.refused.body) };
  } else if (session.mode === 'payment') {
    outcome = intentOutcome(session.payment_intent ? await paymentIntents.find(q, ctx.accountId, session.payment_intent) : undefined);
  } else if (session.mode === 'subscription') {
    const sub = session.subscription ? await subscriptions.find(q, ctx.accountId, session.subscription) : undefined;
    if (sub && (sub.status === 'active' || sub.status === 'trialing')) {
      const inv = sub.latest_invoice ? await invoices.find(q, ctx.accountId, sub.latest_invoice) : undefined;
      outcome = { kind: 'complete', paymentStatus: sub.status === 'trialing' || (inv && inv.amount_paid === 0) ? 'no_payment_required' : 'paid' };
    } else {
      outcome = intentOutcome(await invoiceIntent(q, ctx.accountId, sub?.latest_invoice ?? null));
    }
  } else {
    outcome = setupOutcome(await setupIntents.find(q, ctx.accountId, session.setup_intent!));
  }
  s.progress.awaiting_action = outcome.kind === 'action';
  if (outcome.kind === 'declined') {
    s.progress.attempt += 1;
    s.progress.error = outcome.error;
  } else {
    s.progress.error = null;
  }
  if (outcome.kind === 'complete') {
    session.status = 'complete';
    session.payment_status = outcome.paymentStatus;
    session.url = null;
  }
  if (collected.email || collected.name || outcome.kind === 'complete') session.customer_details = await detailsOf(q, ctx, session, collected);
  saveSession(q, ctx.accountId, s, null);
  if (outcome.kind === 'complete') emitEvent(q, ctx, 'checkout.session.completed', session);
  if (outcome.kind !== 'declined') return { status: 200, body: await render(q, ctx, session, expand) };
  // A refused step answers as that command did; a declined card as Stripe's confirm does (402
  // card_error carrying the intent). The session moved to its next attempt either way.
  if (steps.refused) return steps.refused;
  const e = s.progress.error!;
  const intent = session.mode === 'setup'
    ? { setup_intent: await render(q, ctx, await setupIntents.get(q, ctx.accountId, session.setup_intent!), undefined) }
    : await declinedIntent(q, ctx, session);
  return { status: 402, body: { error: { type: 'card_error', code: e.code, ...(e.decline_code ? { decline_code: e.decline_code } : {}), message: e.message, ...intent } } };
}

/** The payment intent a payment- or subscription-mode decline happened on, as the error's payment_intent. */
async function declinedIntent(q: Queryable, ctx: Ctx, session: CheckoutSession): Promise<Record<string, unknown>> {
  const pi = session.mode === 'payment'
    ? session.payment_intent ? await paymentIntents.find(q, ctx.accountId, session.payment_intent) : undefined
    : await invoiceIntent(q, ctx.accountId, session.subscription ? (await subscriptions.get(q, ctx.accountId, session.subscription)).latest_invoice : null);
  return pi ? { payment_intent: await render(q, ctx, pi, undefined) } : {};
}

/** Stripe's customer_details: what the customer typed on the page, else what their customer object says. */
async function detailsOf(q: Queryable, ctx: Ctx, session: CheckoutSession, collected: { email?: string; name?: string }): Promise<CheckoutSession['customer_details']> {
  const cus = session.customer ? await customers.find(q, ctx.accountId, session.customer) : undefined;
  const prior = session.customer_details;
  return customerDetails({
    email: collected.email ?? prior?.email ?? cus?.email ?? session.customer_email,
    name: collected.name ?? prior?.name ?? cus?.name ?? null, tax_exempt: cus?.tax_exempt,
  });
}

const attemptKey = (b: Begun) => `oncepay_checkout_${b.session.id}_${b.attempt}`;

export const completeCheckoutSession: Command<CompleteParams, HostedDeps> = {
  name: 'checkout_sessions.complete',
  async run(ctx, p) {
    const b = await begin(ctx, p, false);
    const keyBase = attemptKey(b);
    const steps = b.session.mode === 'payment' ? await payStep(ctx, b, p, keyBase)
      : b.session.mode === 'subscription' ? await subscribeStep(ctx, b, p, keyBase)
        : await setupStep(ctx, b, p, keyBase);
    const collected = { ...(p.email ? { email: p.email } : {}), ...(p.name ? { name: p.name } : {}) };
    return ctx.finish('record', (q) => record(q, ctx, p.session, steps, collected, p.expand));
  },
};

export const authenticateCheckoutSession: Command<AuthenticateParams, HostedDeps> = {
  name: 'checkout_sessions.authenticate',
  async run(ctx, p) {
    const b = await begin(ctx, p, true);
    const keyBase = `${attemptKey(b)}_3ds`;
    const complete = p.outcome === 'complete';
    const s = b.session;
    let answer: CommandAnswer;
    if (s.mode === 'setup') {
      answer = complete
        ? await step(ctx, 'authenticate', keyBase, { path: `/v1/setup_intents/${s.setup_intent}/confirm`, command: confirmSetupIntent as Command<never, never>, schema: confirmSetupIntentParams, params: { intent: s.setup_intent } })
        : await step(ctx, 'authenticate', keyBase, { path: `/v1/setup_intents/${s.setup_intent}/fail_authentication`, command: failSetupAuthentication as Command<never, never>, schema: failAuthenticationParams, params: { intent: s.setup_intent } });
    } else {
      // The payment waiting: the session's intent, or the one paying its subscription's first invoice.
      const { intent, invoice } = await ctx.atomic('intent', async (q) => {
        if (s.mode === 'payment') return { intent: s.payment_intent, invoice: null };
        const latest = (await subscriptions.get(q, ctx.accountId, s.subscription!)).latest_invoice;
        return { intent: (await invoiceIntent(q, ctx.accountId, latest))?.id ?? null, invoice: latest };
      });
      if (!intent) throw invalidRequest(`This Checkout Session (${s.id}) has no payment waiting for authentication.`, 'session');
      answer = complete && invoice
        ? await step(ctx, 'authenticate', keyBase, { path: `/v1/invoices/${invoice}/pay`, command: payInvoice as Command<never, never>, schema: payInvoiceParams, params: { invoice } })
        : complete
          ? await step(ctx, 'authenticate', keyBase, { path: `/v1/payment_intents/${intent}/confirm`, command: confirmPaymentIntent as Command<never, never>, schema: confirmPaymentIntentParams, params: { intent } })
          : await step(ctx, 'authenticate', keyBase, { path: `/v1/payment_intents/${intent}/fail_authentication`, command: failPaymentAuthentication as Command<never, never>, schema: failAuthenticationParams, params: { intent } });
    }
    const steps: Steps = { customer: s.customer, customerMade: false, ...(answer.status === 200 || answer.status === 402 ? {} : { refused: answer }) };
    return ctx.finish('record', (q) => record(q, ctx, p.session, steps, {}, p.expand));
  },
};
