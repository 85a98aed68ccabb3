/**
 * Plans (/v1/plans): Stripe's legacy face of recurring prices. A plan is a recurring price seen
 * in the Plan shape, under the same id: creating a plan creates that price (with the product it
 * names, or a new one from the `product` hash), every recurring price reads and lists as a plan,
 * and a change through either face is a change of both. Deleting a plan deletes its price, the
 * only way a price is ever deleted on Stripe (hence `price.deleted`).
 *
 * Events: each change emits the plan's event and the price's (catalog.ts emits both for prices
 * too), so a consumer listening to either face learns of it.
 */
import type { Command } from '../idempotency/engine.ts';
import type { Queryable } from '../store/db.ts';
import { ApiError, invalidRequest, missingParam, resourceMissing } from '../errors.ts';
import {
  boolean, clearable, currency, enumOf, expandParam, integer, metadata, nonEmptyString, object, optional, string, unsupported,
  type ParsedObject, type Schema,
} from '../schema/params.ts';
import { MAX_AMOUNT } from '../schema/money.ts';
import { applyMetadata } from '../schema/metadata.ts';
import { newId } from '../ids.ts';
import { render, type PaymentDeps } from '../payments/ports.ts';
import { emitEvent } from '../events/outbox.ts';
import { PRICE_INTERVALS, prices, products, type Price } from './billing_objects.ts';
import {
  checkIntervalCount, emitPriceEvent, inlineProduct, liveProduct, lockName, newPrice, newProduct, planOf, productId, savePriceIfChanged,
  unitAmountDecimal,
} from './catalog.ts';

const NO_TIERS = 'Oncepay plans are per unit: no tiers or usage transforms.';
const NO_METERS = 'Oncepay has no metered billing: plans are licensed (usage_type=licensed).';

const productHash = inlineProduct();

/** `product`: the id of an existing product, or a hash creating one (Stripe's two forms). */
function productParam(): Schema<string | ParsedObject<typeof productHash.shape>> {
  const id = nonEmptyString(255);
  return {
    required: true,
    parse: (v, path) => (typeof v === 'string' ? id.parse(v, path) : productHash.parse(v, path)),
    jsonSchema: () => ({ anyOf: [id.jsonSchema(), productHash.jsonSchema()] }),
  };
}

export const createPlanParams = object({
  id: optional(productId()),
  currency: currency(),
  interval: enumOf(PRICE_INTERVALS),
  interval_count: optional(integer({ min: 1 })),
  amount: optional(integer({ min: 0, max: MAX_AMOUNT })),
  amount_decimal: optional(unitAmountDecimal()),
  active: optional(boolean()),
  billing_scheme: optional(enumOf(['per_unit'] as const)),
  metadata: optional(metadata()),
  nickname: optional(string({ max: 5000 })),
  product: productParam(),
  trial_period_days: optional(integer({ min: 0, max: 730 })),
  usage_type: unsupported(NO_METERS, { noop: (v) => v === 'licensed' }),
  meter: unsupported(NO_METERS),
  tiers: unsupported(NO_TIERS),
  tiers_mode: unsupported(NO_TIERS),
  transform_usage: unsupported(NO_TIERS),
  expand: expandParam(),
});

export const updatePlanParams = object({
  plan: nonEmptyString(255),
  active: optional(boolean()),
  metadata: optional(metadata()),
  nickname: clearable(string({ max: 5000 })),
  product: optional(nonEmptyString(255)),
  trial_period_days: optional(integer({ min: 0, max: 730 })),
  expand: expandParam(),
});

export const deletePlanParams = object({ plan: nonEmptyString(255) });

type CreatePlan = ParsedObject<typeof createPlanParams.shape>;
type UpdatePlan = ParsedObject<typeof updatePlanParams.shape>;

/** Cross-parameter checks of a plan creation (no database needed). */
export function checkCreatePlan(p: CreatePlan): void {
  if (p.amount !== undefined && p.amount_decimal !== undefined) {
    throw invalidRequest('You may only specify one of these parameters: amount, amount_decimal.', 'amount_decimal', 'parameters_exclusive');
  }
  if (p.amount === undefined && p.amount_decimal === undefined) throw missingParam('amount');
  checkIntervalCount(p.interval, p.interval_count ?? 1, 'interval_count');
}

/** The recurring price behind a plan (not deleted), or Stripe's "No such plan". */
export async function livePlanPrice(q: Queryable, accountId: string, id: string, opts: { forUpdate?: boolean } = {}): Promise<Price> {
  const price = await prices.find(q, accountId, id, opts);
  if (!price || price.deleted || !price.recurring) throw resourceMissing('plan', id);
  return price;
}

/** Lists plans: the account's recurring prices that are not deleted. */
export function planListFilter(p: { active?: boolean; product?: string }) {
  const where: Record<string, string | boolean> = { type: 'recurring', deleted: false };
  if (p.active !== undefined) where.active = p.active;
  if (p.product !== undefined) where.product = p.product;
  return { where };
}

const planExists = (id: string) => new ApiError(400, {
  type: 'invalid_request_error', code: 'resource_already_exists', message: `Plan already exists: a plan or price with id '${id}' exists in this account.`, param: 'id',
});

export const createPlan: Command<CreatePlan, PaymentDeps> = {
  name: 'plans.create',
  run: (ctx, p) => ctx.finish('create', async (q) => {
    const id = p.id ?? newId('price');
    if (p.id !== undefined) {
      await lockName(q, ctx.accountId, 'price.id', p.id);
      if (await prices.find(q, ctx.accountId, p.id)) throw planExists(p.id);
    }
    const product = typeof p.product === 'string'
      ? await liveProduct(q, ctx.accountId, p.product, { param: 'product', forUpdate: true })
      : await newProduct(q, ctx.accountId, p.product, 'product[id]');
    const price = newPrice(product.id, {
      currency: p.currency, unit_amount: p.amount, unit_amount_decimal: p.amount_decimal, active: p.active, nickname: p.nickname,
      metadata: p.metadata, recurring: { interval: p.interval, interval_count: p.interval_count ?? 1, trial_period_days: p.trial_period_days },
    }, id);
    if (typeof p.product !== 'string') {
      products.insert(q, ctx.accountId, product);
      emitEvent(q, ctx, 'product.created', product);
    }
    prices.insert(q, ctx.accountId, price);
    emitPriceEvent(q, ctx, 'created', price);
    return { status: 200, body: await render(q, ctx, planOf(price), p.expand) };
  }),
};

export const updatePlan: Command<UpdatePlan, PaymentDeps> = {
  name: 'plans.update',
  run: (ctx, p) => ctx.finish('update', async (q) => {
    const unlocked = await livePlanPrice(q, ctx.accountId, p.plan);
    // The lock order of catalog.ts: products, then the price.
    if (p.product !== undefined && p.product !== unlocked.product) await liveProduct(q, ctx.accountId, p.product, { param: 'product', forUpdate: true });
    const current = await products.find(q, ctx.accountId, unlocked.product, { forUpdate: true });
    const price = await livePlanPrice(q, ctx.accountId, p.plan, { forUpdate: true });
    const before = structuredClone(price);
    if (p.active !== undefined) {
      if (!p.active && price.active && current && !current.deleted && current.default_price === price.id) {
        throw invalidRequest('This plan cannot be archived because its price is the default price of its product.', 'active');
      }
      price.active = p.active;
    }
    if (p.metadata !== undefined) price.metadata = applyMetadata(price.metadata, p.metadata);
    if (p.nickname !== undefined) price.nickname = p.nickname;
    if (p.product !== undefined) price.product = p.product;
    if (p.trial_period_days !== undefined) price.recurring = { ...price.recurring!, trial_period_days: p.trial_period_days || null };
    savePriceIfChanged(q, ctx, before, price);
    return { status: 200, body: await render(q, ctx, planOf(price), p.expand) };
  }),
};

export const deletePlan: Command<ParsedObject<typeof deletePlanParams.shape>, PaymentDeps> = {
  name: 'plans.delete',
  run: (ctx, p) => ctx.finish('delete', async (q) => {
    const unlocked = await livePlanPrice(q, ctx.accountId, p.plan);
    const product = await products.find(q, ctx.accountId, unlocked.product, { forUpdate: true });
    const price = await livePlanPrice(q, ctx.accountId, p.plan, { forUpdate: true });
    // A product's default price cannot go (Stripe refuses to archive it; deleting is more).
    if (product && !product.deleted && product.default_price === price.id) {
      throw invalidRequest(`This plan cannot be deleted because its price is the default price of product ${product.id}.`, 'plan');
    }
    // Existing subscriptions keep the price they embed; no new one can take it.
    prices.update(q, ctx.accountId, { ...price, deleted: true });
    emitPriceEvent(q, ctx, 'deleted', price);
    return { status: 200, body: deletedPlan(price.id) };
  }),
};

const deletedPlan = (id: string): { id: string; object: 'plan'; deleted: true } => ({ id, object: 'plan', deleted: true });
