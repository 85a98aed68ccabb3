/**
 * Customer portal configurations: create and update, as commands; what the portal offers a
 * customer (features), its links and its default return URL.
 *
 * `is_default`: the account's first configuration is its default, whether the merchant created it
 * or a session created without `configuration` made it (defaultConfiguration, with
 * DEFAULT_FEATURES). Both take a per-account transaction lock first, so two concurrent creates
 * cannot both become the default; a unique index holds the rule besides. The default cannot be
 * deactivated (a session without `configuration` must always have one to use), as on Stripe.
 */
import type { Command } from '../idempotency/engine.ts';
import type { Tx } from '../store/db.ts';
import { invalidRequest } from '../errors.ts';
import { newId, nowSeconds } from '../ids.ts';
import { applyMetadata } from '../schema/metadata.ts';
import { emitEvent, previousAttributes, type EventSource } from '../events/outbox.ts';
import { render } from '../payments/ports.ts';
import { liveProduct, livePrice } from '../billing/catalog.ts';
import type { HostedDeps } from '../checkout/hosted_deps.ts';
import { portalConfigurations, type PortalConfiguration, type PortalFeatures, type PortalProduct } from './portal_objects.ts';
import type { CreateConfigurationParams, FeaturesParams, UpdateConfigurationParams } from './portal_params.ts';

type PortalCommand<P> = Command<P, HostedDeps>;

/** Every feature off: what a configuration starts from before its parameters apply. */
const NO_FEATURES: PortalFeatures = {
  customer_update: { allowed_updates: [], enabled: false },
  invoice_history: { enabled: false },
  payment_method_update: { enabled: false, payment_method_configuration: null },
  subscription_cancel: {
    cancellation_reason: { enabled: false, feedback_options: null, options: [] },
    enabled: false, mode: 'at_period_end', proration_behavior: 'none',
  },
  // Stripe's default pause duration (one month); pausing itself is never enabled in Oncepay.
  subscription_pause: { duration: { interval_options: [{ interval: 'month', interval_count: 1 }], type: 'interval_options' }, enabled: false },
  subscription_update: {
    billing_cycle_anchor: null, default_allowed_updates: [], enabled: false, products: [], proration_behavior: 'none',
    schedule_at_period_end: { conditions: [] }, trial_update_behavior: 'end_trial',
  },
};

/**
 * The features of the configuration a session makes when the account has none (Stripe's portal
 * settings as the Dashboard first shows them, less what Oncepay refuses): customers may update
 * their email, name and addresses, see their invoices, update their payment method, and cancel at
 * the period's end; changing plans needs products, so subscription_update is off.
 */
export const DEFAULT_FEATURES: PortalFeatures = {
  ...NO_FEATURES,
  customer_update: { allowed_updates: ['email', 'name', 'address', 'shipping'], enabled: true },
  invoice_history: { enabled: true },
  payment_method_update: { enabled: true, payment_method_configuration: null },
  subscription_cancel: { ...NO_FEATURES.subscription_cancel, enabled: true },
};

/** Serializes the is_default decision of one account (the first configuration is the default). */
async function lockDefault(q: Tx, accountId: string): Promise<boolean> {
  await q.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`billing_portal_default:${accountId}`]);
  const { rows } = await q.query('SELECT 1 FROM billing_portal_configurations WHERE account_id = $1 AND is_default LIMIT 1', [accountId]);
  return rows.length === 0;
}

const PRODUCTS = 'features[subscription_update][products]';

/** The products a customer may switch between: each exists, and each price is a live recurring price of that product. */
async function checkProducts(q: Tx, accountId: string, products: NonNullable<NonNullable<FeaturesParams['subscription_update']>['products']>): Promise<PortalProduct[]> {
  const out: PortalProduct[] = [];
  for (const [i, p] of products.entries()) {
    const param = `${PRODUCTS}[${i}]`;
    await liveProduct(q, accountId, p.product, { param: `${param}[product]` });
    if (out.some((o) => o.product === p.product)) throw invalidRequest(`The product ${p.product} is listed twice in ${PRODUCTS}.`, `${param}[product]`);
    if (p.prices.length === 0) throw invalidRequest(`${param}[prices] must name at least one price of ${p.product}.`, `${param}[prices]`);
    for (const [j, id] of p.prices.entries()) {
      const price = await livePrice(q, accountId, id, { param: `${param}[prices][${j}]` });
      if (price.product !== p.product) throw invalidRequest(`The price ${id} belongs to the product ${price.product}, not ${p.product}.`, `${param}[prices][${j}]`);
      if (price.type !== 'recurring') throw invalidRequest(`The price ${id} is not recurring: a subscription can only be switched to recurring prices.`, `${param}[prices][${j}]`);
      if (!price.active) throw invalidRequest(`The price ${id} is not active.`, `${param}[prices][${j}]`);
    }
    const q_ = p.adjustable_quantity;
    const adjustable = { enabled: q_?.enabled ?? false, maximum: q_?.maximum ?? null, minimum: q_?.minimum ?? 1 };
    if (adjustable.maximum !== null && adjustable.maximum < adjustable.minimum) {
      throw invalidRequest('adjustable_quantity[maximum] must be at least its minimum.', `${param}[adjustable_quantity][maximum]`);
    }
    out.push({ adjustable_quantity: adjustable, prices: [...new Set(p.prices)], product: p.product });
  }
  return out;
}

/** `features` with the given parameters applied (create: over NO_FEATURES; update: over the current ones). */
async function applyFeatures(q: Tx, accountId: string, current: PortalFeatures, f: FeaturesParams): Promise<PortalFeatures> {
  const next: PortalFeatures = structuredClone(current);
  if (f.customer_update) {
    const c = f.customer_update;
    if (c.enabled !== undefined) next.customer_update.enabled = c.enabled;
    if (c.allowed_updates !== undefined) next.customer_update.allowed_updates = [...new Set(c.allowed_updates)];
  }
  if (f.invoice_history) next.invoice_history.enabled = f.invoice_history.enabled;
  if (f.payment_method_update) next.payment_method_update.enabled = f.payment_method_update.enabled;
  if (f.subscription_cancel) {
    const c = f.subscription_cancel;
    if (c.enabled !== undefined) next.subscription_cancel.enabled = c.enabled;
    if (c.mode !== undefined) next.subscription_cancel.mode = c.mode;
    if (c.cancellation_reason) {
      next.subscription_cancel.cancellation_reason.enabled = c.cancellation_reason.enabled;
      if (c.cancellation_reason.options !== undefined) next.subscription_cancel.cancellation_reason.options = [...new Set(c.cancellation_reason.options)];
    }
    const reason = next.subscription_cancel.cancellation_reason;
    if (reason.enabled && reason.options.length === 0) {
      throw invalidRequest('features[subscription_cancel][cancellation_reason][options] must name at least one reason when the cancellation reason is enabled.', 'features[subscription_cancel][cancellation_reason][options]');
    }
  }
  if (f.subscription_update) {
    const u = f.subscription_update;
    if (u.enabled !== undefined) next.subscription_update.enabled = u.enabled;
    if (u.default_allowed_updates !== undefined) next.subscription_update.default_allowed_updates = [...new Set(u.default_allowed_updates)];
    if (u.products !== undefined) next.subscription_update.products = await checkProducts(q, accountId, u.products);
    const upd = next.subscription_update;
    if (upd.enabled && upd.default_allowed_updates.includes('price') && upd.products.length === 0) {
      throw invalidRequest(`${PRODUCTS} must name at least one product when customers may change their price (default_allowed_updates includes price).`, PRODUCTS);
    }
  }
  return next;
}

function newConfiguration(isDefault: boolean, features: PortalFeatures): PortalConfiguration {
  const now = nowSeconds();
  return {
    id: newId('bpc'), object: 'billing_portal.configuration', active: true, application: null,
    business_profile: { headline: null, privacy_policy_url: null, terms_of_service_url: null },
    created: now, default_return_url: null, features, is_default: isDefault, livemode: false, login_page: { enabled: false, url: null },
    metadata: {}, name: null, updated: now,
  };
}

/**
 * The account's default configuration, made (and billing_portal.configuration.created emitted)
 * with DEFAULT_FEATURES when it has none: what a session without `configuration` uses.
 */
export async function defaultConfiguration(q: Tx, source: EventSource): Promise<PortalConfiguration> {
  const { rows } = await q.query<{ data: PortalConfiguration }>('SELECT data FROM billing_portal_configurations WHERE account_id = $1 AND is_default', [source.accountId]);
  if (rows[0]) return rows[0].data;
  if (!(await lockDefault(q, source.accountId))) return defaultConfiguration(q, source);
  const config = newConfiguration(true, structuredClone(DEFAULT_FEATURES));
  portalConfigurations.insert(q, source.accountId, config);
  emitEvent(q, source, 'billing_portal.configuration.created', config);
  return config;
}

export const createPortalConfiguration: PortalCommand<CreateConfigurationParams> = {
  name: 'billing_portal_configurations.create',
  run: (ctx, p) => ctx.finish('create', async (q) => {
    const features = await applyFeatures(q, ctx.accountId, NO_FEATURES, p.features);
    const isDefault = await lockDefault(q, ctx.accountId);
    const config = newConfiguration(isDefault, features);
    const b = p.business_profile;
    config.business_profile = { headline: b?.headline ?? null, privacy_policy_url: b?.privacy_policy_url ?? null, terms_of_service_url: b?.terms_of_service_url ?? null };
    config.default_return_url = p.default_return_url ?? null;
    config.metadata = applyMetadata({}, p.metadata ?? {});
    config.name = p.name ?? null;
    portalConfigurations.insert(q, ctx.accountId, config);
    emitEvent(q, ctx, 'billing_portal.configuration.created', config);
    return { status: 200, body: await render(q, ctx, config, p.expand) };
  }),
};

export const updatePortalConfiguration: PortalCommand<UpdateConfigurationParams> = {
  name: 'billing_portal_configurations.update',
  run: (ctx, p) => ctx.finish('update', async (q) => {
    const before = await portalConfigurations.get(q, ctx.accountId, p.configuration, { forUpdate: true, param: 'configuration' });
    const config: PortalConfiguration = structuredClone(before);
    if (p.active !== undefined) {
      if (!p.active && before.is_default) throw invalidRequest(`The default configuration (${before.id}) cannot be deactivated: sessions created without a configuration use it.`, 'active');
      config.active = p.active;
    }
    if (p.features) config.features = await applyFeatures(q, ctx.accountId, before.features, p.features);
    const b = p.business_profile;
    if (b) {
      if (b.headline !== undefined) config.business_profile.headline = b.headline;
      if (b.privacy_policy_url !== undefined) config.business_profile.privacy_policy_url = b.privacy_policy_url;
      if (b.terms_of_service_url !== undefined) config.business_profile.terms_of_service_url = b.terms_of_service_url;
    }
    if (p.default_return_url !== undefined) config.default_return_url = p.default_return_url;
    if (p.metadata !== undefined) config.metadata = applyMetadata(config.metadata, p.metadata);
    if (p.name !== undefined) config.name = p.name;
    const previous = previousAttributes(before, config);
    if (Object.keys(previous).length > 0) {
      config.updated = nowSeconds();
      portalConfigurations.update(q, ctx.accountId, config);
      emitEvent(q, ctx, 'billing_portal.configuration.updated', config, previousAttributes(before, config));
    }
    return { status: 200, body: await render(q, ctx, config, p.expand) };
  }),
};
