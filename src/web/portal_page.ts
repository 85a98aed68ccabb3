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
import { randomId } from '../ids.ts';
import type { Command } from '../idempotency/engine.ts';
import { portalPath, portalSessionByToken, type PortalSessionByToken } from '../portal/portal_objects.ts';
import { invoices, prices, products, subscriptions, type Invoice, type Price, type Subscription } from '../billing/billing_objects.ts';
import { cancelSubscription, updateSubscription } from '../billing/subscriptions.ts';
import { cancelSubscriptionParams, updateSubscriptionParams } from '../billing/subscription_params.ts';
import { customers, type Customer } from '../payments/payment_objects.ts';
import { paymentMethods, type PaymentMethod } from '../payments/payment_methods.ts';
import { updateCustomer, updateCustomerParams } from '../payments/customers.ts';
import {
  attachPaymentMethod, attachPaymentMethodParams, createPaymentMethod, createPaymentMethodParams, detachPaymentMethod, detachPaymentMethodParams,
} from '../payments/payment_method_commands.ts';
import type { CommandAnswer, CommandCall } from '../checkout/hosted_deps.ts';
import { html, layout, type Html } from './html.ts';
import { cardFields, paymentMethodParams, readCardForm, type FieldErrors } from './card_form.ts';
import { csrfOk, csrfToken, field, hidden, messagePage, money, runCommand, sendPage, type WebDeps } from './page_kit.ts';
import { invoiceDate } from './invoice_pdf.ts';

type TokenRequest = FastifyRequest<{ Params: { token: string } }>;
type Found = PortalSessionByToken;
type Action = 'cancel' | 'renew' | 'update' | 'default' | 'remove' | 'add' | 'details';
const ACTIONS: readonly Action[] = ['cancel', 'renew', 'update', 'default', 'remove', 'add', 'details'];

/** The customer's details this page edits (when the configuration's customer_update allows them), with their limits. */
const DETAILS = { email: { label: 'Email', type: 'email', max: 512 }, name: { label: 'Name', type: 'text', max: 256 }, phone: { label: 'Phone', type: 'tel', max: 20 } } as const;
type Detail = keyof typeof DETAILS;
const editable = (f: Found): Detail[] => {
  const u = f.configuration.features.customer_update;
  return u.enabled ? (Object.keys(DETAILS) as Detail[]).filter((k) => (u.allowed_updates as string[]).includes(k)) : [];
};

/** What the portal shows of the customer. */
interface View {
  customer: Customer;
  /** The live subscriptions (not canceled or expired), with each item's product name. */
  subs: { sub: Subscription; names: string[] }[];
  invoices: Invoice[];
  cards: PaymentMethod[];
}

/** A price the customer may switch to, with its product's name. */
interface Offer { price: Price; name: string }

const ENDED: Subscription['status'][] = ['canceled', 'incomplete_expired'];
const STATUS_LABEL: Record<string, string> = {
  active: 'Active', trialing: 'Trial', past_due: 'Past due', unpaid: 'Unpaid', incomplete: 'Incomplete', paused: 'Paused', canceled: 'Canceled', incomplete_expired: 'Expired',
};
const INVOICE_STATUS: Record<Invoice['status'], string> = { draft: 'Draft', open: 'Open', paid: 'Paid', void: 'Void', uncollectible: 'Uncollectible' };
const REASON_LABEL: Record<string, string> = {
  customer_service: 'Customer service was less than expected', low_quality: 'Quality was less than expected', missing_features: 'Some features are missing',
  other: 'Other reason', switched_service: 'I\'m switching to a different service', too_complex: 'Ease of use was less than expected',
  too_expensive: 'It\'s too expensive', unused: 'I don\'t use the service enough',
};

const NOTICES: Record<string, string> = {
  canceled: 'Your subscription has been canceled.',
  renewed: 'Your subscription has been renewed: it will no longer be canceled.',
  updated: 'Your subscription has been updated.',
  card_added: 'Your card has been added.',
  card_added_default: 'Your card has been added and is now your default payment method.',
  default_set: 'Your default payment method has been updated.',
  card_removed: 'Your payment method has been removed.',
  details_saved: 'Your billing information has been updated.',
  failed: 'That change could not be made. Here is where your account stands now.',
  csrf: 'This form had expired. Please try again.',
};

const BRAND: Record<string, string> = { visa: 'Visa', mastercard: 'Mastercard', amex: 'American Express', discover: 'Discover', diners: 'Diners Club', jcb: 'JCB', unionpay: 'UnionPay' };

const per = (p: Price): string => {
  const r = p.recurring;
  if (!r) return '';
  return r.interval_count === 1 ? ` per ${r.interval}` : ` every ${r.interval_count} ${r.interval}s`;
};
const priceText = (p: Price): string => `${money(p.unit_amount ?? 0, p.currency)}${per(p)}`;
const periodEnd = (s: Subscription): number => s.items.data[0]!.current_period_end;
/** When a subscription set to cancel ends: the period's end, or its cancel_at. */
const cancelsOn = (s: Subscription): number | null => (s.cancel_at_period_end ? periodEnd(s) : s.cancel_at);
const live = (s: Subscription) => !ENDED.includes(s.status);
/** A subscription the portal can change: live, and not waiting for its first payment. */
const changeable = (s: Subscription) => live(s) && s.status !== 'incomplete';

async function load(deps: WebDeps, f: Found): Promise<View | undefined> {
  const { accountId } = f;
  const customerId = f.session.customer;
  const customer = await customers.find(deps.db, accountId, customerId);
  if (!customer || (customer as { deleted?: boolean }).deleted) return undefined;
  const subList = (await subscriptions.list(deps.db, accountId, { limit: 100, where: { customer: customerId } })).data.filter(live);
  const productName = async (id: string) => (await products.find(deps.db, accountId, id))?.name ?? 'Subscription';
  const subs = await Promise.all(subList.map(async (sub) => ({
    sub, names: await Promise.all(sub.items.data.map((it) => productName(it.price.product as string))),
  })));
  const invoiceList = f.configuration.features.invoice_history.enabled
    ? (await invoices.list(deps.db, accountId, { limit: 24, where: { customer: customerId, deleted: false } })).data.filter((i) => i.status !== 'draft')
    : [];
  const cards = (await paymentMethods.list(deps.db, accountId, { limit: 100, where: { customer: customerId, type: 'card' } })).data;
  return { customer, subs, invoices: invoiceList, cards };
}

/** The prices the configuration offers a subscription instead of its own (same currency and interval; one-item subscriptions only). */
async function offers(deps: WebDeps, f: Found, sub: Subscription): Promise<Offer[]> {
  const u = f.configuration.features.subscription_update;
  if (!u.enabled || !u.default_allowed_updates.includes('price') || sub.items.data.length !== 1 || !changeable(sub)) return [];
  const current = sub.items.data[0]!.price;
  const out: Offer[] = [];
  for (const product of u.products) {
    const name = (await products.find(deps.db, f.accountId, product.product))?.name ?? product.product;
    for (const id of product.prices) {
      const p = await prices.find(deps.db, f.accountId, id);
      if (!p || p.deleted || !p.active || !p.recurring || p.currency !== current.currency) continue;
      if (p.recurring.interval !== current.recurring?.interval || p.recurring.interval_count !== current.recurring?.interval_count) continue;
      if (p.recurring.usage_type !== current.recurring?.usage_type) continue;
      out.push({ price: p, name });
    }
  }
  return out;
}

// ---- rendering ----------------------------------------------------------------------------------

const returnLink = (f: Found) => f.session.return_url
  ? html`<a class="back" id="return" rel="noreferrer" href="${f.session.return_url}">← Return to the shop</a>` : '';

/** The left column: who runs the portal, the headline, the return link, the policies. */
function aside(f: Found, v: View): Html {
  const bp = f.configuration.business_profile;
  return html`${returnLink(f)}
<p class="merchant">Test mode</p>
<h1>${bp.headline ?? 'Manage your billing'}</h1>
<p class="muted" id="customer">${v.customer.email ?? v.customer.name ?? ''}</p>
${bp.terms_of_service_url || bp.privacy_policy_url ? html`<p class="muted" id="policies">${bp.terms_of_service_url ? html`<a id="terms" rel="noreferrer" href="${bp.terms_of_service_url}">Terms of service</a>` : ''}${bp.terms_of_service_url && bp.privacy_policy_url ? ' · ' : ''}${bp.privacy_policy_url ? html`<a id="privacy" rel="noreferrer" href="${bp.privacy_policy_url}">Privacy policy</a>` : ''}</p>` : ''}`;
}

/** One button in its own form: the action, its target, the render's nonce. */
const actionForm = (f: Found, csrf: string, nonce: string, action: Action, target: string, label: string, opts: { cls?: string; extra?: Html } = {}) =>
  html`<form method="post" action="${portalPath(tokenOf(f))}">${hidden({ csrf, nonce, action, target })}${opts.extra ?? ''}<button type="submit" class="inline${opts.cls ? ` ${opts.cls}` : ''}">${label}</button></form>`;

function subscriptionBlock(f: Found, csrf: string, nonce: string, s: { sub: Subscription; names: string[] }, canUpdate: boolean): Html {
  const { sub } = s;
  const feats = f.configuration.features;
  const cancel = feats.subscription_cancel;
  const ends = cancelsOn(sub);
  const reason = cancel.cancellation_reason.enabled && cancel.cancellation_reason.options.length > 0
    ? html`<label for="reason-${sub.id}">Reason for canceling (optional)</label><select id="reason-${sub.id}" name="reason"><option value="">Choose a reason</option>${cancel.cancellation_reason.options.map((o) => html`<option value="${o}">${REASON_LABEL[o] ?? o}</option>`)}</select>`
    : '';
  const buttons: Html[] = [];
  if (changeable(sub) && canUpdate) buttons.push(html`<a class="button secondary inline" id="update-${sub.id}" href="?update=${sub.id}">Update subscription</a>`);
  if (changeable(sub) && cancel.enabled && ends === null) buttons.push(actionForm(f, csrf, nonce, 'cancel', sub.id, 'Cancel subscription', { cls: 'danger', extra: reason || undefined }));
  if (changeable(sub) && cancel.enabled && sub.cancel_at_period_end) buttons.push(actionForm(f, csrf, nonce, 'renew', sub.id, 'Renew subscription'));
  return html`<div class="subscription" id="${sub.id}">
<h3>${s.names.join(', ')}</h3>
${sub.items.data.length === 1 && (sub.items.data[0]!.quantity ?? 1) === 1
    ? html`<p class="price">${priceText(sub.items.data[0]!.price)}</p>`
    : html`<ul class="items">${sub.items.data.map((it, i) => html`<li><span>${s.names[i] ?? ''}${it.quantity && it.quantity > 1 ? html`<span class="qty">Qty ${it.quantity}</span>` : ''}</span><span class="price">${priceText(it.price)}</span></li>`)}</ul>`}
<p><span class="badge${sub.status === 'active' || sub.status === 'trialing' ? ' good' : ' bad'} status">${STATUS_LABEL[sub.status] ?? sub.status}</span>
${ends !== null ? html` <span class="cancels">Cancels on ${invoiceDate(ends)}</span>` : html` <span class="muted renews">${sub.status === 'trialing' ? 'Trial ends' : 'Renews on'} ${invoiceDate(periodEnd(sub))}</span>`}</p>
${buttons.length ? html`<div class="actions">${buttons}</div>` : ''}
</div>`;
}

function cardsBlock(f: Found, v: View, csrf: string, nonce: string): Html {
  const def = v.customer.invoice_settings.default_payment_method;
  const needed = neededCards(v);
  return html`<section id="payment-methods"><h2>Payment methods</h2>
${v.cards.length === 0 ? html`<p class="muted">No payment method on file.</p>` : ''}
<table>${v.cards.map((pm) => html`<tr class="card" id="${pm.id}"><td><span class="brand">${BRAND[pm.card.brand] ?? pm.card.brand}</span> •••• <span class="last4">${pm.card.last4}</span>${pm.id === def ? html` <span class="badge good default">Default</span>` : ''}</td>
<td class="muted">Expires ${String(pm.card.exp_month).padStart(2, '0')}/${pm.card.exp_year}</td>
<td class="actions">${pm.id === def ? '' : actionForm(f, csrf, nonce, 'default', pm.id, 'Make default', { cls: 'secondary' })}${needed.has(pm.id) ? '' : actionForm(f, csrf, nonce, 'remove', pm.id, 'Remove', { cls: 'secondary' })}</td></tr>`)}</table>
<a class="button secondary" id="add-card" href="?add=card">Add payment method</a>
</section>`;
}

function detailsBlock(f: Found, v: View, csrf: string, nonce: string, errors: Partial<Record<Detail, string>> = {}): Html {
  const fields = editable(f);
  return html`<section id="billing-information"><h2>Billing information</h2>
<form method="post" action="${portalPath(tokenOf(f))}" novalidate>${hidden({ csrf, nonce, action: 'details', target: v.customer.id })}
${fields.map((k) => html`<label for="detail-${k}">${DETAILS[k].label}</label>
<input type="${DETAILS[k].type}" id="detail-${k}" name="${k}" value="${v.customer[k] ?? ''}" maxlength="${DETAILS[k].max}"${errors[k] ? html` aria-invalid="true"` : ''}>
${errors[k] ? html`<p class="fielderror" id="detail-${k}-error">${errors[k]}</p>` : ''}`)}
<button type="submit" class="secondary" id="save-details">Save</button>
</form></section>`;
}

function invoicesBlock(v: View): Html {
  return html`<section id="invoices"><h2>Invoice history</h2>
${v.invoices.length === 0 ? html`<p class="muted">No invoices yet.</p>` : html`<table>
<tr><th scope="col">Date</th><th scope="col">Number</th><th scope="col">Amount</th><th scope="col">Status</th></tr>
${v.invoices.map((inv) => html`<tr class="invoice" id="${inv.id}"><td>${invoiceDate(inv.status_transitions.finalized_at ?? inv.created)}</td>
<td>${inv.hosted_invoice_url ? html`<a class="invoice-link" rel="noreferrer" href="${inv.hosted_invoice_url}">${inv.number ?? inv.id}</a>` : inv.number ?? ''}</td>
<td>${money(inv.total, inv.currency)}</td><td><span class="badge${inv.status === 'paid' ? ' good' : inv.status === 'open' ? '' : ' bad'}">${INVOICE_STATUS[inv.status]}</span></td></tr>`)}
</table>`}</section>`;
}

const title = 'Billing · Oncepay customer portal';
/** Where a form of the page may end (CSP form-action): return_url, and a flow's redirect. */
const targets = (f: Found) => [f.session.return_url ?? '', f.session.flow?.after_completion.redirect?.return_url ?? ''];
const noticeHtml = (notice?: string) => notice ? html`<p class="notice" role="status" id="notice">${notice}</p>` : '';

async function homePage(deps: WebDeps, reply: FastifyReply, f: Found, v: View, csrf: string, notice?: string, status = 200, detailErrors?: Partial<Record<Detail, string>>): Promise<FastifyReply> {
  const nonce = randomId(16);
  const feats = f.configuration.features;
  const canUpdate = new Map<string, boolean>();
  for (const s of v.subs) canUpdate.set(s.sub.id, (await offers(deps, f, s.sub)).some((o) => o.price.id !== s.sub.items.data[0]!.price.id));
  const body = html`${noticeHtml(notice)}
<section id="subscriptions"><h2>${v.subs.length === 1 ? 'Current subscription' : 'Subscriptions'}</h2>
${v.subs.length === 0 ? html`<p class="muted">No active subscriptions.</p>` : v.subs.map((s) => subscriptionBlock(f, csrf, nonce, s, canUpdate.get(s.sub.id) ?? false))}
</section>
${feats.payment_method_update.enabled ? cardsBlock(f, v, csrf, nonce) : ''}
${editable(f).length > 0 ? detailsBlock(f, v, csrf, nonce, detailErrors) : ''}
${feats.invoice_history.enabled ? invoicesBlock(v) : ''}`;
  return sendPage(reply, status, layout(title, body, { aside: aside(f, v) }), targets(f));
}

async function updatePage(deps: WebDeps, reply: FastifyReply, f: Found, v: View, csrf: string, subId: string, preselect?: string | null): Promise<FastifyReply | undefined> {
  const s = v.subs.find((x) => x.sub.id === subId);
  if (!s) return undefined;
  const current = s.sub.items.data[0]!.price.id;
  const choices = (await offers(deps, f, s.sub));
  if (!choices.some((o) => o.price.id !== current)) return undefined;
  const body = html`<a class="back" href="?home=1">← Back</a>
<h1>Update your plan</h1>
<p class="muted">Current: ${s.names[0] ?? ''} · ${priceText(s.sub.items.data[0]!.price)}. The new price applies from your next billing date, ${invoiceDate(periodEnd(s.sub))}.</p>
<form method="post" action="" id="update-form">
${hidden({ csrf, nonce: randomId(16), action: 'update', target: s.sub.id })}
${choices.map((o) => html`<label class="choice"><input type="radio" name="price" value="${o.price.id}"${o.price.id === current ? html` checked disabled` : o.price.id === preselect ? html` checked` : ''}> ${o.name}${o.price.nickname ? ` (${o.price.nickname})` : ''} · ${priceText(o.price)}${o.price.id === current ? ' (current)' : ''}</label>`)}
<button type="submit" id="confirm">Confirm</button>
</form>`;
  return sendPage(reply, 200, layout(title, body, { aside: aside(f, v) }), targets(f));
}

/** A subscription_cancel flow's page: the subscription and its Cancel button. */
function cancelPage(reply: FastifyReply, f: Found, v: View, csrf: string, subId: string): FastifyReply | undefined {
  const s = v.subs.find((x) => x.sub.id === subId);
  if (!s || !changeable(s.sub) || cancelsOn(s.sub) !== null) return undefined;
  const immediately = f.configuration.features.subscription_cancel.mode === 'immediately';
  const body = html`<a class="back" href="?home=1">← Back</a>
<h1>Cancel your subscription</h1>
<p id="cancel-terms">${immediately ? 'Your subscription will be canceled now.' : html`Your subscription will be canceled, but is still available until the end of your billing period on ${invoiceDate(periodEnd(s.sub))}.`}</p>
${subscriptionBlock(f, csrf, randomId(16), s, false)}`;
  return sendPage(reply, 200, layout(title, body, { aside: aside(f, v) }), targets(f));
}

function addCardPage(reply: FastifyReply, f: Found, v: View, csrf: string, opts: { status?: number; errors?: FieldErrors; name?: string; message?: string } = {}): FastifyReply {
  const body = html`<a class="back" href="?home=1">← Back</a>
<h1>Add payment method</h1>
<form method="post" action="" novalidate id="card-form">
${hidden({ csrf, nonce: randomId(16), action: 'add', target: 'card' })}
${opts.message ? html`<p class="alert" role="alert" id="card-error">${opts.message}</p>` : ''}
${cardFields({ name: opts.name, errors: opts.errors ?? {} })}
<label class="choice"><input type="checkbox" name="make_default" value="true" id="make-default" checked> Use as default payment method</label>
<button type="submit" id="add">Add</button>
<p class="testcard">Test mode: use 4242 4242 4242 4242 with any future date and any CVC. 4000 0000 0000 0002 is declined.</p>
</form>`;
  return sendPage(reply, opts.status ?? 200, layout(title, body, { aside: aside(f, v) }), targets(f));
}

// ---- answers ------------------------------------------------------------------------------------

const notFound = (reply: FastifyReply) => messagePage(reply, 404, 'Page not found', 'This billing portal link is not valid. Ask the shop for a new one.');

const expiredPage = (reply: FastifyReply, f: Found, status = 200) =>
  messagePage(reply, status, 'This session has expired', 'For your security, billing portal links work for a short time only. Go back to the shop to open the portal again.',
    f.session.return_url ? { href: f.session.return_url, label: 'Return to the shop' } : undefined);

const refused = (reply: FastifyReply, f: Found, status: number, text: string) =>
  messagePage(reply, status, 'This change is not available', `${text} Nothing was changed.`, { href: portalPath(tokenOf(f)), label: 'Back to your account' });

const tokenOf = (f: Found) => f.session.url.slice(f.session.url.lastIndexOf('/') + 1);

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
    if (after.type === 'redirect' && after.redirect) return reply.code(303).header('Cache-Control', 'no-store').redirect(after.redirect.return_url, 303);
    if (after.type === 'hosted_confirmation') return back(reply, f, 'flow_confirmed', { home: '1', ...extra });
    return back(reply, f, notice, { home: '1', ...extra });
  }
  return back(reply, f, notice, extra);
}

function back(reply: FastifyReply, f: Found, notice: string, extra: Record<string, string> = {}): FastifyReply {
  const q = new URLSearchParams({ notice, ...extra });
  return reply.code(303).header('Cache-Control', 'no-store').redirect(`${portalPath(tokenOf(f))}?${q.toString()}`, 303);
}

/** True when this page already asked the engine under `key` (a double click's second post, a reload that posts again). */
async function asked(deps: WebDeps, f: Found, key: string): Promise<boolean> {
  const { rows } = await deps.db.query<{ n: number }>('SELECT count(*)::int AS n FROM idempotency_keys WHERE account_id = $1 AND key = $2 AND client_supplied = false', [f.accountId, key]);
  return (rows[0]?.n ?? 0) > 0;
}

/** The cards a live subscription needs: the customer's default, a subscription's own card, or the only card. */
function neededCards(v: View): Set<string> {
  const needed = new Set<string>();
  const liveSubs = v.subs.filter((s) => live(s.sub));
  if (liveSubs.length === 0) return needed;
  const def = v.customer.invoice_settings.default_payment_method;
  if (def) needed.add(def);
  for (const s of liveSubs) if (s.sub.default_payment_method) needed.add(s.sub.default_payment_method);
  if (v.cards.length === 1) needed.add(v.cards[0]!.id);
  return needed;
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
      const pm = await runCommand(deps, call(f, `${key}_pm`, 'POST', '/v1/payment_methods', createPaymentMethod,
        createPaymentMethodParams.parse(paymentMethodParams(entry, false), '')));
      const cardError = (a: CommandAnswer) => {
        const e = a.body.error as { message?: string; param?: string } | undefined;
        const at = e?.param?.includes('exp_') ? 'cardExpiry' : e?.param?.includes('cvc') ? 'cardCvc' : e?.param?.includes('number') ? 'cardNumber' : undefined;
        return again(a.status === 402 ? 402 : 400, at ? { errors: { [at]: e?.message ?? 'Invalid card.' } } : { message: e?.message ?? 'Your card could not be used.' });
      };
      if (pm.status !== 200) return cardError(pm);
      const pmId = pm.body.id as string;
      const attached = await runCommand(deps, call(f, `${key}_attach`, 'POST', `/v1/payment_methods/${pmId}/attach`, attachPaymentMethod,
        attachPaymentMethodParams.parse({ payment_method: pmId, customer }, '')));
      if (attached.status !== 200) return cardError(attached);
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
