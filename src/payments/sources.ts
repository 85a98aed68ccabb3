/**
 * A customer's card sources (the legacy Sources API's cards): POST/GET/DELETE
 * /v1/customers/:customer/sources. A card source is a row of the payment_methods table whose id
 * starts card_ (so it is a PaymentMethod too, through resolvePaymentMethod), rendered as Stripe's
 * legacy Card (legacy_card.ts). Adding one checks the card at the acquirer first, as attaching a
 * payment method does (plan -> verify -> record): a declined card is not added; Stripe's 0341
 * card (tok_chargeCustomerFail) is, and its charges then fail. The customer's default_source is
 * its first card, moves to the newest remaining one when it is deleted, and changes with
 * customer update's default_source or source.
 */
import type { Command } from '../idempotency/engine.ts';
import type { Queryable, Tx } from '../store/db.ts';
import { ApiError, invalidRequest, errorDocUrl } from '../errors.ts';
import { newId, nowSeconds } from '../ids.ts';
import { boolean, enumOf, expandParam, integer, metadata, nonEmptyString, object, optional, unsupported, type ParsedObject } from '../schema/params.ts';
import { applyMetadata } from '../schema/metadata.ts';
import { emitEvent, previousAttributes, type EventSource } from '../events/outbox.ts';
import { customers, type Customer } from './payment_objects.ts';
import { buildPaymentMethod, insertPaymentMethod, paymentMethods, type PaymentMethod } from './payment_methods.ts';
import { verifyCard } from './payment_method_attach.ts';
import type { ResolvedPaymentMethod } from './payment_methods.ts';
import { cardOrId, consumeToken, legacyCardShape, legacyHolderShape, vaultLegacyCard, type LegacyCardInput } from './tokens.ts';
import { legacyCardOf, type DeletedCard, type LegacyCard } from './legacy_card.ts';
import type { PaymentContext, PaymentDeps } from './ports.ts';

const NOT_CARDS = 'Oncepay takes cards only: bank accounts (and their verification) are not part of it.';

/** A source as the legacy API takes it: a token (tok_...) or a card hash (source[object]=card, source[number]...). */
export const sourceParam = () => cardOrId(object({ object: optional(enumOf(['card'] as const)), ...legacyCardShape, metadata: optional(metadata()) }));
type SourceInput = string | (LegacyCardInput & { object?: 'card'; metadata?: Record<string, string | null> | null });

export const createSourceParams = object({
  customer: nonEmptyString(255),
  source: optional(sourceParam()),
  metadata: optional(metadata()),
  validate: optional(boolean()),
  expand: expandParam(),
});

export const updateSourceParams = object({
  customer: nonEmptyString(255),
  id: nonEmptyString(255),
  exp_month: optional(integer({ min: 1, max: 12 })),
  exp_year: optional(integer({ min: 0, max: 9999 })),
  ...legacyHolderShape,
  metadata: optional(metadata()),
  account_holder_name: unsupported(NOT_CARDS),
  account_holder_type: unsupported(NOT_CARDS),
  owner: unsupported('owner belongs to Source objects (src_), and the legacy Sources API is not part of Oncepay: update the card\'s name and address_* instead.'),
  expand: expandParam(),
});

export const deleteSourceParams = object({ customer: nonEmptyString(255), id: nonEmptyString(255), expand: expandParam() });

export const verifySourceParams = object({
  customer: nonEmptyString(255), id: nonEmptyString(255), amounts: unsupported(NOT_CARDS), expand: expandParam(),
});

/** Static checks of a source param (a string must be a token: Source objects are not part of Oncepay). */
export function checkSource(source: SourceInput | undefined, param = 'source'): void {
  if (typeof source !== 'string') return;
  if (source.startsWith('src_')) throw invalidRequest('Oncepay does not support Source objects (src_): the legacy Sources API is not part of it. Pass a token (tok_visa) or a card hash.', param, 'parameter_unsupported');
  if (!source.startsWith('tok_')) throw invalidRequest(`No such token: '${source}'. Pass a token (tok_visa...) or a card hash (source[object]=card, source[number]...).`, param, 'resource_missing');
}

/** What adding a card source will record: the card (not yet saved), the acquirer's reference for it. */
export interface SourcePlan { method: PaymentMethod; cardRef: string }

/** The plan step of adding a source (in the caller's phase): a token is used up, a hash vaulted. */
export async function planSource(q: Tx, ctx: PaymentContext, customer: string, source: SourceInput, param = 'source',
  extraMetadata?: Record<string, string | null> | null): Promise<SourcePlan> {
  const created = nowSeconds();
  if (typeof source === 'string') {
    const t = await consumeToken(q, ctx.accountId, source, param);
    const method = buildPaymentMethod(t.cardId ?? newId('card'), t.card, { created, customer, ...(t.billing ? { billing_details: t.billing } : {}),
      metadata: applyMetadata({}, extraMetadata ?? {}) });
    return { method, cardRef: t.ref };
  }
  const { ref, card, billing } = vaultLegacyCard(source, param);
  const method = buildPaymentMethod(newId('card'), card, {
    created, customer, billing_details: billing, metadata: applyMetadata(applyMetadata({}, source.metadata ?? {}), extraMetadata ?? {}),
  });
  return { method, cardRef: ref };
}

/** The verify step: the acquirer checks the card (a zero-amount verification) before it is added. */
export async function verifySource(ctx: PaymentContext, plan: SourcePlan, customer: string, step = 'verify'): Promise<void> {
  const result = await verifyCard(ctx, step, {
    downstreamKey: `${plan.method.id}:attach:${customer}`, reference: plan.method.id,
    method: { method: plan.method, cardRef: plan.cardRef } as ResolvedPaymentMethod,
  });
  if (result.outcome !== 'declined') return;
  throw new ApiError(402, {
    type: 'card_error', code: result.code, ...(result.decline_code ? { decline_code: result.decline_code } : {}),
    ...(result.param ? { param: result.param } : {}), message: result.message,
    doc_url: errorDocUrl(result.code),
  });
}

/**
 * The record step: the card saved for the customer (customer.source.created), and made its
 * default when it has none or `makeDefault` (the customer is updated by the caller, who holds it).
 */
export function recordSource(q: Tx, source: EventSource, plan: SourcePlan, c: Customer, makeDefault: boolean): LegacyCard {
  insertPaymentMethod(q, source.accountId, plan.method, plan.cardRef);
  const card = legacyCardOf(plan.method);
  emitEvent(q, source, 'customer.source.created', card);
  if (makeDefault || !c.default_source) c.default_source = card.id;
  return card;
}

/**
 * Customer update's `source`: the new card becomes the default and replaces the old default, which
 * is deleted (Stripe's documented behaviour of that parameter; adding more cards is POST .../sources).
 */
export async function replaceDefaultSource(q: Tx, source: EventSource, plan: SourcePlan, c: Customer): Promise<void> {
  const old = c.default_source;
  if (old) {
    const found = await customerCard(q, source.accountId, c.id, old, { forUpdate: true }).catch(() => undefined);
    if (found) {
      paymentMethods.update(q, source.accountId, { ...found.method, customer: null });
      emitEvent(q, source, 'customer.source.deleted', legacyCardOf(found.method));
    }
  }
  recordSource(q, source, plan, c, true);
}

/** The customer's card source `id`, or Stripe's 404 for a card it does not have. */
export async function customerCard(q: Queryable, accountId: string, customer: string, id: string, opts: { forUpdate?: boolean; param?: string } = {}): Promise<{ method: PaymentMethod; cardRef: string }> {
  const { rows } = await q.query<{ data: PaymentMethod; card_ref: string }>(
    `SELECT data, card_ref FROM payment_methods WHERE account_id = $1 AND id = $2 AND customer = $3 AND id LIKE 'card\\_%'${opts.forUpdate ? ' FOR UPDATE' : ''}`,
    [accountId, id, customer]);
  if (!rows[0]) {
    throw new ApiError(opts.param ? 400 : 404, {
      type: 'invalid_request_error', code: opts.param ? 'missing' : 'resource_missing', message: `Customer ${customer} does not have a linked source with ID ${id}.`,
      param: opts.param ?? 'id',
    });
  }
  return { method: rows[0].data, cardRef: rows[0].card_ref };
}

/** The customer's card sources, newest first (the `sources` list, and where default_source moves). */
export async function customerCards(q: Queryable, accountId: string, customer: string, limit = 10): Promise<{ data: LegacyCard[]; hasMore: boolean }> {
  const page = await paymentMethods.list(q, accountId, { limit, where: { customer }, whereSql: { sql: 'id LIKE $', value: 'card\\_%' } });
  return { data: page.data.map(legacyCardOf), hasMore: page.hasMore };
}

async function lockCustomer(q: Tx, accountId: string, id: string): Promise<Customer> {
  const c = await customers.find(q, accountId, id, { forUpdate: true });
  if (!c || c.deleted) throw new ApiError(404, { type: 'invalid_request_error', code: 'resource_missing', message: `No such customer: '${id}'`, param: 'customer' });
  return c;
}

/** Saves a customer whose default_source changed, with its customer.updated event. */
export function saveDefaultSource(q: Tx, source: EventSource, c: Customer, before: string | null): void {
  if (c.default_source === before) return;
  customers.update(q, source.accountId, c);
  emitEvent(q, source, 'customer.updated', c, { default_source: before });
}

export const createSource: Command<ParsedObject<typeof createSourceParams.shape>, PaymentDeps> = {
  name: 'customers.sources.create',
  async run(ctx, p) {
    const plan = await ctx.atomic('plan', async (q) => {
      await lockCustomer(q, ctx.accountId, p.customer);
      return planSource(q, ctx, p.customer, p.source!, 'source', p.metadata);
    });
    await verifySource(ctx, plan, p.customer);
    return ctx.finish('record', async (q) => {
      const c = await lockCustomer(q, ctx.accountId, p.customer);
      const before = c.default_source;
      const card = recordSource(q, ctx, plan, c, false);
      saveDefaultSource(q, ctx, c, before);
      return { status: 200, body: card };
    });
  },
};

export const updateSource: Command<ParsedObject<typeof updateSourceParams.shape>, PaymentDeps> = {
  name: 'customers.sources.update',
  run: (ctx, p) => ctx.finish('update', async (q) => {
    await lockCustomer(q, ctx.accountId, p.customer);
    const { method } = await customerCard(q, ctx.accountId, p.customer, p.id, { forUpdate: true });
    const pm: PaymentMethod = structuredClone(method);
    if (p.exp_month !== undefined) pm.card.exp_month = p.exp_month;
    if (p.exp_year !== undefined) pm.card.exp_year = p.exp_year < 100 ? 2000 + p.exp_year : p.exp_year;
    if (p.name !== undefined) pm.billing_details.name = p.name || null;
    const fields = { address_line1: 'line1', address_line2: 'line2', address_city: 'city', address_state: 'state', address_zip: 'postal_code', address_country: 'country' } as const;
    for (const [param, field] of Object.entries(fields) as [keyof typeof fields, string][]) {
      const v = p[param];
      if (v === undefined) continue;
      const address = pm.billing_details.address ?? { city: null, country: null, line1: null, line2: null, postal_code: null, state: null };
      address[field] = v || null;
      pm.billing_details.address = address;
    }
    if (p.metadata !== undefined) pm.metadata = applyMetadata(pm.metadata, p.metadata);
    const before = legacyCardOf(method);
    const card = legacyCardOf(pm);
    const previous = previousAttributes(before, card);
    if (Object.keys(previous).length > 0) {
      paymentMethods.update(q, ctx.accountId, pm);
      emitEvent(q, ctx, 'customer.source.updated', card, previous);
    }
    return { status: 200, body: card };
  }),
};

export const deleteSource: Command<ParsedObject<typeof deleteSourceParams.shape>, PaymentDeps> = {
  name: 'customers.sources.delete',
  run: (ctx, p) => ctx.finish('delete', async (q) => {
    const c = await lockCustomer(q, ctx.accountId, p.customer);
    const { method } = await customerCard(q, ctx.accountId, p.customer, p.id, { forUpdate: true });
    // The card leaves the customer (kept for the charges that name it, never usable again: a card_ pays only for its customer).
    const detached = { ...method, customer: null };
    paymentMethods.update(q, ctx.accountId, detached);
    emitEvent(q, ctx, 'customer.source.deleted', legacyCardOf(method));
    if (c.default_source === p.id) {
      const before = c.default_source;
      const { rows } = await q.query<{ id: string }>(
        `SELECT id FROM payment_methods WHERE account_id = $1 AND customer = $2 AND id LIKE 'card\\_%' AND id <> $3 ORDER BY seq DESC LIMIT 1`,
        [ctx.accountId, p.customer, p.id]);
      c.default_source = rows[0]?.id ?? null;
      saveDefaultSource(q, ctx, c, before);
    }
    const deleted: DeletedCard = { id: p.id, object: 'card', deleted: true };
    return { status: 200, body: deleted };
  }),
};

export const sourceVerificationUnsupported = () =>
  invalidRequest(`Oncepay does not support verifying a source: ${NOT_CARDS} A card source needs no verification.`, 'id', 'parameter_unsupported');

export const verifySourceCommand: Command<ParsedObject<typeof verifySourceParams.shape>, PaymentDeps> = {
  name: 'customers.sources.verify',
  run: (ctx) => ctx.finish('verify', async () => { throw sourceVerificationUnsupported(); }),
};
