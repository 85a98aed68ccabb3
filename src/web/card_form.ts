/**
 * The card fields of a hosted page, labelled as Stripe Checkout labels them (Email, Card number,
 * Expiration, CVC, Cardholder name; the inputs keep Stripe's ids: email, cardNumber, cardExpiry,
 * cardCvc, billingName), and what a submission of them becomes: the parameters of
 * payment_methods.create, or the messages of the fields that are incomplete (Stripe's wording).
 * The number is never echoed back into a page: a form shown again asks for it again.
 */
import { html, type Html } from './html.ts';
import { field } from './page_kit.ts';

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
export const paymentMethodParams = (e: CardEntry, withEmail: boolean) => ({
  type: 'card',
  card: { number: e.number, exp_month: e.exp_month, exp_year: e.exp_year, cvc: e.cvc },
  billing_details: { name: e.name, ...(withEmail && e.email ? { email: e.email } : {}) },
});

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
