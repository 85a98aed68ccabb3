/**
 * What the billing portal page shows (portal_page.ts runs its actions): the customer's view
 * (subscriptions, invoices, cards, billing information) read for a portal session, the blocks and
 * pages it is drawn with, and the fixed notices an action's redirect names.
 */
import type { FastifyReply } from 'fastify';
import { randomId } from '../ids.ts';
import { portalPath, type PortalSessionByToken } from '../portal/portal_objects.ts';
import { invoices, prices, products, subscriptions, type Invoice, type Price, type Subscription } from '../billing/billing_objects.ts';
import { customers, type Customer } from '../payments/payment_objects.ts';
import { paymentMethods, type PaymentMethod } from '../payments/payment_methods.ts';
import { html, layout, type Html } from './html.ts';
import { cardFields, type FieldErrors } from './card_form.ts';
import { hidden, messagePage, money, sendPage, type WebDeps } from './page_kit.ts';
import { invoiceDate } from './invoice_pdf.ts';

export type Found = PortalSessionByToken;
export type Action = 'cancel' | 'renew' | 'update' | 'default' | 'remove' | 'add' | 'details';
export const ACTIONS: readonly Action[] = ['cancel', 'renew', 'update', 'default', 'remove', 'add', 'details'];

/** The customer's details this page edits (when the configuration's customer_update allows them), with their limits. */
export const DETAILS = { email: { label: 'Email', type: 'email', max: 512 }, name: { label: 'Name', type: 'text', max: 256 }, phone: { label: 'Phone', type: 'tel', max: 20 } } as const;
export type Detail = keyof typeof DETAILS;
export const editable = (f: Found): Detail[] => {
  const u = f.configuration.features.customer_update;
  return u.enabled ? (Object.keys(DETAILS) as Detail[]).filter((k) => (u.allowed_updates as string[]).includes(k)) : [];
};

/** What the portal shows of the customer. */
export interface View {
  customer: Customer;
  /** The live subscriptions (not canceled or expired), with each item's product name. */
  subs: { sub: Subscription; names: string[] }[];
  invoices: Invoice[];
  cards: PaymentMethod[];
}

/** A price the customer may switch to, with its product's name. */
export interface Offer { price: Price; name: string }

export const ENDED: Subscription['status'][] = ['canceled', 'incomplete_expired'];
export const STATUS_LABEL: Record<string, string> = {
  active: 'Active', trialing: 'Trial', past_due: 'Past due', unpaid: 'Unpaid', incomplete: 'Incomplete', paused: 'Paused', canceled: 'Canceled', incomplete_expired: 'Expired',
};
export const INVOICE_STATUS: Record<Invoice['status'], string> = { draft: 'Draft', open: 'Open', paid: 'Paid', void: 'Void', uncollectible: 'Uncollectible' };
export const REASON_LABEL: Record<string, string> = {
  customer_service: 'Customer service was less than expected', low_quality: 'Quality was less than expected', missing_features: 'Some features are missing',
  other: 'Other reason', switched_service: 'I\'m switching to a different service', too_complex: 'Ease of use was less than expected',
  too_expensive: 'It\'s too expensive', unused: 'I don\'t use the service enough',
};

export const NOTICES: Record<string, string> = {
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

export const BRAND: Record<string, string> = { visa: 'Visa', mastercard: 'Mastercard', amex: 'American Express', discover: 'Discover', diners: 'Diners Club', jcb: 'JCB', unionpay: 'UnionPay' };

export const per = (p: Price): string => {
  const r = p.recurring;
  if (!r) return '';
  return r.interval_count === 1 ? ` per ${r.interval}` : ` every ${r.interval_count} ${r.interval}s`;
};
export const priceText = (p: Price): string => `${money(p.unit_amount ?? 0, p.currency)}${per(p)}`;
export const periodEnd = (s: Subscription): number => s.items.data[0]!.current_period_end;
/** When a subscription set to cancel ends: the period's end, or its cancel_at. */
export const cancelsOn = (s: Subscription): number | null => (s.cancel_at_period_end ? periodEnd(s) : s.cancel_at);
export const live = (s: Subscription) => !ENDED.includes(s.status);
/** A subscription the portal can change: live, and not waiting for its first payment. */
export const changeable = (s: Subscription) => live(s) && s.status !== 'incomplete';

export async function load(deps: WebDeps, f: Found): Promise<View | undefined> {
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
export async function offers(deps: WebDeps, f: Found, sub: Subscription): Promise<Offer[]> {
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

export const returnLink = (f: Found) => f.session.return_url
  ? html`<a class="back" id="return" rel="noreferrer" href="${f.session.return_url}">← Return to the shop</a>` : '';

/** The left column: who runs the portal, the headline, the return link, the policies. */
export function aside(f: Found, v: View): Html {
  const bp = f.configuration.business_profile;
  return html`${returnLink(f)}
<p class="merchant">Test mode</p>
<h1>${bp.headline ?? 'Manage your billing'}</h1>
<p class="muted" id="customer">${v.customer.email ?? v.customer.name ?? ''}</p>
${bp.terms_of_service_url || bp.privacy_policy_url ? html`<p class="muted" id="policies">${bp.terms_of_service_url ? html`<a id="terms" rel="noreferrer" href="${bp.terms_of_service_url}">Terms of service</a>` : ''}${bp.terms_of_service_url && bp.privacy_policy_url ? ' · ' : ''}${bp.privacy_policy_url ? html`<a id="privacy" rel="noreferrer" href="${bp.privacy_policy_url}">Privacy policy</a>` : ''}</p>` : ''}`;
}

/** One button in its own form: the action, its target, the render's nonce. */
export const actionForm = (f: Found, csrf: string, nonce: string, action: Action, target: string, label: string, opts: { cls?: string; extra?: Html } = {}) =>
  html`<form method="post" action="${portalPath(tokenOf(f))}">${hidden({ csrf, nonce, action, target })}${opts.extra ?? ''}<button type="submit" class="inline${opts.cls ? ` ${opts.cls}` : ''}">${label}</button></form>`;

export function subscriptionBlock(f: Found, csrf: string, nonce: string, s: { sub: Subscription; names: string[] }, canUpdate: boolean): Html {
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

export function cardsBlock(f: Found, v: View, csrf: string, nonce: string): Html {
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

export function detailsBlock(f: Found, v: View, csrf: string, nonce: string, errors: Partial<Record<Detail, string>> = {}): Html {
  const fields = editable(f);
  return html`<section id="billing-information"><h2>Billing information</h2>
<form method="post" action="${portalPath(tokenOf(f))}" novalidate>${hidden({ csrf, nonce, action: 'details', target: v.customer.id })}
${fields.map((k) => html`<label for="detail-${k}">${DETAILS[k].label}</label>
<input type="${DETAILS[k].type}" id="detail-${k}" name="${k}" value="${v.customer[k] ?? ''}" maxlength="${DETAILS[k].max}"${errors[k] ? html` aria-invalid="true"` : ''}>
${errors[k] ? html`<p class="fielderror" id="detail-${k}-error">${errors[k]}</p>` : ''}`)}
<button type="submit" class="secondary" id="save-details">Save</button>
</form></section>`;
}

export function invoicesBlock(v: View): Html {
  return html`<section id="invoices"><h2>Invoice history</h2>
${v.invoices.length === 0 ? html`<p class="muted">No invoices yet.</p>` : html`<table>
<tr><th scope="col">Date</th><th scope="col">Number</th><th scope="col">Amount</th><th scope="col">Status</th></tr>
${v.invoices.map((inv) => html`<tr class="invoice" id="${inv.id}"><td>${invoiceDate(inv.status_transitions.finalized_at ?? inv.created)}</td>
<td>${inv.hosted_invoice_url ? html`<a class="invoice-link" rel="noreferrer" href="${inv.hosted_invoice_url}">${inv.number ?? inv.id}</a>` : inv.number ?? ''}</td>
<td>${money(inv.total, inv.currency)}</td><td><span class="badge${inv.status === 'paid' ? ' good' : inv.status === 'open' ? '' : ' bad'}">${INVOICE_STATUS[inv.status]}</span></td></tr>`)}
</table>`}</section>`;
}

export const title = 'Billing · Oncepay customer portal';
/** Where a form of the page may end (CSP form-action): return_url, and a flow's redirect. */
export const targets = (f: Found) => [f.session.return_url ?? '', f.session.flow?.after_completion.redirect?.return_url ?? ''];
export const noticeHtml = (notice?: string) => notice ? html`<p class="notice" role="status" id="notice">${notice}</p>` : '';

export async function homePage(deps: WebDeps, reply: FastifyReply, f: Found, v: View, csrf: string, notice?: string, status = 200, detailErrors?: Partial<Record<Detail, string>>): Promise<FastifyReply> {
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

export async function updatePage(deps: WebDeps, reply: FastifyReply, f: Found, v: View, csrf: string, subId: string, preselect?: string | null): Promise<FastifyReply | undefined> {
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
export function cancelPage(reply: FastifyReply, f: Found, v: View, csrf: string, subId: string): FastifyReply | undefined {
  const s = v.subs.find((x) => x.sub.id === subId);
  if (!s || !changeable(s.sub) || cancelsOn(s.sub) !== null) return undefined;
  const immediately = f.configuration.features.subscription_cancel.mode === 'immediately';
  const body = html`<a class="back" href="?home=1">← Back</a>
<h1>Cancel your subscription</h1>
<p id="cancel-terms">${immediately ? 'Your subscription will be canceled now.' : html`Your subscription will be canceled, but is still available until the end of your billing period on ${invoiceDate(periodEnd(s.sub))}.`}</p>
${subscriptionBlock(f, csrf, randomId(16), s, false)}`;
  return sendPage(reply, 200, layout(title, body, { aside: aside(f, v) }), targets(f));
}

export function addCardPage(reply: FastifyReply, f: Found, v: View, csrf: string, opts: { status?: number; errors?: FieldErrors; name?: string; message?: string } = {}): FastifyReply {
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

export const notFound = (reply: FastifyReply) => messagePage(reply, 404, 'Page not found', 'This billing portal link is not valid. Ask the shop for a new one.');

export const expiredPage = (reply: FastifyReply, f: Found, status = 200) =>
  messagePage(reply, status, 'This session has expired', 'For your security, billing portal links work for a short time only. Go back to the shop to open the portal again.',
    f.session.return_url ? { href: f.session.return_url, label: 'Return to the shop' } : undefined);

export const refused = (reply: FastifyReply, f: Found, status: number, text: string) =>
  messagePage(reply, status, 'This change is not available', `${text} Nothing was changed.`, { href: portalPath(tokenOf(f)), label: 'Back to your account' });

export const tokenOf = (f: Found) => f.session.url.slice(f.session.url.lastIndexOf('/') + 1);

/** The cards a live subscription needs: the customer's default, a subscription's own card, or the only card. */
export function neededCards(v: View): Set<string> {
  const needed = new Set<string>();
  const liveSubs = v.subs.filter((s) => live(s.sub));
  if (liveSubs.length === 0) return needed;
  const def = v.customer.invoice_settings.default_payment_method;
  if (def) needed.add(def);
  for (const s of liveSubs) if (s.sub.default_payment_method) needed.add(s.sub.default_payment_method);
  if (v.cards.length === 1) needed.add(v.cards[0]!.id);
  return needed;
}
