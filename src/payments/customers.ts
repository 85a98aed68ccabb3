/** Customers: create, update, delete as commands, and the retrieve rule for deleted ones. */
import type { Command } from '../idempotency/engine.ts';
import type { Queryable, Tx } from '../store/db.ts';
import { newId, nowSeconds, randomId } from '../ids.ts';
import { invalidRequest, resourceMissing } from '../errors.ts';
import { findTestCard } from '../processor/cards.ts';
import { resolvePaymentMethod } from './payment_methods.ts';
import { array, boolean, clearable, enumOf, expandParam, integer, metadata, object, optional, string, nonEmptyString, type ParsedObject } from '../schema/params.ts';
import { MAX_AMOUNT } from '../schema/money.ts';
import { address, REFUSED, shipping } from './payment_params.ts';
import { customers, type Customer, type DeletedCustomer } from './payment_objects.ts';
import { applyMetadata } from '../schema/metadata.ts';
import { emitEvent, previousAttributes } from '../events/outbox.ts';
import { render, type PaymentDeps } from './ports.ts';
import { deleteCustomerTaxIds, insertTaxIds, taxIdDataParam } from './tax_ids.ts';
import { customerCard, planSource, recordSource, replaceDefaultSource, sourceParam, verifySource } from './sources.ts';
import { planAttach, recordAttach, verifyForAttach } from './payment_method_attach.ts';

const invoiceSettings = object({
  custom_fields: clearable(array(object({ name: nonEmptyString(40), value: nonEmptyString(140) }), { max: 4 })),
  default_payment_method: clearable(string({ max: 255 })),
  footer: clearable(string({ max: 5000 })),
  rendering_options: clearable(object({
    amount_tax_display: clearable(enumOf(['exclude_tax', 'include_inclusive_tax'] as const)),
    template: optional(string({ max: 5000 })),
  })),
});

const fields = {
  address: clearable(address()),
  balance: optional(integer({ min: -MAX_AMOUNT, max: MAX_AMOUNT })),
  business_name: clearable(string({ max: 150 })),
  individual_name: clearable(string({ max: 150 })),
  description: clearable(string({ max: 350 })),
  email: clearable(string({ max: 512 })),
  name: clearable(string({ max: 256 })),
  phone: clearable(string({ max: 20 })),
  preferred_locales: optional(array(string({ max: 20 }), { max: 10 })),
  shipping: clearable(shipping()),
  tax_exempt: clearable(enumOf(['none', 'exempt', 'reverse'] as const)),
  invoice_prefix: optional(string({ max: 12, pattern: /^[A-Z0-9]{3,12}$/, patternMessage: 'Invalid invoice_prefix: use 3 to 12 uppercase letters or digits.' })),
  next_invoice_sequence: optional(integer({ min: 1 })),
  metadata: optional(metadata()),
  payment_method: optional(nonEmptyString(255)),
  invoice_settings: optional(invoiceSettings),
  cash_balance: REFUSED.cashBalance(),
  source: optional(sourceParam()),
  tax: REFUSED.tax(),
  validate: optional(boolean()),
  expand: expandParam(),
};

/** A customer for GET: the object, or Stripe's stub for a deleted one. */
export async function retrieveCustomer(q: Queryable, accountId: string, id: string): Promise<Customer | DeletedCustomer> {
  const c = await customers.find(q, accountId, id);
  if (!c) throw resourceMissing('customer', id);
  return c.deleted ? { id: c.id, object: 'customer', deleted: true } : c;
}

export const createCustomerParams = object({
  ...fields,
  tax_id_data: taxIdDataParam(),
  /** The test clock whose time this customer's billing follows: set at creation only, never changed. */
  test_clock: optional(nonEmptyString(255)),
});
export const updateCustomerParams = object({ customer: nonEmptyString(255), default_source: optional(nonEmptyString(255)), ...fields });
export const deleteCustomerParams = object({ customer: nonEmptyString(255) });

type Fields = ParsedObject<typeof fields>;

function apply(c: Customer, p: Fields): void {
  const set = <K extends keyof Customer & keyof Fields>(k: K, v: Customer[K] | undefined) => { if (v !== undefined) c[k] = v; };
  set('address', p.address);
  set('balance', p.balance);
  set('description', p.description);
  set('email', p.email);
  set('name', p.name);
  set('phone', p.phone);
  set('preferred_locales', p.preferred_locales);
  set('shipping', p.shipping);
  if (p.tax_exempt !== undefined) c.tax_exempt = p.tax_exempt ?? 'none';
  set('invoice_prefix', p.invoice_prefix);
  set('next_invoice_sequence', p.next_invoice_sequence);
  if (p.business_name !== undefined) setOptional(c, 'business_name', p.business_name);
  if (p.individual_name !== undefined) setOptional(c, 'individual_name', p.individual_name);
  if (p.metadata !== undefined) c.metadata = applyMetadata(c.metadata, p.metadata);
  const s = p.invoice_settings;
  if (s?.custom_fields !== undefined) c.invoice_settings.custom_fields = s.custom_fields;
  if (s?.footer !== undefined) c.invoice_settings.footer = s.footer;
  if (s?.rendering_options !== undefined) {
    c.invoice_settings.rendering_options = s.rendering_options === null ? null
      : { amount_tax_display: s.rendering_options.amount_tax_display ?? null, template: s.rendering_options.template ?? null };
  }
  const pm = s?.default_payment_method;
  if (pm !== undefined) c.invoice_settings.default_payment_method = pm;
  else if (p.payment_method && !c.invoice_settings.default_payment_method) c.invoice_settings.default_payment_method = p.payment_method;
}

/** Stripe renders business_name and individual_name only once set; an empty value removes them again. */
function setOptional(c: Customer, k: 'business_name' | 'individual_name', v: string | null): void {
  if (v === null) delete c[k];
  else c[k] = v;
}

/**
 * A customer's default payment method must be attached to it, as on Stripe; a test id
 * (pm_card_visa) stands for a card anybody may use, so it may be the default of anyone.
 */
async function checkDefaultPaymentMethod(q: Tx, accountId: string, c: Customer, given: string | null | undefined): Promise<void> {
  if (!given || findTestCard(given)) return;
  const param = 'invoice_settings[default_payment_method]';
  const { method } = await resolvePaymentMethod(q, accountId, given, { param });
  if (method.customer !== c.id) {
    throw invalidRequest(`The customer does not have a payment method with the ID ${given}. The payment method must be attached to the customer.`, param);
  }
}

/** A customer that exists and is not deleted, or Stripe's resource_missing. */
export async function liveCustomer(q: Tx, accountId: string, id: string, opts: { param?: string; forUpdate?: boolean } = {}) {
  const c = await customers.find(q, accountId, id, opts);
  if (!c || c.deleted) throw resourceMissing('customer', id, opts.param ?? 'id');
  return c;
}

export const createCustomer: Command<ParsedObject<typeof createCustomerParams.shape>, PaymentDeps> = {
  name: 'customers.create',
  async run(ctx, p) {
    // source adds a card source (its default), checked at the acquirer first like an attach. Its
    // phase comes first: a card hash is read only there (the key row keeps the parameters redacted).
    const withSource = p.source ? await ctx.atomic('plan_source', async (q) => {
      const id = newId('cus');
      return { id, plan: await planSource(q, ctx, id, p.source!) };
    }) : null;
    if (withSource) await verifySource(ctx, withSource.plan, withSource.id, 'verify_source');
    // payment_method attaches it: the card is checked at the acquirer first, as an attach does.
    const attach = p.payment_method ? await ctx.atomic('plan', async (q) => {
      const id = withSource?.id ?? newId('cus');
      return { id, plan: await planAttach(q, ctx.accountId, p.payment_method!, id, 'payment_method') };
    }) : null;
    if (attach) await verifyForAttach(ctx, attach.plan, attach.id);
    return ctx.finish('create', async (q) => {
    const c: Customer = {
      id: withSource?.id ?? attach?.id ?? newId('cus'), object: 'customer', address: null, balance: 0, created: nowSeconds(), currency: null,
      customer_account: null, default_source: null, delinquent: false, description: null, email: null,
      invoice_prefix: randomId(8).toUpperCase(),
      invoice_settings: { custom_fields: null, default_payment_method: null, footer: null, rendering_options: null },
      livemode: false, metadata: {}, name: null, next_invoice_sequence: 1, phone: null, preferred_locales: [], shipping: null,
      tax_exempt: 'none', test_clock: null,
    };
    apply(c, p);
    if (p.test_clock !== undefined) {
      const clock = await ctx.deps.customerBilling.attachToClock(q, ctx.accountId, p.test_clock);
      c.test_clock = clock.id;
      // Like every object on a test clock, the customer is created at the clock's time.
      c.created = clock.frozen_time;
    }
    // The attached method replaces the id given wherever the customer names it (a test id becomes its saved copy).
    const attachedId = attach ? attach.plan.copyId ?? attach.plan.id : null;
    if (attachedId && c.invoice_settings.default_payment_method === p.payment_method) c.invoice_settings.default_payment_method = attachedId;
    else await checkDefaultPaymentMethod(q, ctx.accountId, c, p.invoice_settings?.default_payment_method);
    if (withSource) c.default_source = withSource.plan.method.id;
    customers.insert(q, ctx.accountId, c);
    emitEvent(q, ctx, 'customer.created', c);
    if (withSource) recordSource(q, ctx, withSource.plan, c, true);
    if (attach) await recordAttach(q, ctx, attach.plan, c.id);
    if (p.tax_id_data) insertTaxIds(q, ctx, c.id, p.tax_id_data, c.created);
    return { status: 200, body: await render(q, ctx, c, p.expand) };
    });
  },
};

export const updateCustomer: Command<ParsedObject<typeof updateCustomerParams.shape>, PaymentDeps> = {
  name: 'customers.update',
  async run(ctx, p) {
    // source adds a card that becomes the default (replacing the old default), checked at the acquirer first.
    const sourcePlan = p.source ? await ctx.atomic('plan', async (q) => {
      await liveCustomer(q, ctx.accountId, p.customer);
      return planSource(q, ctx, p.customer, p.source!);
    }) : null;
    if (sourcePlan) await verifySource(ctx, sourcePlan, p.customer);
    return ctx.finish('update', async (q) => {
    const c = await liveCustomer(q, ctx.accountId, p.customer, { forUpdate: true });
    const before = structuredClone(c);
    apply(c, p);
    if (p.default_source !== undefined) {
      await customerCard(q, ctx.accountId, c.id, p.default_source, { param: 'default_source' });
      c.default_source = p.default_source;
    }
    if (sourcePlan) await replaceDefaultSource(q, ctx, sourcePlan, c);
    await checkDefaultPaymentMethod(q, ctx.accountId, c, p.invoice_settings?.default_payment_method);
    customers.update(q, ctx.accountId, c);
    const previous = previousAttributes(before, c);
    if (Object.keys(previous).length > 0) emitEvent(q, ctx, 'customer.updated', c, previous);
    return { status: 200, body: await render(q, ctx, c, p.expand) };
    });
  },
};

export const deleteCustomer: Command<ParsedObject<typeof deleteCustomerParams.shape>, PaymentDeps> = {
  name: 'customers.delete',
  run: (ctx, p) => ctx.finish('delete', async (q) => {
    const c = await liveCustomer(q, ctx.accountId, p.customer, { forUpdate: true });
    // As Stripe does, a deleted customer's subscriptions end now.
    await ctx.deps.customerBilling.deleting(q, ctx, c);
    customers.update(q, ctx.accountId, { ...c, deleted: true });
    await deleteCustomerTaxIds(q, ctx, c.id);
    emitEvent(q, ctx, 'customer.deleted', c);
    const deleted: DeletedCustomer = { id: c.id, object: 'customer', deleted: true };
    return { status: 200, body: deleted };
  }),
};
