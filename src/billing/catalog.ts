/**
 * Products and prices (commands), as Stripe's /v1/products and /v1/prices.
 *
 * - A product's id may be chosen by the caller (unique per account, deleted products included);
 *   `default_price_data` creates its default price in the same phase.
 * - A price's amount, currency, product and recurrence never change once created. `lookup_key`
 *   is unique among active prices: a creation or update taking a key already used by an active
 *   price is refused, unless `transfer_lookup_key` moves it. Claims of one key are serialized
 *   with a transaction-scoped advisory lock (the tables have no column to index it by).
 * - A product with prices cannot be deleted; the default price of a product cannot be archived.
 *
 * Lock order, to stay free of deadlocks: the product row, then the lookup key's advisory lock,
 * then price rows.
 */
import type { Command, CommandContext } from '../idempotency/engine.ts';
import type { Queryable, Tx } from '../store/db.ts';
import { ApiError, invalidRequest, missingParam, resourceMissing } from '../errors.ts';
import { newId, nowSeconds } from '../ids.ts';
import {
  array, boolean, clearable, currency, enumOf, expandParam, integer, metadata, nonEmptyString, object, optional, string, unsupported,
  type ParsedObject, type Schema,
} from '../schema/params.ts';
import { MAX_AMOUNT } from '../schema/money.ts';
import { applyMetadata } from '../schema/metadata.ts';
import { render, type PaymentDeps } from '../payments/ports.ts';
import { emitEvent, previousAttributes, saveIfChanged, type EventSource } from '../events/outbox.ts';
import { claimExternalId, existingObject, payloadFingerprint } from '../payments/external_ids.ts';
import { PRICE_INTERVALS, prices, products, type Plan, type Price, type PriceInterval, type Product } from './billing_objects.ts';

// ---- parameters -------------------------------------------------------------------------------

/** Stripe's cap on a recurring price's interval: three years (3 years, 36 months, 156 weeks), 1095 days for daily prices. */
export const MAX_INTERVAL_COUNT: Record<PriceInterval, number> = { day: 1095, week: 156, month: 36, year: 3 };

const NO_TAX = 'Oncepay calculates no tax.';
const NO_TIERS = 'Oncepay prices are per unit: no tiers, custom amounts, quantity transforms or multiple currencies.';

const recurringShape = object({
  interval: enumOf(PRICE_INTERVALS),
  interval_count: optional(integer({ min: 1 })),
  usage_type: optional(enumOf(['licensed'] as const)),
  trial_period_days: optional(integer({ min: 0, max: 730 })),
  meter: unsupported('Oncepay has no metered billing (meters).'),
});

/** Refuses an interval longer than Stripe's three-year maximum; `param` names interval_count. */
export function checkIntervalCount(interval: PriceInterval, count: number, param: string): void {
  if (count <= MAX_INTERVAL_COUNT[interval]) return;
  throw invalidRequest(
    `Invalid ${param}: the maximum interval is three years (3 years, 36 months, 156 weeks or 1095 days); ${count} ${interval}s is longer.`,
    param, 'parameter_invalid_integer');
}

/** `recurring`: an interval, and a count within Stripe's three-year maximum. */
function recurring(): Schema<{ interval: PriceInterval; interval_count: number; trial_period_days?: number }> {
  return {
    required: true,
    parse(v, path) {
      const r = recurringShape.parse(v, path);
      const count = r.interval_count ?? 1;
      checkIntervalCount(r.interval, count, `${path}[interval_count]`);
      return { interval: r.interval, interval_count: count, trial_period_days: r.trial_period_days };
    },
    jsonSchema: () => recurringShape.jsonSchema(),
  };
}

/** A price's amount in the currency's smallest unit: 0 (a free price) up to MAX_AMOUNT. */
const unitAmount = () => integer({ min: 0, max: MAX_AMOUNT });

/** `unit_amount_decimal`: a decimal string; Oncepay prices are whole minor units, so any fraction must be zero. */
export function unitAmountDecimal(): Schema<number> {
  const text = string({ max: 30, pattern: /^\d{1,12}(\.\d{1,12})?$/, patternMessage: 'Invalid decimal: use digits with at most 12 decimal places, such as 1500 or 1500.00.' });
  return {
    required: true,
    parse(v, path) {
      const s = text.parse(v, path);
      const [whole, fraction = ''] = s.split('.');
      if (/[1-9]/.test(fraction)) {
        throw invalidRequest(`Invalid ${path}: Oncepay prices are whole amounts in the currency's smallest unit, so ${s} cannot be used. Pass a value with no fractional part.`, path);
      }
      const n = Number(whole);
      if (n > MAX_AMOUNT) throw invalidRequest(`This value must be less than or equal to ${MAX_AMOUNT}.`, path);
      return n;
    },
    jsonSchema: () => ({ type: 'string', pattern: '^\\d{1,12}(\\.\\d{1,12})?$', description: 'A decimal string; any fractional part must be zero.' }),
  };
}

/** A custom id (a product's, a plan's): letters, digits, '_' and '-' (it appears in URLs). */
export const productId = () => string({
  max: 255, pattern: /^[A-Za-z0-9_-]+$/,
  patternMessage: 'Invalid id: a product id may contain only letters, digits, underscores and hyphens, and must not be empty.',
});

const statementDescriptor = () => string({
  max: 22, pattern: /^[^<>\\"']*[A-Za-z][^<>\\"']*$/,
  patternMessage: 'Invalid statement_descriptor: it must contain at least one letter and none of the characters < > \\ " \'.',
});

const productName = () => nonEmptyString(5000);
const description = () => string({ max: 40000 });
const images = () => array(string({ max: 2048 }), { max: 8 });
const unitLabel = () => string({ max: 12 });
const url = () => string({ max: 5000 });

export const priceData = {
  currency: currency(),
  unit_amount: optional(unitAmount()),
  unit_amount_decimal: optional(unitAmountDecimal()),
  recurring: optional(recurring()),
  metadata: optional(metadata()),
  tax_behavior: optional(enumOf(['unspecified'] as const)),
  currency_options: unsupported(NO_TIERS),
  custom_unit_amount: unsupported(NO_TIERS, { noop: (v) => typeof v === 'object' && v !== null && ['false', false].includes((v as { enabled?: unknown }).enabled as string) }),
};

export const createProductParams = object({
  id: optional(productId()),
  name: productName(),
  active: optional(boolean()),
  description: optional(description()),
  images: optional(images()),
  metadata: optional(metadata()),
  shippable: optional(boolean()),
  statement_descriptor: optional(statementDescriptor()),
  unit_label: optional(unitLabel()),
  url: optional(url()),
  default_price_data: optional(object(priceData)),
  type: optional(enumOf(['good', 'service'] as const)),
  marketing_features: unsupported('Oncepay products have no marketing features.', { noop: (v) => Array.isArray(v) && v.length === 0 }),
  package_dimensions: unsupported('Oncepay ships nothing: products have no package dimensions.'),
  tax_code: unsupported(NO_TAX),
  tax_details: unsupported(NO_TAX),
  external_id: optional(nonEmptyString(255)),
  expand: expandParam(),
});

export const updateProductParams = object({
  id: nonEmptyString(255),
  name: optional(productName()),
  active: optional(boolean()),
  default_price: clearable(nonEmptyString(255)),
  description: clearable(description()),
  images: clearable(images()),
  metadata: optional(metadata()),
  shippable: optional(boolean()),
  statement_descriptor: clearable(statementDescriptor()),
  unit_label: clearable(unitLabel()),
  url: clearable(url()),
  marketing_features: unsupported('Oncepay products have no marketing features.', { noop: (v) => Array.isArray(v) && v.length === 0 }),
  package_dimensions: unsupported('Oncepay ships nothing: products have no package dimensions.'),
  tax_code: unsupported(NO_TAX),
  tax_details: unsupported(NO_TAX),
  expand: expandParam(),
});

export const deleteProductParams = object({ id: nonEmptyString(255) });

/** A product created inline with its price (prices' product_data, plans' product hash). */
export const inlineProduct = () => object({
  name: productName(),
  id: optional(productId()),
  active: optional(boolean()),
  metadata: optional(metadata()),
  statement_descriptor: optional(statementDescriptor()),
  unit_label: optional(unitLabel()),
  tax_code: unsupported(NO_TAX),
  tax_details: unsupported(NO_TAX),
});

export const createPriceParams = object({
  ...priceData,
  product: optional(nonEmptyString(255)),
  product_data: optional(inlineProduct()),
  active: optional(boolean()),
  nickname: optional(string({ max: 5000 })),
  lookup_key: optional(nonEmptyString(200)),
  transfer_lookup_key: optional(boolean()),
  billing_scheme: optional(enumOf(['per_unit'] as const)),
  tiers: unsupported(NO_TIERS),
  tiers_mode: unsupported(NO_TIERS),
  transform_quantity: unsupported(NO_TIERS),
  external_id: optional(nonEmptyString(255)),
  expand: expandParam(),
});

export const updatePriceParams = object({
  price: nonEmptyString(255),
  active: optional(boolean()),
  nickname: clearable(string({ max: 5000 })),
  metadata: optional(metadata()),
  lookup_key: clearable(string({ max: 200 })),
  transfer_lookup_key: optional(boolean()),
  tax_behavior: optional(enumOf(['unspecified'] as const)),
  currency_options: unsupported(NO_TIERS),
  expand: expandParam(),
});

type CreateProduct = ParsedObject<typeof createProductParams.shape>;
type UpdateProduct = ParsedObject<typeof updateProductParams.shape>;
type CreatePrice = ParsedObject<typeof createPriceParams.shape>;
type UpdatePrice = ParsedObject<typeof updatePriceParams.shape>;
export type PriceData = ParsedObject<typeof priceData>;

const exclusive = (a: string, b: string) => invalidRequest(`You may only specify one of these parameters: ${a}, ${b}.`, b);

/** One amount: unit_amount or unit_amount_decimal (named inside `parent` when given). */
function checkAmount(p: { unit_amount?: number; unit_amount_decimal?: number }, parent?: string): void {
  const name = (k: string) => (parent ? `${parent}[${k}]` : k);
  if (p.unit_amount !== undefined && p.unit_amount_decimal !== undefined) throw exclusive(name('unit_amount'), name('unit_amount_decimal'));
  if (p.unit_amount === undefined && p.unit_amount_decimal === undefined) throw missingParam(name('unit_amount'));
}

/** Cross-parameter checks of a price creation (no database needed). */
export function checkCreatePrice(p: CreatePrice): void {
  if (p.product !== undefined && p.product_data !== undefined) throw exclusive('product', 'product_data');
  if (p.product === undefined && p.product_data === undefined) throw missingParam('product');
  checkAmount(p);
}

export function checkCreateProduct(p: CreateProduct): void {
  if (p.default_price_data) checkAmount(p.default_price_data, 'default_price_data');
}

// ---- reads and expansion ------------------------------------------------------------------------

/** A product that exists and is not deleted, or Stripe's resource_missing. */
export async function liveProduct(q: Queryable, accountId: string, id: string, opts: { param?: string; forUpdate?: boolean } = {}): Promise<Product> {
  const p = await products.find(q, accountId, id, opts);
  if (!p || p.deleted) throw resourceMissing('product', id, opts.param ?? 'id');
  return p;
}

/** A price that exists and is not deleted (deleting its plan deletes it), or resource_missing. */
export async function livePrice(q: Queryable, accountId: string, id: string, opts: { param?: string; forUpdate?: boolean } = {}): Promise<Price> {
  const p = await prices.find(q, accountId, id, opts);
  if (!p || p.deleted) throw resourceMissing('price', id, opts.param ?? 'id');
  return p;
}

const deletedProduct = (id: string) => ({ id, object: 'product' as const, deleted: true as const });

// ---- plans: the legacy face of recurring prices ---------------------------------------------------

/** The Plan view of a recurring price (same id): what /v1/plans and a subscription item's `plan` show. */
export function planOf(price: Price): Plan {
  const r = price.recurring!;
  return {
    id: price.id, object: 'plan', active: price.active, amount: price.unit_amount, amount_decimal: price.unit_amount_decimal,
    billing_scheme: 'per_unit', created: price.created, currency: price.currency, interval: r.interval, interval_count: r.interval_count,
    livemode: false, metadata: price.metadata, meter: null, nickname: price.nickname, product: price.product, tiers_mode: null,
    transform_usage: null, trial_period_days: r.trial_period_days, usage_type: 'licensed',
  };
}

/**
 * A price's created or deleted event, and for a recurring price the same event of its plan:
 * Stripe keeps the two faces in step, so a consumer listening to either learns of it.
 */
export function emitPriceEvent(q: Tx, source: EventSource, verb: 'created' | 'deleted', price: Price): void {
  emitEvent(q, source, `price.${verb}`, price);
  if (price.recurring) emitEvent(q, source, `plan.${verb}`, planOf(price));
}

/** Saves a changed price with price.updated, and plan.updated when its plan view changed too. */
export function savePriceIfChanged(q: Tx, source: EventSource, before: Price, after: Price): void {
  if (!saveIfChanged(q, source, prices, before, after, 'price.updated') || !after.recurring) return;
  const previous = previousAttributes(planOf(before), planOf(after));
  if (Object.keys(previous).length > 0) emitEvent(q, source, 'plan.updated', planOf(after), previous);
}

// ---- building blocks of the commands ------------------------------------------------------------

/**
 * Serializes, until commit, the transactions claiming one name (a lookup key, a product id) in
 * one account. The name comes last, so the ':'-joined text is unambiguous.
 */
export async function lockName(q: Tx, accountId: string, kind: 'price.lookup_key' | 'product.id' | 'price.id', name: string): Promise<void> {
  await q.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 7204552))', [`${accountId}:${kind}:${name}`]);
}

/**
 * Makes `key` free for `priceId` among active prices: refused when another active price holds it,
 * unless `transfer`, in which case that price loses it (returned, updated, for its event).
 */
async function claimLookupKey(q: Tx, accountId: string, key: string, priceId: string, transfer: boolean): Promise<Price | undefined> {
  await lockName(q, accountId, 'price.lookup_key', key);
  const { rows } = await q.query<{ data: Price }>(
    `SELECT data FROM prices WHERE account_id = $1 AND active AND data->>'lookup_key' = $2 AND id <> $3 ORDER BY seq LIMIT 1 FOR UPDATE`,
    [accountId, key, priceId]);
  const holder = rows[0]?.data;
  if (!holder) return undefined;
  if (!transfer) {
    throw invalidRequest(`A price (${holder.id}) already uses that lookup key. Pass transfer_lookup_key=true to move the key to this price.`, 'lookup_key');
  }
  holder.lookup_key = null;
  prices.update(q, accountId, holder);
  return holder;
}

function productExists(id: string, param: string): ApiError {
  return new ApiError(400, { type: 'invalid_request_error', code: 'resource_already_exists', message: `Product already exists: a product with id '${id}' exists (or existed) in this account.`, param });
}

/** A new product; a custom id must be free (deleted products keep theirs). */
export async function newProduct(
  q: Tx, accountId: string,
  p: { id?: string; name: string; active?: boolean; description?: string; images?: string[]; metadata?: Record<string, string | null> | null; shippable?: boolean; statement_descriptor?: string; unit_label?: string; url?: string; external_id?: string; type?: 'good' | 'service' },
  idParam: string,
  newIdFor: string = newId('prod'),
): Promise<Product> {
  let id = newIdFor;
  if (p.id !== undefined) {
    await lockName(q, accountId, 'product.id', p.id);
    if (await products.find(q, accountId, p.id)) throw productExists(p.id, idParam);
    id = p.id;
  }
  const now = nowSeconds();
  return {
    id, object: 'product', active: p.active ?? true, created: now, default_price: null, description: p.description || null,
    external_id: p.external_id ?? null,
    images: p.images ?? [], livemode: false, marketing_features: [], metadata: applyMetadata({}, p.metadata ?? {}), name: p.name,
    package_dimensions: null, shippable: p.shippable ?? null, statement_descriptor: p.statement_descriptor ?? null, tax_code: null,
    tax_details: null, type: p.type ?? 'service', unit_label: p.unit_label || null, updated: now, url: p.url || null,
  };
}

export function newPrice(product: string, d: Pick<PriceData, 'currency' | 'unit_amount' | 'unit_amount_decimal' | 'recurring' | 'metadata'> & { active?: boolean; nickname?: string; lookup_key?: string; external_id?: string }, id = newId('price')): Price {
  const amount = d.unit_amount ?? d.unit_amount_decimal ?? 0;
  return {
    id, object: 'price', active: d.active ?? true, billing_scheme: 'per_unit', created: nowSeconds(),
    currency: d.currency, custom_unit_amount: null, external_id: d.external_id ?? null, livemode: false, lookup_key: d.lookup_key ?? null, metadata: applyMetadata({}, d.metadata ?? {}),
    nickname: d.nickname || null, product,
    recurring: d.recurring
      ? { interval: d.recurring.interval, interval_count: d.recurring.interval_count, meter: null, trial_period_days: d.recurring.trial_period_days || null, usage_type: 'licensed' }
      : null,
    tax_behavior: 'unspecified', tiers_mode: null, transform_quantity: null, type: d.recurring ? 'recurring' : 'one_time', unit_amount: amount, unit_amount_decimal: String(amount),
  };
}

// ---- products -----------------------------------------------------------------------------------

export const createProduct: Command<CreateProduct, PaymentDeps> = {
  name: 'products.create',
  run: (ctx, p) => ctx.finish('create', async (q) => {
    const id = p.id ?? newId('prod');
    if (p.external_id) {
      const existing = await claimExternalId(q, ctx.accountId, 'product', p.external_id, id, payloadFingerprint(p), ctx.idempotencyKey);
      if (existing) return { status: 200, body: await render(q, ctx, await existingObject(q, ctx.accountId, products, existing, p.external_id), p.expand) };
    }
    const product = await newProduct(q, ctx.accountId, p, 'id', id);
    const price = p.default_price_data ? newPrice(product.id, p.default_price_data) : undefined;
    if (price) product.default_price = price.id;
    products.insert(q, ctx.accountId, product);
    emitEvent(q, ctx, 'product.created', product);
    if (price) {
      prices.insert(q, ctx.accountId, price);
      emitPriceEvent(q, ctx, 'created', price);
    }
    return { status: 200, body: await render(q, ctx, product, p.expand) };
  }),
};

export const updateProduct: Command<UpdateProduct, PaymentDeps> = {
  name: 'products.update',
  run: (ctx, p) => ctx.finish('update', async (q) => {
    const product = await liveProduct(q, ctx.accountId, p.id, { forUpdate: true });
    const before = structuredClone(product);
    if (p.name !== undefined) product.name = p.name;
    if (p.active !== undefined) product.active = p.active;
    if (p.description !== undefined) product.description = p.description;
    if (p.images !== undefined) product.images = p.images ?? [];
    if (p.metadata !== undefined) product.metadata = applyMetadata(product.metadata, p.metadata);
    if (p.shippable !== undefined) product.shippable = p.shippable;
    if (p.statement_descriptor !== undefined) product.statement_descriptor = p.statement_descriptor;
    if (p.unit_label !== undefined) product.unit_label = p.unit_label;
    if (p.url !== undefined) product.url = p.url;
    if (p.default_price !== undefined) {
      if (p.default_price !== null) {
        const price = await prices.find(q, ctx.accountId, p.default_price, { forUpdate: true });
        if (!price || price.deleted) throw resourceMissing('price', p.default_price, 'default_price');
        if (price.product !== product.id) {
          throw invalidRequest(`The price ${price.id} belongs to product ${price.product}, not to ${product.id}: a product's default price must be one of its own prices.`, 'default_price');
        }
        if (!price.active) throw invalidRequest(`The price ${price.id} is archived (active=false) and cannot be the default price. Activate it first.`, 'default_price');
      }
      product.default_price = p.default_price;
    }
    const previous = previousAttributes(before, product);
    if (Object.keys(previous).length > 0) {
      product.updated = Math.max(nowSeconds(), before.updated);
      previous.updated = before.updated;
      products.update(q, ctx.accountId, product);
      emitEvent(q, ctx, 'product.updated', product, previous);
    }
    return { status: 200, body: await render(q, ctx, product, p.expand) };
  }),
};

export const deleteProduct: Command<ParsedObject<typeof deleteProductParams.shape>, PaymentDeps> = {
  name: 'products.delete',
  run: (ctx, p) => ctx.finish('delete', async (q) => {
    const product = await liveProduct(q, ctx.accountId, p.id, { forUpdate: true });
    const { rows } = await q.query('SELECT 1 FROM prices WHERE account_id = $1 AND product = $2 LIMIT 1', [ctx.accountId, product.id]);
    if (rows.length > 0) throw invalidRequest('This product cannot be deleted because it has one or more user-created prices.');
    products.update(q, ctx.accountId, { ...product, deleted: true });
    emitEvent(q, ctx, 'product.deleted', product);
    return { status: 200, body: deletedProduct(product.id) };
  }),
};

// ---- prices -------------------------------------------------------------------------------------

/** Emits price.updated for a price that lost its lookup key to another. */
function emitLookupKeyLoss(q: Tx, ctx: CommandContext, loser: Price | undefined, key: string): void {
  if (loser) emitEvent(q, ctx, 'price.updated', loser, { lookup_key: key });
}

export const createPrice: Command<CreatePrice, PaymentDeps> = {
  name: 'prices.create',
  run: (ctx, p) => ctx.finish('create', async (q) => {
    const id = newId('price');
    if (p.external_id) {
      const existing = await claimExternalId(q, ctx.accountId, 'price', p.external_id, id, payloadFingerprint(p), ctx.idempotencyKey);
      if (existing) return { status: 200, body: await render(q, ctx, await prices.get(q, ctx.accountId, existing), p.expand) };
    }
    let product: Product;
    let newProductCreated = false;
    if (p.product !== undefined) {
      // Locked so that a concurrent deletion of the product cannot miss this price.
      product = await liveProduct(q, ctx.accountId, p.product, { param: 'product', forUpdate: true });
    } else {
      product = await newProduct(q, ctx.accountId, p.product_data!, 'product_data[id]');
      newProductCreated = true;
    }
    const price = newPrice(product.id, p, id);
    const loser = price.lookup_key && price.active
      ? await claimLookupKey(q, ctx.accountId, price.lookup_key, price.id, p.transfer_lookup_key === true)
      : undefined;
    if (newProductCreated) {
      products.insert(q, ctx.accountId, product);
      emitEvent(q, ctx, 'product.created', product);
    }
    emitLookupKeyLoss(q, ctx, loser, price.lookup_key ?? '');
    prices.insert(q, ctx.accountId, price);
    emitPriceEvent(q, ctx, 'created', price);
    return { status: 200, body: await render(q, ctx, price, p.expand) };
  }),
};

export const updatePrice: Command<UpdatePrice, PaymentDeps> = {
  name: 'prices.update',
  run: (ctx, p) => ctx.finish('update', async (q) => {
    const unlocked = await livePrice(q, ctx.accountId, p.price);
    // Product first (the lock order), then the price.
    const product = await products.find(q, ctx.accountId, unlocked.product, { forUpdate: true });
    const price = await livePrice(q, ctx.accountId, p.price, { forUpdate: true });
    const before = structuredClone(price);
    if (p.active !== undefined) {
      if (!p.active && price.active && product && !product.deleted && product.default_price === price.id) {
        throw invalidRequest('This price cannot be archived because it is the default price of its product.', 'active');
      }
      price.active = p.active;
    }
    if (p.nickname !== undefined) price.nickname = p.nickname;
    if (p.metadata !== undefined) price.metadata = applyMetadata(price.metadata, p.metadata);
    if (p.lookup_key !== undefined) price.lookup_key = p.lookup_key;
    // The key must be free among active prices whenever this price holds one and is (or becomes) active.
    const mustClaim = price.active && price.lookup_key !== null && (price.lookup_key !== before.lookup_key || !before.active);
    const loser = mustClaim ? await claimLookupKey(q, ctx.accountId, price.lookup_key!, price.id, p.transfer_lookup_key === true) : undefined;
    emitLookupKeyLoss(q, ctx, loser, price.lookup_key ?? '');
    savePriceIfChanged(q, ctx, before, price);
    return { status: 200, body: await render(q, ctx, price, p.expand) };
  }),
};
