/**
 * The hosted invoice page at an invoice's `hosted_invoice_url` (/i/<token>), and its PDF at
 * `invoice_pdf` (/i/<token>/pdf): the invoice's number, amount due, due date, status, lines and
 * the customer's email, a link to download the PDF, and for an open invoice a card form that pays
 * it.
 *
 *   GET  /i/:token               the invoice; for an open one the card form, or the 3-D Secure
 *                                test step when its payment waits for authentication
 *   GET  /i/:token/pdf           the PDF (src/web/invoice_pdf.ts)
 *   POST /i/:token               a card: payment_methods.create, then invoices.pay with it
 *   POST /i/:token/authenticate  the 3-D Secure step's Complete (invoices.pay again with the same
 *                                card: an authenticated confirmation) or Fail
 *
 * The token is the page's only key: an unknown one, or an invoice's id, finds nothing (404). A
 * draft has no token (finalizing gives it one), so a draft has no page.
 *
 * Exactly once from the browser, as on the Checkout page (checkout_page.ts): a payment's key is
 * derived from the invoice and its attempt count (`oncepay_invoice_<invoice>_<attempt>_pay`,
 * the card under `..._pm_<form nonce>`), so a double click, a reload that posts the form again or
 * a retry after a crash asks the engine the same question and gets the first answer; while the
 * first request still runs, the second waits for its answer (the engine's key in use) instead of
 * running. A second tab's other card at the same attempt is refused by the engine (other
 * parameters under a used key) and shown where the invoice now stands. A decline counts an
 * attempt, so the next card is a new question. Every POST answers with a redirect (303) back to
 * the page, which shows the decline (the payment's last error), the 3-D Secure step or that the
 * invoice is paid: reloading never submits again.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { randomId } from '../ids.ts';
import type { Command } from '../idempotency/engine.ts';
import type { Invoice } from '../billing/billing_objects.ts';
import { invoicePagePath } from '../billing/invoice_core.ts';
import { invoiceByToken, type HostedInvoice } from '../billing/hosted_invoices.ts';
import { payInvoice, payInvoiceParams } from '../billing/invoices.ts';
import { failAuthenticationParams, failPaymentAuthentication } from '../payments/authentication.ts';
import type { CommandAnswer } from '../checkout/hosted_deps.ts';
import { html, layout, type Html } from './html.ts';
import { authenticationStep, cardFields, createCard, readCardForm, type FieldErrors } from './card_form.ts';
import { csrfOk, csrfToken, field, hidden, messagePage, money, pageHeaders, runCommand, seeOther, sendPage, settle, type WebDeps } from './page_kit.ts';
import { invoiceDate, invoiceIssuer, invoicePdf, invoiceStanding } from './invoice_pdf.ts';

type TokenRequest = FastifyRequest<{ Params: { token: string } }>;

const NOTICES: Record<string, string> = {
  elsewhere: 'This invoice was paid or submitted from another window or tab: here is where it stands now.',
  csrf: 'This form had expired. Please check the details and submit it again.',
};

const STATUS_LABEL: Record<Invoice['status'], string> = { draft: 'Draft', open: 'Open', paid: 'Paid', void: 'Void', uncollectible: 'Uncollectible' };

/** The left column: who bills whom, the amount, the lines, the PDF. */
function summary(h: HostedInvoice): Html {
  const inv = h.invoice;
  const badge = inv.status === 'paid' ? 'badge good' : inv.status === 'open' ? 'badge' : 'badge bad';
  return html`<p class="merchant">${invoiceIssuer(inv)} · Test mode</p>
<h1>Invoice <span id="number">${inv.number ?? ''}</span></h1>
<p class="total" id="amount-due">${money(inv.amount_remaining, inv.currency)}</p>
<p><span class="${badge}" id="status">${STATUS_LABEL[inv.status]}</span> <span class="muted" id="standing">${invoiceStanding(inv)}</span></p>
${inv.description ? html`<p class="muted" id="memo">${inv.description}</p>` : ''}
<table>
<tr><th scope="row">Invoice number</th><td>${inv.number ?? ''}</td></tr>
<tr><th scope="row">Due date</th><td id="due-date">${invoiceDate(inv.due_date ?? inv.status_transitions.finalized_at)}</td></tr>
<tr><th scope="row">To</th><td id="customer-email">${inv.customer_email ?? inv.customer_name ?? ''}</td></tr>
<tr><th scope="row">From</th><td>${invoiceIssuer(inv)}</td></tr>
</table>
<ul class="items" id="lines">${inv.lines.data.map((l) => html`<li><span>${l.description ?? 'Item'}<span class="qty">Qty ${l.quantity ?? 1}</span></span><span>${money(l.amount, l.currency)}</span></li>`)}</ul>
<div class="totalrow"><span>Total</span><span>${money(inv.total, inv.currency)}</span></div>
${inv.amount_paid > 0 ? html`<div class="totalrow"><span>Amount paid</span><span>${money(inv.amount_paid, inv.currency)}</span></div>` : ''}
<div class="totalrow"><span>Amount due</span><span>${money(inv.amount_remaining, inv.currency)}</span></div>
<p><a class="button secondary" id="download" href="${`${invoicePagePath(h.token)}/pdf`}" download>Download invoice</a></p>`;
}

const title = (inv: Invoice) => `Invoice ${inv.number ?? ''} · ${invoiceIssuer(inv)}`;

function formPage(reply: FastifyReply, h: HostedInvoice, csrf: string, opts: { status?: number; errors?: FieldErrors; name?: string; message?: string; notice?: string } = {}): FastifyReply {
  const inv = h.invoice;
  // The decline of the last attempt, whoever made it (this page, the API, the billing run).
  const error = opts.message ?? (h.payment?.status === 'requires_payment_method' ? h.payment.last_payment_error?.message : undefined);
  const body = html`<h1>Pay ${money(inv.amount_remaining, inv.currency)}</h1>
<form method="post" action="" novalidate id="payment-form">
${hidden({ csrf, attempt: inv.attempt_count, submission: randomId(16) })}
${opts.notice ? html`<p class="notice" role="status">${opts.notice}</p>` : ''}
${error ? html`<p class="alert" role="alert" id="card-error">${error}</p>` : ''}
${cardFields({ name: opts.name, errors: opts.errors ?? {} })}
<button type="submit" id="submit">Pay</button>
<p class="testcard">Test mode: use 4242 4242 4242 4242 with any future date and any CVC. 4000 0000 0000 0002 is declined; 4000 0000 0000 3220 asks for 3-D Secure.</p>
</form>`;
  return sendPage(reply, opts.status ?? 200, layout(title(inv), body, { aside: summary(h) }));
}

function authenticationPage(reply: FastifyReply, h: HostedInvoice, csrf: string, notice?: string, status = 200): FastifyReply {
  const body = authenticationStep(`${invoicePagePath(h.token)}/authenticate`, { csrf, attempt: h.invoice.attempt_count },
    html`${notice ? html`<p class="notice" role="status">${notice}</p>` : ''}
<p class="notice" role="status" id="authentication-required">Your card requires authentication: your bank asks you to confirm this payment.</p>`);
  return sendPage(reply, status, layout(`Authenticate your card · ${title(h.invoice)}`, body, { aside: summary(h) }));
}

/** A closed invoice (paid, void, uncollectible): what happened, and nothing to submit. */
function closedPage(reply: FastifyReply, h: HostedInvoice, notice?: string): FastifyReply {
  const inv = h.invoice;
  const text = inv.status === 'paid'
    ? html`<h1 id="outcome">Paid</h1><p>This invoice was paid on <span id="paid-at">${invoiceDate(inv.status_transitions.paid_at)}</span>. Thank you!</p>`
    : inv.status === 'void'
      ? html`<h1 id="outcome">Void</h1><p>This invoice was voided on ${invoiceDate(inv.status_transitions.voided_at)}: there is nothing to pay.</p>`
      : html`<h1 id="outcome">Uncollectible</h1><p>This invoice was marked uncollectible on ${invoiceDate(inv.status_transitions.marked_uncollectible_at)}. Contact ${invoiceIssuer(inv)} to settle it.</p>`;
  return sendPage(reply, 200, layout(title(inv), html`${notice ? html`<p class="notice" role="status">${notice}</p>` : ''}${text}`, { aside: summary(h) }));
}

/** The page for where the invoice stands. */
function show(req: FastifyRequest, reply: FastifyReply, h: HostedInvoice, notice?: string, status = 200): FastifyReply {
  if (h.invoice.status !== 'open') return closedPage(reply, h, notice);
  if (h.payment?.status === 'processing') {
    return sendPage(reply, 200, layout(title(h.invoice), html`<h1>Payment in progress</h1><p>A payment of this invoice is being processed. Reload the page in a moment to see the outcome.</p>`, { aside: summary(h) }));
  }
  const csrf = csrfToken(req, reply);
  return h.payment?.status === 'requires_action' ? authenticationPage(reply, h, csrf, notice, status) : formPage(reply, h, csrf, { notice, status });
}

const notFound = (reply: FastifyReply) => messagePage(reply, 404, 'Page not found', 'This invoice link is not valid. Ask the sender for a new one.');

/**
 * After a submission: wait until no payment of the invoice is being authorized (another
 * submission may still be running), then send the browser back to the page.
 */
async function redirectAfter(deps: WebDeps, reply: FastifyReply, token: string, answered: CommandAnswer): Promise<FastifyReply> {
  await settle(async () => (await invoiceByToken(deps.db, token))?.payment?.status === 'processing');
  // 200 and 402 are the page's own outcomes; anything else means another submission got there first.
  const notice = answered.status === 200 || answered.status === 402 ? '' : '?notice=elsewhere';
  return seeOther(reply, `${invoicePagePath(token)}${notice}`);
}

export async function invoicePage(app: FastifyInstance, deps: WebDeps): Promise<void> {
  const find = (req: TokenRequest) => invoiceByToken(deps.db, req.params.token);

  app.get('/i/:token', async (req: TokenRequest, reply) => {
    const h = await find(req);
    if (!h) return notFound(reply);
    return show(req, reply, h, NOTICES[(req.query as Record<string, string>).notice ?? '']);
  });

  app.get('/i/:token/pdf', async (req: TokenRequest, reply) => {
    const h = await find(req);
    if (!h) return notFound(reply);
    pageHeaders(reply);
    const name = (h.invoice.number ?? h.invoice.id).replace(/[^A-Za-z0-9_-]/g, '');
    return reply.code(200).type('application/pdf')
      .header('Content-Disposition', `attachment; filename="Invoice-${name}.pdf"`)
      .send(invoicePdf(h.invoice));
  });

  app.post('/i/:token', async (req: TokenRequest, reply) => {
    const h = await find(req);
    if (!h) return notFound(reply);
    if (!csrfOk(req, field(req.body, 'csrf'))) return show(req, reply, h, NOTICES.csrf, 403);
    const inv = h.invoice;
    if (inv.status !== 'open' || h.payment?.status === 'requires_action' || h.payment?.status === 'processing') {
      return redirectAfter(deps, reply, h.token, { status: 409, body: {} });
    }
    const attempt = Number(field(req.body, 'attempt'));
    const submission = field(req.body, 'submission');
    if (attempt !== inv.attempt_count || !/^[A-Za-z0-9]{16}$/.test(submission)) return redirectAfter(deps, reply, h.token, { status: 409, body: {} });
    const { entry, errors } = readCardForm(req.body, { email: false });
    const again = (status: number, opts: { errors?: FieldErrors; message?: string }) =>
      formPage(reply, h, csrfToken(req, reply), { status, ...opts, name: entry.name });
    if (Object.keys(errors).length > 0) return again(400, { errors });
    const base = `oncepay_invoice_${inv.id}_${attempt}`;
    const card = await createCard(deps, { accountId: h.accountId, key: `${base}_pm_${submission}`, entry, withEmail: false });
    if ('refused' in card) return again(card.refused.status, card.refused);
    const answered = await runCommand(deps, {
      accountId: h.accountId, key: `${base}_pay`, method: 'POST', path: `/v1/invoices/${inv.id}/pay`, command: payInvoice as Command<never, never>,
      params: payInvoiceParams.parse({ invoice: inv.id, payment_method: card.id }, '') as Record<string, unknown>,
    });
    return redirectAfter(deps, reply, h.token, answered);
  });

  app.post('/i/:token/authenticate', async (req: TokenRequest, reply) => {
    const h = await find(req);
    if (!h) return notFound(reply);
    if (!csrfOk(req, field(req.body, 'csrf'))) return show(req, reply, h, NOTICES.csrf, 403);
    const outcome = field(req.body, 'outcome');
    const attempt = Number(field(req.body, 'attempt'));
    const pi = h.payment;
    if (h.invoice.status !== 'open' || pi?.status !== 'requires_action' || !pi.payment_method || attempt !== h.invoice.attempt_count
      || (outcome !== 'complete' && outcome !== 'fail')) {
      return redirectAfter(deps, reply, h.token, { status: 409, body: {} });
    }
    const inv = h.invoice;
    // One key for both answers: Complete in one tab and Fail in another cannot both happen.
    const key = `oncepay_invoice_${inv.id}_${attempt}_3ds`;
    const answered = outcome === 'complete'
      ? await runCommand(deps, {
        accountId: h.accountId, key, method: 'POST', path: `/v1/invoices/${inv.id}/pay`, command: payInvoice as Command<never, never>,
        params: payInvoiceParams.parse({ invoice: inv.id, payment_method: pi.payment_method }, '') as Record<string, unknown>,
      })
      : await runCommand(deps, {
        accountId: h.accountId, key, method: 'POST', path: `/v1/payment_intents/${pi.id}/fail_authentication`, command: failPaymentAuthentication as Command<never, never>,
        params: failAuthenticationParams.parse({ intent: pi.id }, '') as Record<string, unknown>,
      });
    return redirectAfter(deps, reply, h.token, answered);
  });
}
