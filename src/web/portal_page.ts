/**
 * The billing portal's hosted page at a portal session's `url` (/p/session/<token>): the
 * customer's subscriptions, invoices and cards, and the changes the session's configuration lets
 * the customer make.
 *
 *   GET  /p/session/:token              the portal; ?update=<subscription> the price choice,
 *                                       ?add=card the card form, ?notice=<code> a fixed notice;
 *                                       a session made with flow_data opens on its flow's page
 *                                       (the card form, the subscription's cancellation, the
 *                                       price choice, preselected for subscription_update_confirm;
 *                                       ?home=1 the portal itself), and the action that completes
 *                                       the flow ends as after_completion says (a redirect, the
 *                                       hosted confirmation's message, or the portal). A
 *                                       customer_update flow opens the portal, whose billing
 *                                       information section edits the details.
 *   POST /p/session/:token              one action (the form's `action` and `target`):
 *     cancel   subscription_cancel: at_period_end -> subscriptions.update cancel_at_period_end=true;
 *              immediately -> subscriptions.cancel (with the reason when cancellation_reason is on)
 *     renew    subscription_cancel: subscriptions.update cancel_at_period_end=false
 *     details  customer_update: customers.update of the allowed_updates among email, name and
 *              phone (address, shipping and tax ids are not editable on this page)
 *     update   subscription_update (price among default_allowed_updates): subscriptions.update
 *              with the item's new price, one of the configuration's products' prices of the same
 *              currency and interval (Oncepay does not prorate, so a change of interval, which
 *              would bill another period, is not offered)
 *     default  payment_method_update: customers.update invoice_settings[default_payment_method];
 *              live subscriptions that name a payment method of their own follow it
 *     remove   payment_method_update: payment_methods.detach; refused while a live subscription
 *              needs the card (the customer's default, a subscription's card or the only card:
 *              Stripe's portal keeps at least one payment method for an active subscription)
 *     add      payment_method_update: payment_methods.create, attach to the customer, and (as
 *              Stripe's portal does) make it the default unless the customer unticks it and has one
 *
 * Every change runs the API's own command through the engine, so it emits what the API would.
 * The form is never trusted: the action is checked against the configuration as it is now, and
 * the target (a subscription, a payment method, a price) against the session's customer's own
 * objects. A change's key derives from the session, the action, the target and the render's form
 * nonce (`oncepay_portal_<bps>_<action>_<target>_<nonce>`), so a double click, or a reload that
 * posts again, asks the engine the same question and gets the first answer (a key already used
 * by this page is replayed without checking again: the objects it checked have changed since).
 * Every POST answers 303 back to the page with a notice code mapped to fixed words.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Command } from '../idempotency/engine.ts';
import { portalPath, portalSessionByToken } from '../portal/portal_objects.ts';
import { subscriptions } from '../billing/billing_objects.ts';
import { cancelSubscription, updateSubscription } from '../billing/subscriptions.ts';
import { cancelSubscriptionParams, updateSubscriptionParams } from '../billing/subscription_params.ts';
import { paymentMethods } from '../payments/payment_methods.ts';
import { updateCustomer, updateCustomerParams } from '../payments/customers.ts';
import {
  attachPaymentMethod, attachPaymentMethodParams, detachPaymentMethod, detachPaymentMethodParams,
} from '../payments/payment_method_commands.ts';
import type { CommandAnswer, CommandCall } from '../checkout/hosted_deps.ts';
import { cardRefusal, createCard, readCardForm, type FieldErrors } from './card_form.ts';
import { csrfOk, csrfToken, field, messagePage, runCommand, seeOther, type WebDeps } from './page_kit.ts';
import { invoiceDate } from './invoice_pdf.ts';
import {
  ACTIONS, DETAILS, NOTICES, addCardPage, cancelPage, cancelsOn, changeable, editable, expiredPage, homePage, load, neededCards, notFound, offers, refused, tokenOf, updatePage,
  type Action, type Detail, type Found, type View,
} from './portal_views.ts';

type TokenRequest = FastifyRequest<{ Params: { token: string } }>;
/** The flow a session opened with is done once its action succeeds on its subscription (or a card is added). */
function flowDone(f: Found, action: Action, target: string): boolean {
  const flow = f.session.flow;
  if (!flow) return false;
  switch (flow.type) {
    case 'payment_method_update': return action === 'add';
    case 'customer_update': return action === 'details';
    case 'subscription_cancel': return action === 'cancel' && target === flow.subscription_cancel?.subscription;
    case 'subscription_update': return action === 'update' && target === flow.subscription_update?.subscription;
    case 'subscription_update_confirm': return action === 'update' && target === flow.subscription_update_confirm?.subscription;
    default: return false;
  }
}

/** After a successful action: the flow's after_completion when it completes the flow, else back to the page. */
function done(reply: FastifyReply, f: Found, action: Action, target: string, notice: string, extra: Record<string, string> = {}): FastifyReply {
  const after = f.session.flow?.after_completion;
  if (after && flowDone(f, action, target)) {
    if (after.type === 'redirect' && after.redirect) return seeOther(reply, after.redirect.return_url);
    if (after.type === 'hosted_confirmation') return back(reply, f, 'flow_confirmed', { home: '1', ...extra });
    return back(reply, f, notice, { home: '1', ...extra });
  }
  return back(reply, f, notice, extra);
}

function back(reply: FastifyReply, f: Found, notice: string, extra: Record<string, string> = {}): FastifyReply {
  const q = new URLSearchParams({ notice, ...extra });
  return seeOther(reply, `${portalPath(tokenOf(f))}?${q.toString()}`);
}

/** True when this page already asked the engine under `key` (a double click's second post, a reload that posts again). */
async function asked(deps: WebDeps, f: Found, key: string): Promise<boolean> {
  const { rows } = await deps.db.query<{ n: number }>('SELECT count(*)::int AS n FROM idempotency_keys WHERE account_id = $1 AND key = $2 AND client_supplied = false', [f.accountId, key]);
  return (rows[0]?.n ?? 0) > 0;
}


const call = (f: Found, key: string, method: 'POST' | 'DELETE', path: string, command: unknown, params: unknown): CommandCall =>
  ({ accountId: f.accountId, key, method, path, command: command as Command<never, never>, params: params as Record<string, unknown> });

/** Makes `pm` the customer's default, and the card of the live subscriptions that name one of their own. */
async function makeDefault(deps: WebDeps, f: Found, v: View, key: string, pm: string): Promise<CommandAnswer> {
  const customer = f.session.customer;
  const answer = await runCommand(deps, call(f, key, 'POST', `/v1/customers/${customer}`, updateCustomer,
    updateCustomerParams.parse({ customer, invoice_settings: { default_payment_method: pm } }, '')));
  if (answer.status !== 200) return answer;
  for (const { sub } of v.subs) {
    if (!changeable(sub) || !sub.default_payment_method || sub.default_payment_method === pm) continue;
    await runCommand(deps, call(f, `${key}_${sub.id}`, 'POST', `/v1/subscriptions/${sub.id}`, updateSubscription,
      updateSubscriptionParams.parse({ subscription: sub.id, default_payment_method: pm }, '')));
  }
  return answer;
}

export async function portalPage(app: FastifyInstance, deps: WebDeps): Promise<void> {
  app.get('/p/session/:token', async (req: TokenRequest, reply) => {
    const f = await portalSessionByToken(deps.db, req.params.token);
    if (!f) return notFound(reply);
    if (f.expired) return expiredPage(reply, f);
    const v = await load(deps, f);
    if (!v) return messagePage(reply, 404, 'This account is not available', 'Ask the shop for help with your billing.');
    const query = req.query as Record<string, string | undefined>;
    const csrf = csrfToken(req, reply);
    if (query.update) {
      const page = await updatePage(deps, reply, f, v, csrf, query.update);
      if (page) return page;
    }
    if (query.add === 'card' && f.configuration.features.payment_method_update.enabled) return addCardPage(reply, f, v, csrf);
    // A deep link (flow_data): the session opens on its flow's page until the customer goes elsewhere.
    const flow = f.session.flow;
    if (flow && !query.home && !query.notice && !query.update && !query.add) {
      const page = flow.type === 'payment_method_update' && f.configuration.features.payment_method_update.enabled ? addCardPage(reply, f, v, csrf)
        : flow.type === 'subscription_cancel' && f.configuration.features.subscription_cancel.enabled ? cancelPage(reply, f, v, csrf, flow.subscription_cancel!.subscription)
          : flow.type === 'subscription_update' ? await updatePage(deps, reply, f, v, csrf, flow.subscription_update!.subscription)
            : flow.type === 'subscription_update_confirm' ? await updatePage(deps, reply, f, v, csrf, flow.subscription_update_confirm!.subscription, flow.subscription_update_confirm!.items[0]?.price)
              : undefined;
      if (page) return page;
    }
    let notice = NOTICES[query.notice ?? ''];
    if (query.notice === 'flow_confirmed') notice = f.session.flow?.after_completion.hosted_confirmation?.custom_message ?? 'Your changes have been saved.';
    if (query.notice === 'cancel_scheduled') {
      const s = v.subs.find((x) => x.sub.id === query.subscription);
      const on = s ? cancelsOn(s.sub) : null;
      notice = on !== null ? `Your subscription will be canceled on ${invoiceDate(on)}.` : 'Your subscription will be canceled at the end of its billing period.';
    }
    return homePage(deps, reply, f, v, csrf, notice);
  });

  app.post('/p/session/:token', async (req: TokenRequest, reply) => {
    const f = await portalSessionByToken(deps.db, req.params.token);
    if (!f) return notFound(reply);
    if (f.expired) return expiredPage(reply, f, 403);
    const v = await load(deps, f);
    if (!v) return messagePage(reply, 404, 'This account is not available', 'Ask the shop for help with your billing.');
    const body = req.body;
    if (!csrfOk(req, field(body, 'csrf'))) return homePage(deps, reply, f, v, csrfToken(req, reply), NOTICES.csrf, 403);
    const action = field(body, 'action') as Action;
    const target = field(body, 'target');
    const nonce = field(body, 'nonce');
    if (!ACTIONS.includes(action) || !/^[A-Za-z0-9_]{1,100}$/.test(target) || !/^[A-Za-z0-9]{16}$/.test(nonce)) {
      return refused(reply, f, 400, 'This form could not be read.');
    }
    const feats = f.configuration.features;
    const customer = f.session.customer;
    const base = `oncepay_portal_${f.session.id}_${action}_${target}`;

    if (action === 'cancel' || action === 'renew' || action === 'update') {
      if (!feats[action === 'update' ? 'subscription_update' : 'subscription_cancel'].enabled) {
        return refused(reply, f, 403, action === 'update' ? 'Subscriptions cannot be updated here.' : 'Subscriptions cannot be canceled or renewed here.');
      }
      const sub = await subscriptions.find(deps.db, f.accountId, target);
      if (!sub || sub.customer !== customer) return refused(reply, f, 403, 'This subscription is not one of yours.');
      if (action === 'update') {
        const price = field(body, 'price');
        if (!/^[A-Za-z0-9_]{1,100}$/.test(price)) return refused(reply, f, 400, 'Choose a new price.');
        const key = `${base}_${price}_${nonce}`;
        if (!await asked(deps, f, key)) {
          const choice = (await offers(deps, f, sub)).find((o) => o.price.id === price);
          if (!choice) return refused(reply, f, 403, 'This price is not offered for your subscription.');
          if (choice.price.id === sub.items.data[0]!.price.id) return back(reply, f, 'updated');
        }
        const answer = await runCommand(deps, call(f, key, 'POST', `/v1/subscriptions/${sub.id}`, updateSubscription,
          updateSubscriptionParams.parse({ subscription: sub.id, items: [{ id: sub.items.data[0]!.id, price }], proration_behavior: 'none' }, '')));
        return answer.status === 200 ? done(reply, f, action, target, 'updated') : back(reply, f, 'failed');
      }
      const key = `${base}_${nonce}`;
      const again = await asked(deps, f, key);
      if (!again && !changeable(sub)) return back(reply, f, 'failed');
      if (action === 'renew') {
        const answer = await runCommand(deps, call(f, key, 'POST', `/v1/subscriptions/${sub.id}`, updateSubscription,
          updateSubscriptionParams.parse({ subscription: sub.id, cancel_at_period_end: false }, '')));
        return back(reply, f, answer.status === 200 ? 'renewed' : 'failed');
      }
      const reasons = feats.subscription_cancel.cancellation_reason;
      const reason = field(body, 'reason');
      if (reason && (!reasons.enabled || !(reasons.options as string[]).includes(reason))) return refused(reply, f, 400, 'This reason is not one of the choices.');
      const details = reason ? { cancellation_details: { feedback: reason } } : {};
      if (feats.subscription_cancel.mode === 'immediately') {
        const answer = await runCommand(deps, call(f, key, 'DELETE', `/v1/subscriptions/${sub.id}`, cancelSubscription,
          cancelSubscriptionParams.parse({ subscription: sub.id, ...details }, '')));
        return answer.status === 200 ? done(reply, f, action, target, 'canceled') : back(reply, f, 'failed');
      }
      const answer = await runCommand(deps, call(f, key, 'POST', `/v1/subscriptions/${sub.id}`, updateSubscription,
        updateSubscriptionParams.parse({ subscription: sub.id, cancel_at_period_end: true, ...details }, '')));
      return answer.status === 200 ? done(reply, f, action, target, 'cancel_scheduled', { subscription: sub.id }) : back(reply, f, 'failed');
    }

    if (action === 'details') {
      const fields = editable(f);
      if (fields.length === 0) return refused(reply, f, 403, 'Your billing information cannot be changed here.');
      if (target !== customer) return refused(reply, f, 403, 'This account is not yours.');
      const errors: Partial<Record<Detail, string>> = {};
      const changes: Partial<Record<Detail, string>> = {};
      for (const k of fields) {
        const value = field(body, k);
        if (value.length > DETAILS[k].max) errors[k] = `${DETAILS[k].label} is too long.`;
        else if (k === 'email' && value && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(value)) errors[k] = 'Your email address is invalid.';
        else if (k === 'email' && !value) errors[k] = 'Your email address is required.';
        else if (value !== (v.customer[k] ?? '')) changes[k] = value;
      }
      // Anything else the form carries is not this page's to change: ignored, as a browser never sends it.
      if (Object.keys(errors).length > 0) return homePage(deps, reply, f, v, csrfToken(req, reply), undefined, 400, errors);
      if (Object.keys(changes).length === 0) return back(reply, f, 'details_saved');
      const answer = await runCommand(deps, call(f, `${base}_${nonce}`, 'POST', `/v1/customers/${customer}`, updateCustomer,
        updateCustomerParams.parse({ customer, ...changes }, '')));
      return answer.status === 200 ? done(reply, f, action, target, 'details_saved') : back(reply, f, 'failed');
    }

    // Payment methods.
    if (!feats.payment_method_update.enabled) return refused(reply, f, 403, 'Payment methods cannot be changed here.');
    if (action === 'add') {
      const key = `${base}_${nonce}`;
      const { entry, errors } = readCardForm(body, { email: false });
      const again = (status: number, opts: { errors?: FieldErrors; message?: string }) => addCardPage(reply, f, v, csrfToken(req, reply), { status, ...opts, name: entry.name });
      if (Object.keys(errors).length > 0) return again(400, { errors });
      const card = await createCard(deps, { accountId: f.accountId, key: `${key}_pm`, entry, withEmail: false });
      if ('refused' in card) return again(card.refused.status, card.refused);
      const pmId = card.id;
      const attached = await runCommand(deps, call(f, `${key}_attach`, 'POST', `/v1/payment_methods/${pmId}/attach`, attachPaymentMethod,
        attachPaymentMethodParams.parse({ payment_method: pmId, customer }, '')));
      if (attached.status !== 200) { const r = cardRefusal(attached); return again(r.status, r); }
      const attachedId = attached.body.id as string;
      // Stripe's portal makes a newly added card the default; the customer may keep the old one if there is one.
      const asDefault = field(body, 'make_default') === 'true' || !v.customer.invoice_settings.default_payment_method || await asked(deps, f, `${key}_default`);
      if (!asDefault) return done(reply, f, action, target, 'card_added');
      const made = await makeDefault(deps, f, v, `${key}_default`, attachedId);
      return done(reply, f, action, target, made.status === 200 ? 'card_added_default' : 'card_added');
    }
    const key = `${base}_${nonce}`;
    const again = await asked(deps, f, key);
    if (!again) {
      const pm = await paymentMethods.find(deps.db, f.accountId, target);
      if (!pm || pm.customer !== customer) return refused(reply, f, 403, 'This payment method is not one of yours.');
      if (action === 'remove' && neededCards(v).has(pm.id)) {
        return refused(reply, f, 400, 'This card pays for an active subscription: add another card and make it your default before removing this one.');
      }
    }
    if (action === 'default') {
      const answer = await makeDefault(deps, f, v, key, target);
      return back(reply, f, answer.status === 200 ? 'default_set' : 'failed');
    }
    const answer = await runCommand(deps, call(f, key, 'POST', `/v1/payment_methods/${target}/detach`, detachPaymentMethod,
      detachPaymentMethodParams.parse({ payment_method: target }, '')));
    return back(reply, f, answer.status === 200 ? 'card_removed' : 'failed');
  });
}
