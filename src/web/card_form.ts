/**
 * The card fields of a hosted page, labelled as Stripe Checkout labels them (Email, Card number,
 * Expiration, CVC, Cardholder name; the inputs keep Stripe's ids: email, cardNumber, cardExpiry,
 * cardCvc, billingName), and what a submission of them becomes: a card made through
 * payment_methods.create, or the messages of the fields that are incomplete or refused (Stripe's
 * wording).
 * The number is never echoed back into a page: a form shown again asks for it again.
 */
import type { Command } from '../idempotency/engine.ts';
import type { CommandAnswer } from '../checkout/hosted_deps.ts';
import { createPaymentMethod, createPaymentMethodParams } from '../payments/payment_method_commands.ts';
import { html, type Html } from './html.ts';
import { field, hidden, runCommand, type WebDeps } from './page_kit.ts';

export interface CardEntry {
  email: string;
  name: string;
  number: string;
  exp_month: number;
  exp_year: number;
  cvc: string;
}

export type FieldErrors = Partial<Record<'email' | 'cardNumber' | 'cardExpiry' | 'cardCvc' | 'billingName', string>>;

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** Reads the submitted card fields; `errors` is empty when the card can be sent to the acquirer. */
export function readCardForm(body: unknown, opts: { email: boolean }): { entry: CardEntry; errors: FieldErrors } {
  const errors: FieldErrors = {};
  const email = field(body, 'email');
  if (opts.email && !EMAIL.test(email)) errors.email = email ? 'Your email address is invalid.' : 'Your email address is incomplete.';
  const number = field(body, 'cardNumber').replace(/[\s-]/g, '');
  if (!/^\d{12,19}$/.test(number)) errors.cardNumber = number ? 'Your card number is invalid.' : 'Your card number is incomplete.';
  const expiry = /^(\d{1,2})\s*\/?\s*(\d{2}|\d{4})$/.exec(field(body, 'cardExpiry'));
  const exp_month = expiry ? Number(expiry[1]) : 0;
  const exp_year = expiry ? (expiry[2]!.length === 2 ? 2000 + Number(expiry[2]) : Number(expiry[2])) : 0;
  if (!expiry || exp_month < 1 || exp_month > 12) errors.cardExpiry = field(body, 'cardExpiry') ? 'Your card\'s expiration date is invalid.' : 'Your card\'s expiration date is incomplete.';
  const cvc = field(body, 'cardCvc');
  if (!/^\d{3,4}$/.test(cvc)) errors.cardCvc = 'Your card\'s security code is incomplete.';
  const name = field(body, 'billingName');
  if (!name) errors.billingName = 'Cardholder name is required.';
  else if (name.length > 200) errors.billingName = 'Cardholder name is too long.';
  return { entry: { email, name, number, exp_month, exp_year, cvc }, errors };
}

/** payment_methods.create's parameters for an entry. */
const paymentMethodParams = (e: CardEntry, withEmail: boolean) => ({
  type: 'card',
  card: { number: e.number, exp_month: e.exp_month, exp_year: e.exp_year, cvc: e.cvc },
  billing_details: { name: e.name, ...(withEmail && e.email ? { email: e.email } : {}) },
});

/** How a page shows a card the API refused (payment_methods.create or attach): by its field when the error names one. */
export interface CardRefusal { status: number; errors?: FieldErrors; message?: string }

export function cardRefusal(a: CommandAnswer): CardRefusal {
  const e = a.body.error as { message?: string; param?: string } | undefined;
  const at = e?.param?.includes('exp_') ? 'cardExpiry' : e?.param?.includes('cvc') ? 'cardCvc' : e?.param?.includes('number') ? 'cardNumber' : undefined;
  const status = a.status === 402 ? 402 : 400;
  return at ? { status, errors: { [at]: e?.message ?? 'Invalid card.' } } : { status, message: e?.message ?? 'Your card could not be used.' };
}

/**
 * The entry made a card (payment_methods.create through the engine, under `key`): its id, or how
 * to show the acquirer's refusal (a bad number, an expiry in the past).
 */
export async function createCard(deps: WebDeps, call: { accountId: string; key: string; entry: CardEntry; withEmail: boolean }): Promise<{ id: string } | { refused: CardRefusal }> {
  const answer = await runCommand(deps, {
    accountId: call.accountId, key: call.key, method: 'POST', path: '/v1/payment_methods', command: createPaymentMethod as Command<never, never>,
    params: createPaymentMethodParams.parse(paymentMethodParams(call.entry, call.withEmail), '') as Record<string, unknown>,
  });
  return answer.status === 200 ? { id: answer.body.id as string } : { refused: cardRefusal(answer) };
}

const fieldError = (msg: string | undefined, id: string) => msg ? html`<p class="fielderror" id="${id}-error">${msg}</p>` : '';

const input = (id: string, label: string, opts: { value?: string; errors: FieldErrors; type?: string; placeholder?: string; autocomplete: string; inputmode?: string; readonly?: boolean }) => {
  const err = opts.errors[id as keyof FieldErrors];
  return html`<label for="${id}">${label}</label>
<input type="${opts.type ?? 'text'}" id="${id}" name="${id}" autocomplete="${opts.autocomplete}"${opts.inputmode ? html` inputmode="${opts.inputmode}"` : ''}${opts.placeholder ? html` placeholder="${opts.placeholder}"` : ''}${opts.value ? html` value="${opts.value}"` : ''}${opts.readonly ? html` readonly` : ''} required${err ? html` aria-invalid="true" aria-describedby="${id}-error"` : ''}>
${fieldError(err, id)}`;
};

/** The fields: the email (prefilled and fixed when the session knows it), the card, the name. */
export function cardFields(opts: { email?: { value: string; fixed: boolean }; name?: string; errors: FieldErrors }): Html {
  const e = opts.errors;
  return html`${opts.email ? input('email', 'Email', { type: 'email', value: opts.email.value, errors: e, autocomplete: 'email', readonly: opts.email.fixed }) : ''}
<h2>Card information</h2>
${input('cardNumber', 'Card number', { errors: e, placeholder: '1234 1234 1234 1234', autocomplete: 'cc-number', inputmode: 'numeric' })}
<div class="row">
<div>${input('cardExpiry', 'Expiration', { errors: e, placeholder: 'MM / YY', autocomplete: 'cc-exp', inputmode: 'numeric' })}</div>
<div>${input('cardCvc', 'CVC', { errors: e, placeholder: 'CVC', autocomplete: 'cc-csc', inputmode: 'numeric' })}</div>
</div>
${input('billingName', 'Cardholder name', { value: opts.name, errors: e, autocomplete: 'cc-name' })}`;
}

/**
 * The 3-D Secure test step, as Stripe's test mode shows it: the page's form posts `outcome`
 * complete or fail (with the hidden fields) to `action`.
 */
export const authenticationStep = (action: string, fields: Record<string, string | number>, extra?: Html): Html => html`<h1>3D Secure 2 Test Page</h1>
${extra ?? ''}
<p>This is a test authentication of your card, as your bank would ask for it. Choose how it goes.</p>
<form method="post" action="${action}">
${hidden(fields)}
<button type="submit" name="outcome" value="complete" id="complete">Complete</button>
<button type="submit" name="outcome" value="fail" id="fail" class="secondary">Fail</button>
</form>`;
