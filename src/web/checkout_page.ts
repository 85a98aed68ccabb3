/**
 * The hosted Checkout page at a session's `url` (/c/pay/<token>): the merchant's line items and
 * total, the card form, and what a submission does.
 *
 *   GET  /c/pay/:token               the form; or the 3-D Secure test step; or that the session is
 *                                    complete or expired
 *   POST /c/pay/:token               a card: payment_methods.create, then the session's completion
 *                                    (the command of POST /v1/test_helpers/checkout/sessions/:id/complete)
 *   POST /c/pay/:token/authenticate  the 3-D Secure step's Complete or Fail
 *
 * Exactly once from the browser: a submission's keys are derived from the session and its attempt
 * (`oncepay_checkout_<session>_<attempt>_submit`, the card under `..._pm_<form nonce>`), so a
 * double click, a reload that posts the form again or a retry after a crash asks the engine the
 * same question and gets the first answer; a second tab's different card at the same attempt is
 * refused by the engine (other parameters under a used key) and shown where the session now
 * stands. Every POST answers with a redirect (303): to success_url once complete, else back to the
 * page, which then shows the decline or the 3-D Secure step, so reloading never submits again.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { nowSeconds, randomId } from '../ids.ts';
import type { Command } from '../idempotency/engine.ts';
import { checkoutPath, sessionByToken, type CheckoutSession, type StoredSession } from '../checkout/session_objects.ts';
import { authenticateCheckoutSession, completeCheckoutSession } from '../checkout/completion.ts';
import { authenticateSessionParams, completeSessionParams } from '../checkout/session_params.ts';
import type { CommandAnswer, CommandCall } from '../checkout/hosted_deps.ts';
import { html, layout, type Html } from './html.ts';
import { authenticationStep, cardFields, createCard, readCardForm, type FieldErrors } from './card_form.ts';
import { csrfOk, csrfToken, field, hidden, messagePage, money, runCommand, seeOther, sendPage, settle, type WebDeps } from './page_kit.ts';

type Found = StoredSession & { accountId: string };
type TokenRequest = FastifyRequest<{ Params: { token: string } }>;

/** success_url with Stripe's template variable filled in. */
export const successUrl = (s: CheckoutSession): string | null => s.success_url?.replaceAll('{CHECKOUT_SESSION_ID}', s.id) ?? null;

const SUBMIT_LABEL: Record<string, string> = { book: 'Book', donate: 'Donate', subscribe: 'Subscribe' };
const submitLabel = (s: CheckoutSession) =>
  s.mode === 'subscription' ? 'Subscribe' : s.mode === 'setup' ? 'Save card' : SUBMIT_LABEL[s.submit_type ?? ''] ?? 'Pay';

/** What the customer reads for a card error: Stripe Checkout's words where the API's message speaks to the developer. */
const CUSTOMER_MESSAGES: Record<string, string> = {
  payment_intent_authentication_failure: 'We are unable to authenticate your payment method. Please choose a different payment method and try again.',
  setup_intent_authentication_failure: 'We are unable to authenticate your payment method. Please choose a different payment method and try again.',
};
const customerMessage = (e: { message: string; code: string } | null) => e ? CUSTOMER_MESSAGES[e.code] ?? e.message : undefined;

const NOTICES: Record<string, string> = {
  elsewhere: 'This checkout was submitted from another window or tab: here is where it stands now.',
  csrf: 'This form had expired. Please check the details and submit it again.',
};

function interval(li: StoredSession['lineItems'][number]): string {
  const r = li.price.recurring;
  if (!r) return '';
  return r.interval_count === 1 ? ` per ${r.interval}` : ` every ${r.interval_count} ${r.interval}s`;
}

/** The left column: what is bought, and the total. */
function summary(s: Found): Html {
  const { session } = s;
  const trial = s.settings.subscription_data?.trial_period_days;
  if (session.mode === 'setup') {
    return html`<p class="merchant">Test mode</p><h1>Save a card for future payments</h1><p class="muted">You will not be charged now.</p>`;
  }
  const heading = session.mode === 'subscription' ? 'Subscribe' : 'Pay';
  return html`<p class="merchant">Test mode</p>
<h1>${heading}</h1>
<p class="total" id="total">${money(session.amount_total ?? 0, session.currency ?? 'usd')}</p>
${trial ? html`<p class="notice">${trial} days free, then billed${interval(s.lineItems.find((li) => li.price.recurring) ?? s.lineItems[0]!)}.</p>` : ''}
<ul class="items">${s.lineItems.map((li) => html`<li><span>${li.description ?? li.price.nickname ?? 'Item'}<span class="qty">Qty ${li.quantity}${li.quantity > 1 ? html` · ${money(li.price.unit_amount ?? 0, li.currency)} each` : ''}</span></span><span>${money(li.amount_total, li.currency)}${interval(li)}</span></li>`)}</ul>
<div class="totalrow"><span>Total due today</span><span>${money(trial ? 0 : session.amount_total ?? 0, session.currency ?? 'usd')}</span></div>`;
}

const cancelLink = (s: CheckoutSession) => s.cancel_url ? html`<a class="back" id="cancel" rel="noreferrer" href="${s.cancel_url}">← Cancel and return</a>` : '';

function formPage(reply: FastifyReply, s: Found, csrf: string, opts: { status?: number; errors?: FieldErrors; name?: string; email?: string; message?: string; notice?: string } = {}): FastifyReply {
  const { session } = s;
  const knownEmail = session.customer_details?.email ?? session.customer_email;
  const error = opts.message ?? customerMessage(s.progress.error);
  const body = html`${cancelLink(session)}
<form method="post" action="" novalidate id="payment-form">
${hidden({ csrf, attempt: s.progress.attempt, submission: randomId(16) })}
${opts.notice ? html`<p class="notice" role="status">${opts.notice}</p>` : ''}
${error ? html`<p class="alert" role="alert" id="card-error">${error}</p>` : ''}
${cardFields({ email: { value: opts.email ?? knownEmail ?? '', fixed: !!knownEmail }, name: opts.name, errors: opts.errors ?? {} })}
<button type="submit" id="submit">${submitLabel(session)}</button>
<p class="testcard">Test mode: use 4242 4242 4242 4242 with any future date and any CVC. 4000 0000 0000 0002 is declined; 4000 0000 0000 3220 asks for 3-D Secure.</p>
</form>`;
  return sendPage(reply, opts.status ?? 200, layout(`${submitLabel(session)} · Oncepay Checkout`, body, { aside: summary(s) }), [successUrl(session) ?? '']);
}

function authenticationPage(reply: FastifyReply, s: Found, csrf: string, notice?: string, status = 200): FastifyReply {
  const body = authenticationStep(`${checkoutPath(s.token)}/authenticate`, { csrf, attempt: s.progress.attempt },
    notice ? html`<p class="notice" role="status">${notice}</p>` : undefined);
  return sendPage(reply, status, layout('Authenticate your card · Oncepay Checkout', body, { aside: summary(s) }), [successUrl(s.session) ?? '']);
}

const expired = (s: CheckoutSession) => s.status === 'expired' || (s.status === 'open' && s.expires_at <= nowSeconds());

/** The page for where the session stands. */
function show(req: FastifyRequest, reply: FastifyReply, s: Found, notice?: string, status = 200): FastifyReply {
  const { session } = s;
  if (session.status === 'complete') {
    const next = successUrl(session);
    const done = session.mode === 'setup' ? 'Your card has been saved.' : session.mode === 'subscription' ? 'Your subscription has started.' : 'Your payment was successful.';
    return messagePage(reply, 200, 'Thanks!', `${done} This checkout session is complete.`, next ? { href: next, label: 'Continue' } : undefined);
  }
  if (expired(session)) {
    return messagePage(reply, 200, 'This checkout session has expired', 'Nothing was charged. Go back to the shop to start again.', session.cancel_url ? { href: session.cancel_url, label: 'Return to the shop' } : undefined);
  }
  const csrf = csrfToken(req, reply);
  return s.progress.awaiting_action ? authenticationPage(reply, s, csrf, notice, status) : formPage(reply, s, csrf, { notice, status });
}

const notFound = (reply: FastifyReply) => messagePage(reply, 404, 'Page not found', 'This checkout link is not valid. Ask the shop for a new one.');

/** A POST command of the session's account (its parameters already parsed by the command's schema). */
const post = (s: Found, key: string, path: string, command: Command<never, never>, params: object): CommandCall =>
  ({ accountId: s.accountId, key, method: 'POST', path, command, params: params as Record<string, unknown> });

/**
 * After a submission: wait until no completion holds the session (a double click's other request
 * may still be running), then send the browser where the session now stands.
 */
async function redirectAfter(deps: WebDeps, reply: FastifyReply, token: string, answered: CommandAnswer | null): Promise<FastifyReply> {
  let s: Found | undefined;
  await settle(async () => { s = await sessionByToken(deps.db, token); return !!s?.lockedBy; });
  const next = s?.session.status === 'complete' ? successUrl(s.session) : null;
  // 200 and 402 are the page's own outcomes; an engine's refusal means another submission got there
  // first. A form with nothing left to do (null: the session moved on) just shows where it stands.
  const notice = !answered || answered.status === 200 || answered.status === 402 ? '' : '?notice=elsewhere';
  return seeOther(reply, next ?? `${checkoutPath(token)}${notice}`);
}

export async function checkoutPage(app: FastifyInstance, deps: WebDeps): Promise<void> {
  const find = (req: TokenRequest) => sessionByToken(deps.db, req.params.token);

  app.get('/c/pay/:token', async (req: TokenRequest, reply) => {
    const s = await find(req);
    if (!s) return notFound(reply);
    return show(req, reply, s, NOTICES[(req.query as Record<string, string>).notice ?? '']);
  });

  app.post('/c/pay/:token', async (req: TokenRequest, reply) => {
    const s = await find(req);
    if (!s) return notFound(reply);
    if (!csrfOk(req, field(req.body, 'csrf'))) return show(req, reply, s, NOTICES.csrf, 403);
    const { session } = s;
    if (session.status !== 'open' || expired(session) || s.progress.awaiting_action) return redirectAfter(deps, reply, s.token, null);
    const attempt = Number(field(req.body, 'attempt'));
    const submission = field(req.body, 'submission');
    // An older attempt's form (a double click whose first request was declined meanwhile) asks its
    // own keys again: the engine replays that attempt's answer, or refuses a new one (begin checks the attempt).
    if (!Number.isInteger(attempt) || attempt < 0 || attempt > s.progress.attempt || !/^[A-Za-z0-9]{16}$/.test(submission)) {
      return redirectAfter(deps, reply, s.token, null);
    }
    const { entry, errors } = readCardForm(req.body, { email: true });
    const again = (status: number, opts: { errors?: FieldErrors; message?: string }) =>
      formPage(reply, s, csrfToken(req, reply), { status, ...opts, name: entry.name, email: entry.email });
    if (Object.keys(errors).length > 0) return again(400, { errors });
    const base = `oncepay_checkout_${session.id}_${attempt}`;
    const card = await createCard(deps, { accountId: s.accountId, key: `${base}_pm_${submission}`, entry, withEmail: true });
    if ('refused' in card) return again(card.refused.status, card.refused);
    const params = completeSessionParams.parse({ session: session.id, payment_method: card.id, attempt, ...(entry.email ? { email: entry.email } : {}), name: entry.name }, '');
    const answered = await runCommand(deps, post(s, `${base}_submit`, `/v1/test_helpers/checkout/sessions/${session.id}/complete`, completeCheckoutSession, params));
    return redirectAfter(deps, reply, s.token, answered);
  });

  app.post('/c/pay/:token/authenticate', async (req: TokenRequest, reply) => {
    const s = await find(req);
    if (!s) return notFound(reply);
    if (!csrfOk(req, field(req.body, 'csrf'))) return show(req, reply, s, NOTICES.csrf, 403);
    const outcome = field(req.body, 'outcome');
    const attempt = Number(field(req.body, 'attempt'));
    if (!s.progress.awaiting_action || attempt !== s.progress.attempt || (outcome !== 'complete' && outcome !== 'fail')) {
      return redirectAfter(deps, reply, s.token, null);
    }
    const params = authenticateSessionParams.parse({ session: s.session.id, outcome, attempt }, '');
    const answered = await runCommand(deps, post(s, `oncepay_checkout_${s.session.id}_${attempt}_page_3ds`, `/v1/test_helpers/checkout/sessions/${s.session.id}/authenticate`,
      authenticateCheckoutSession, params));
    return redirectAfter(deps, reply, s.token, answered);
  });
}
