/**
 * The parameters invoices share between create and update (their terms: footer, custom fields,
 * rendering, ...) and the documented ones Oncepay knows but cannot act on (tax, Connect,
 * discounts, revisions), refused with their reason. Applying the terms to a draft lives here too.
 */
import {
  array, clearable, enumOf, integer, nonEmptyString, object, optional, string, unsupported, type ParsedObject,
} from '../schema/params.ts';
import { invalidRequest } from '../errors.ts';
import type { Invoice, InvoiceRendering } from './billing_objects.ts';

const NO_TAX = 'Oncepay calculates no tax: invoices have no tax rates, tax IDs or automatic tax.';
const NO_CONNECT = 'Oncepay has no Connect: invoices are issued by, and paid to, the account itself.';
const NO_DISCOUNTS = 'Oncepay has no coupons or promotion codes, so invoices carry no discounts.';
const empty = (v: unknown) => v === '' || (Array.isArray(v) && v.length === 0) || (typeof v === 'object' && v !== null && Object.keys(v).length === 0);
const disabled = (v: unknown) => typeof v === 'object' && v !== null && ['false', false].includes((v as Record<string, unknown>).enabled as string) && !('liability' in v);
const issuedBySelf = (v: unknown) => typeof v === 'object' && v !== null && (v as Record<string, unknown>).type === 'self' && Object.keys(v).length === 1;

const address = () => object({
  city: optional(string({ max: 200 })), country: optional(string({ max: 2 })), line1: optional(string({ max: 200 })),
  line2: optional(string({ max: 200 })), postal_code: optional(string({ max: 20 })), state: optional(string({ max: 200 })),
});

/** Terms the creator sets on a draft, and may change while it is one. */
export const invoiceTermParams = {
  custom_fields: clearable(array(object({ name: nonEmptyString(40), value: nonEmptyString(140) }), { max: 4 })),
  footer: clearable(string({ max: 5000 })),
  number: clearable(nonEmptyString(26)),
  statement_descriptor: clearable(string({ max: 22 })),
  effective_at: clearable(integer({ min: 0 })),
  automatically_finalizes_at: optional(integer({ min: 0 })),
  rendering: optional(object({
    amount_tax_display: clearable(enumOf(['exclude_tax', 'include_inclusive_tax'] as const)),
    pdf: optional(object({ page_size: optional(enumOf(['a4', 'auto', 'letter'] as const)) })),
    template: optional(nonEmptyString(255)),
    template_version: clearable(integer({ min: 1 })),
  })),
  shipping_details: clearable(object({ address: address(), name: nonEmptyString(255), phone: clearable(string({ max: 50 })) })),
  payment_settings: optional(object({
    default_mandate: unsupported('Oncepay has no mandates: invoices are paid by card.', { noop: empty }),
    payment_method_options: unsupported('Oncepay takes cards with no per-method options on invoices.', { noop: empty }),
    payment_method_types: clearable(array(enumOf(['card'] as const), { max: 1 })),
  })),
  account_tax_ids: unsupported(NO_TAX, { noop: empty }),
  automatic_tax: unsupported(NO_TAX, { noop: disabled }),
  default_tax_rates: unsupported(NO_TAX, { noop: empty }),
  discounts: unsupported(NO_DISCOUNTS, { noop: empty }),
  default_source: unsupported('Oncepay has no sources (the legacy card objects): pass default_payment_method.', { noop: empty }),
  shipping_cost: unsupported('Oncepay has no shipping rates: bill shipping as an invoice item.', { noop: empty }),
  issuer: unsupported(NO_CONNECT, { noop: issuedBySelf }),
  on_behalf_of: unsupported(NO_CONNECT, { noop: empty }),
  transfer_data: unsupported(NO_CONNECT, { noop: empty }),
  application_fee_amount: unsupported(NO_CONNECT),
};

/** Create only. */
export const invoiceCreateOnlyParams = {
  customer_account: unsupported('Oncepay has no Accounts v2: name the customer with customer.'),
  from_invoice: unsupported('Oncepay has no invoice revisions: void the invoice and create another.'),
  subscription: unsupported('Oncepay never ties invoice items to a subscription, so a subscription\'s manual invoice would bill nothing: subscriptions invoice themselves each period.'),
};

type Terms = ParsedObject<typeof invoiceTermParams>;

/** The terms as the invoice shows them (those not passed are left out). */
export function applyInvoiceTerms(inv: Invoice, p: Partial<Terms>): void {
  if (p.custom_fields !== undefined) inv.custom_fields = p.custom_fields?.length ? p.custom_fields : null;
  if (p.footer !== undefined) inv.footer = p.footer;
  if (p.number !== undefined) inv.number = p.number;
  if (p.statement_descriptor !== undefined) inv.statement_descriptor = p.statement_descriptor;
  if (p.effective_at !== undefined) inv.effective_at = p.effective_at;
  if (p.automatically_finalizes_at !== undefined) {
    if (p.automatically_finalizes_at < inv.created) throw invalidRequest('automatically_finalizes_at must be after the invoice was created.', 'automatically_finalizes_at');
    inv.auto_advance = true;
    inv.automatically_finalizes_at = p.automatically_finalizes_at;
  }
  if (p.rendering !== undefined) {
    const r = p.rendering;
    const was: InvoiceRendering = inv.rendering ?? { amount_tax_display: null, pdf: null, template: null, template_version: null };
    inv.rendering = {
      amount_tax_display: r.amount_tax_display === undefined ? was.amount_tax_display : r.amount_tax_display,
      pdf: r.pdf ? { page_size: r.pdf.page_size ?? null } : was.pdf,
      template: r.template ?? was.template,
      template_version: r.template_version === undefined ? was.template_version : r.template_version,
    };
  }
  if (p.shipping_details !== undefined) {
    const s = p.shipping_details;
    inv.shipping_details = s && {
      name: s.name, phone: s.phone ?? null,
      address: {
        city: s.address.city ?? null, country: s.address.country ?? null, line1: s.address.line1 ?? null,
        line2: s.address.line2 ?? null, postal_code: s.address.postal_code ?? null, state: s.address.state ?? null,
      },
    };
  }
  if (p.payment_settings?.payment_method_types !== undefined) {
    const types = p.payment_settings.payment_method_types;
    inv.payment_settings = { ...inv.payment_settings, payment_method_types: types?.length ? types : null };
  }
}
