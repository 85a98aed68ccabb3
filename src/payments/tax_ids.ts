/**
 * Tax IDs (Stripe's TaxId): a customer's (owner `customer`) or the account's own (owner `self`),
 * created with a format check per type (tax_id_formats.ts), deleted, listed. The table and object
 * live here too: nothing else of payments reads them.
 *
 * Verification: the types Stripe verifies asynchronously (ABN, EU VAT, GB VAT) are created
 * `pending`, and test mode concludes at once in the same transaction: the answer and the
 * `customer.tax_id.created` event carry the object as created (pending), a
 * `customer.tax_id.updated` event follows with the verification's outcome (its
 * previous_attributes the pending verification), and a later GET shows that outcome. Other
 * types are `unavailable` from the start. Account (self) tax IDs carry no verification, as
 * Stripe renders them (null), and emit no event: Stripe's events are customer.tax_id.* only.
 */
import type { Command } from '../idempotency/engine.ts';
import type { Queryable, Tx } from '../store/db.ts';
import { ObjectTable } from '../store/object_table.ts';
import { newId, nowSeconds } from '../ids.ts';
import { ApiError, invalidRequest, missingParam, resourceMissing } from '../errors.ts';
import { array, enumOf, expandParam, nonEmptyString, object, optional, type ParsedObject, type Schema } from '../schema/params.ts';
import { emitEvent } from '../events/outbox.ts';
import { REFUSED } from './payment_params.ts';
import { customers } from './payment_objects.ts';
import { render, type PaymentContext, type PaymentDeps } from './ports.ts';
import { TAX_ID_TYPES, VERIFIED_TYPES, taxIdCountry, testModeVerification, type VerificationStatus } from './tax_id_formats.ts';

export interface TaxIdVerification {
  status: VerificationStatus;
  verified_address: string | null;
  verified_name: string | null;
}

export interface TaxId {
  id: string;
  object: 'tax_id';
  country: string | null;
  created: number;
  customer: string | null;
  customer_account: null;
  livemode: false;
  owner: { type: 'customer'; customer: string; customer_account: null } | { type: 'self'; customer_account: null };
  type: string;
  value: string;
  verification: TaxIdVerification | null;
  /** Kept for the history of events; a deleted tax ID reads as missing. */
  deleted?: true;
}

export interface DeletedTaxId {
  id: string;
  object: 'tax_id';
  deleted: true;
}

export const taxIds = new ObjectTable<TaxId>('tax_ids', 'tax_id', {
  customer: (t) => t.customer,
  owner_type: (t) => t.owner.type,
  deleted: (t) => t.deleted === true,
});

const TAX_ID_DOC = 'https://docs.stripe.com/error-codes#tax-id-invalid';

/** Stripe's refusal of a malformed value, naming the value's parameter. */
export function checkTaxIdValue(type: string, value: string, param: string): void {
  if (taxIdCountry(type, value) === null) {
    throw new ApiError(400, { type: 'invalid_request_error', code: 'tax_id_invalid', message: `Invalid value for ${type}.`, param, doc_url: TAX_ID_DOC });
  }
}

const taxIdType = () => enumOf(TAX_ID_TYPES);

/** `{type, value}`, its value checked against its type's format where it is parsed (tax_id_data[0][value]). */
function taxIdDatum(): Schema<{ type: string; value: string }> {
  const s = object({ type: taxIdType(), value: nonEmptyString() });
  return {
    required: true,
    parse(v, path) {
      const d = s.parse(v, path);
      checkTaxIdValue(d.type, d.value, `${path}[value]`);
      return d;
    },
    jsonSchema: () => s.jsonSchema(),
  };
}

/** Customer create's `tax_id_data[]`: the tax IDs the new customer is created with. */
export const taxIdDataParam = () => optional(array(taxIdDatum()));

const ownerParam = () => optional(object({
  type: enumOf(['account', 'application', 'customer', 'self'] as const),
  customer: optional(nonEmptyString(255)),
  account: REFUSED.connect(),
  customer_account: REFUSED.customerAccount(),
}));

type Owner = NonNullable<ParsedObject<{ o: ReturnType<typeof ownerParam> }>['o']>;

/** The owner Oncepay can have: a customer of the account, or the account itself (the default, as Stripe's). */
export function checkOwner(owner: Owner | undefined): void {
  if (!owner) return;
  if (owner.type === 'account' || owner.type === 'application') {
    throw invalidRequest(`Oncepay does not support 'owner[type]=${owner.type}': tax IDs of connected accounts and applications belong to Connect, which is not part of Oncepay. Use customer or self.`,
      'owner[type]', 'parameter_unsupported');
  }
  if (owner.type === 'customer' && !owner.customer) throw missingParam('owner[customer]');
  if (owner.type === 'self' && owner.customer) throw invalidRequest('owner[customer] may only be set when owner[type] is customer.', 'owner[customer]');
}

export const createCustomerTaxIdParams = object({ customer: nonEmptyString(255), type: taxIdType(), value: nonEmptyString(), expand: expandParam() });
export const createTaxIdParams = object({ type: taxIdType(), value: nonEmptyString(), owner: ownerParam(), expand: expandParam() });
export const taxIdListOwner = ownerParam;
export const deleteCustomerTaxIdParams = object({ customer: nonEmptyString(255), id: nonEmptyString(255) });
export const deleteTaxIdParams = object({ id: nonEmptyString(255) });

/** A new tax ID as created: verification pending for the types Stripe verifies, unavailable otherwise, none for the account's. */
function newTaxId(customer: string | null, type: string, value: string, created: number): TaxId {
  const verification: TaxIdVerification | null = customer === null ? null
    : { status: VERIFIED_TYPES.has(type) ? 'pending' : 'unavailable', verified_address: null, verified_name: null };
  return {
    id: newId('txi'), object: 'tax_id', country: taxIdCountry(type, value), created, customer, customer_account: null, livemode: false,
    owner: customer === null ? { type: 'self', customer_account: null } : { type: 'customer', customer, customer_account: null },
    type, value, verification,
  };
}

/**
 * Creates tax IDs in the phase's transaction, each written once with its verification's
 * outcome; the events tell the story as Stripe does (created pending, then updated). Returns
 * them as created, which is what the create answers.
 */
export function insertTaxIds(q: Tx, ctx: PaymentContext, customer: string | null, data: readonly { type: string; value: string }[], created = nowSeconds()): TaxId[] {
  return data.map(({ type, value }) => {
    const t = newTaxId(customer, type, value, created);
    const verified = t.verification?.status === 'pending'
      ? { ...t, verification: { ...t.verification, status: testModeVerification(value) } }
      : t;
    taxIds.insert(q, ctx.accountId, verified);
    if (customer !== null) {
      emitEvent(q, ctx, 'customer.tax_id.created', t);
      if (verified.verification?.status !== t.verification?.status) {
        emitEvent(q, ctx, 'customer.tax_id.updated', verified, { verification: t.verification });
      }
    }
    return t;
  });
}

/** A tax ID of the account that is not deleted (and, given `customer`, belongs to it), or 404. */
export async function liveTaxId(q: Queryable, accountId: string, id: string, opts: { customer?: string; forUpdate?: boolean } = {}): Promise<TaxId> {
  const t = await taxIds.find(q, accountId, id, { forUpdate: opts.forUpdate });
  if (!t || t.deleted || (opts.customer !== undefined && t.customer !== opts.customer)) throw resourceMissing('tax_id', id);
  return t;
}

/**
 * Deleting a customer deletes its tax IDs, each with its customer.tax_id.deleted event (so a
 * consumer's mirror built from webhooks loses them too), in the customer's deletion phase.
 */
export async function deleteCustomerTaxIds(q: Tx, ctx: PaymentContext, customer: string): Promise<void> {
  const { rows } = await q.query<{ data: TaxId }>(
    'SELECT data FROM tax_ids WHERE account_id = $1 AND customer = $2 AND NOT deleted ORDER BY seq FOR UPDATE', [ctx.accountId, customer]);
  for (const { data } of rows) removeTaxId(q, ctx, data);
}

/** The customer a tax ID is created for: it exists and is not deleted (locked, as its deletion takes its tax IDs). */
async function ownerCustomer(q: Tx, accountId: string, id: string, param = 'id'): Promise<string> {
  const c = await customers.find(q, accountId, id, { forUpdate: true });
  if (!c || c.deleted) throw resourceMissing('customer', id, param);
  return c.id;
}

export const createCustomerTaxId: Command<ParsedObject<typeof createCustomerTaxIdParams.shape>, PaymentDeps> = {
  name: 'customers.tax_ids.create',
  run: (ctx, p) => ctx.finish('create', async (q) => {
    const [t] = insertTaxIds(q, ctx, await ownerCustomer(q, ctx.accountId, p.customer), [p]);
    return { status: 200, body: await render(q, ctx, t, p.expand) };
  }),
};

export const createTaxId: Command<ParsedObject<typeof createTaxIdParams.shape>, PaymentDeps> = {
  name: 'tax_ids.create',
  run: (ctx, p) => ctx.finish('create', async (q) => {
    let customer: string | null = null;
    if (p.owner?.type === 'customer') customer = await ownerCustomer(q, ctx.accountId, p.owner.customer!, 'owner[customer]');
    const [t] = insertTaxIds(q, ctx, customer, [p]);
    return { status: 200, body: await render(q, ctx, t, p.expand) };
  }),
};

function removeTaxId(q: Tx, ctx: PaymentContext, t: TaxId): DeletedTaxId {
  taxIds.update(q, ctx.accountId, { ...t, deleted: true });
  if (t.customer !== null) emitEvent(q, ctx, 'customer.tax_id.deleted', t);
  return { id: t.id, object: 'tax_id', deleted: true };
}

export const deleteCustomerTaxId: Command<ParsedObject<typeof deleteCustomerTaxIdParams.shape>, PaymentDeps> = {
  name: 'customers.tax_ids.delete',
  run: (ctx, p) => ctx.finish('delete', async (q) => {
    await ownerCustomer(q, ctx.accountId, p.customer);
    const t = await liveTaxId(q, ctx.accountId, p.id, { customer: p.customer, forUpdate: true });
    return { status: 200, body: removeTaxId(q, ctx, t) };
  }),
};

export const deleteTaxId: Command<ParsedObject<typeof deleteTaxIdParams.shape>, PaymentDeps> = {
  name: 'tax_ids.delete',
  run: (ctx, p) => ctx.finish('delete', async (q) => {
    const t = await liveTaxId(q, ctx.accountId, p.id, { forUpdate: true });
    return { status: 200, body: removeTaxId(q, ctx, t) };
  }),
};
