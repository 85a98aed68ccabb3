/** Customers: create, update, delete as commands, and the retrieve rule for deleted ones. */
import type { Command } from '../idempotency/engine.ts';
import type { Queryable, Tx } from '../store/db.ts';
import { newId, nowSeconds, randomId } from '../ids.ts';
import { resourceMissing } from '../errors.ts';
import { clearable, expandParam, metadata, object, optional, string, nonEmptyString, type ParsedObject } from '../schema/params.ts';
import { customers, type Customer, type DeletedCustomer } from './payment_objects.ts';
import { applyMetadata } from '../schema/metadata.ts';
import { emitEvent, previousAttributes } from '../events/outbox.ts';
import { render, type PaymentDeps } from './ports.ts';

const fields = {
  description: clearable(string({ max: 350 })),
  email: clearable(string({ max: 512 })),
  name: clearable(string({ max: 256 })),
  phone: clearable(string({ max: 20 })),
  metadata: optional(metadata()),
  payment_method: optional(nonEmptyString(255)),
  invoice_settings: optional(object({ default_payment_method: clearable(string({ max: 255 })) })),
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
  /** The test clock whose time this customer's billing follows: set at creation only, never changed. */
  test_clock: optional(nonEmptyString(255)),
});
export const updateCustomerParams = object({ customer: nonEmptyString(255), ...fields });
export const deleteCustomerParams = object({ customer: nonEmptyString(255) });

type Fields = ParsedObject<typeof fields>;

function apply(c: Customer, p: Fields): void {
  if (p.description !== undefined) c.description = p.description;
  if (p.email !== undefined) c.email = p.email;
  if (p.name !== undefined) c.name = p.name;
  if (p.phone !== undefined) c.phone = p.phone;
  if (p.metadata !== undefined) c.metadata = applyMetadata(c.metadata, p.metadata);
  const pm = p.invoice_settings?.default_payment_method;
  if (pm !== undefined) c.invoice_settings.default_payment_method = pm;
  else if (p.payment_method && !c.invoice_settings.default_payment_method) c.invoice_settings.default_payment_method = p.payment_method;
}

/** A customer that exists and is not deleted, or Stripe's resource_missing. */
export async function liveCustomer(q: Tx, accountId: string, id: string, opts: { param?: string; forUpdate?: boolean } = {}) {
  const c = await customers.find(q, accountId, id, opts);
  if (!c || c.deleted) throw resourceMissing('customer', id, opts.param ?? 'id');
  return c;
}

export const createCustomer: Command<ParsedObject<typeof createCustomerParams.shape>, PaymentDeps> = {
  name: 'customers.create',
  run: (ctx, p) => ctx.finish('create', async (q) => {
    const c: Customer = {
      id: newId('cus'), object: 'customer', address: null, balance: 0, created: nowSeconds(), currency: null,
      default_source: null, delinquent: false, description: null, email: null,
      invoice_prefix: randomId(8).toUpperCase(),
      invoice_settings: { custom_fields: null, default_payment_method: null, footer: null, rendering_options: null },
      livemode: false, metadata: {}, name: null, phone: null, preferred_locales: [], shipping: null,
      tax_exempt: 'none', test_clock: null,
    };
    apply(c, p);
    if (p.test_clock !== undefined) {
      const clock = await ctx.deps.customerBilling.attachToClock(q, ctx.accountId, p.test_clock);
      c.test_clock = clock.id;
      // Like every object on a test clock, the customer is created at the clock's time.
      c.created = clock.frozen_time;
    }
    customers.insert(q, ctx.accountId, c);
    emitEvent(q, ctx, 'customer.created', c);
    return { status: 200, body: await render(q, ctx, c, p.expand) };
  }),
};

export const updateCustomer: Command<ParsedObject<typeof updateCustomerParams.shape>, PaymentDeps> = {
  name: 'customers.update',
  run: (ctx, p) => ctx.finish('update', async (q) => {
    const c = await liveCustomer(q, ctx.accountId, p.customer, { forUpdate: true });
    const before = structuredClone(c);
    apply(c, p);
    customers.update(q, ctx.accountId, c);
    const previous = previousAttributes(before, c);
    if (Object.keys(previous).length > 0) emitEvent(q, ctx, 'customer.updated', c, previous);
    return { status: 200, body: await render(q, ctx, c, p.expand) };
  }),
};

export const deleteCustomer: Command<ParsedObject<typeof deleteCustomerParams.shape>, PaymentDeps> = {
  name: 'customers.delete',
  run: (ctx, p) => ctx.finish('delete', async (q) => {
    const c = await liveCustomer(q, ctx.accountId, p.customer, { forUpdate: true });
    // As Stripe does, a deleted customer's subscriptions end now.
    await ctx.deps.customerBilling.deleting(q, ctx, c);
    customers.update(q, ctx.accountId, { ...c, deleted: true });
    emitEvent(q, ctx, 'customer.deleted', c);
    const deleted: DeletedCustomer = { id: c.id, object: 'customer', deleted: true };
    return { status: 200, body: deleted };
  }),
};
