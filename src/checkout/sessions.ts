/**
 * Checkout Sessions: create, update (metadata), expire, as commands. Creating a session prices its
 * line items (an inline price_data becomes a price, and product_data a product, as Stripe makes
 * them), makes the setup intent of a setup-mode session, and gives the session its hosted page:
 * an unguessable token in `url`. Nothing is charged until the customer submits the page (or a test
 * suite calls the complete helper): see completion.ts.
 */
import type { Command } from '../idempotency/engine.ts';
import type { Tx } from '../store/db.ts';
import { ApiError, invalidRequest } from '../errors.ts';
import { newId, newPageToken, nowSeconds } from '../ids.ts';
import { applyMetadata } from '../schema/metadata.ts';
import { isSupportedCurrency } from '../schema/money.ts';
import type { ParsedObject } from '../schema/params.ts';
import { emitEvent, type EventSource } from '../events/outbox.ts';
import { liveCustomer } from '../payments/customers.ts';
import { render } from '../payments/ports.ts';
import { buildSetupIntent, setupIntents } from '../payments/setup_intents.ts';
import { emitPriceEvent, livePrice, liveProduct, newPrice, newProduct } from '../billing/catalog.ts';
import { prices, products, type Price } from '../billing/billing_objects.ts';
import type { HostedDeps } from './hosted_deps.ts';
import {
  checkoutPath, checkoutSessions, customerDetails, lockSession, NO_PROGRESS, saveSession, type CheckoutLineItem, type CheckoutSession,
} from './session_objects.ts';
import { MAX_LIFETIME, MIN_LIFETIME, type CreateParams, type LineItemParams, type expireSessionParams, type updateSessionParams } from './session_params.ts';

type SessionCommand<P> = Command<P, HostedDeps>;

/** A line item's price: the one named, or a new one from price_data (and its product from product_data). */
async function priceOf(q: Tx, ctx: EventSource, it: LineItemParams, i: number): Promise<Price> {
  if (it.price !== undefined) {
    const price = await livePrice(q, ctx.accountId, it.price, { param: `line_items[${i}][price]` });
    if (!price.active) throw invalidRequest(`The price ${price.id} is not active: Checkout sells active prices only.`, `line_items[${i}][price]`);
    return price;
  }
  const d = it.price_data!;
  let productId = d.product;
  if (productId !== undefined) {
    await liveProduct(q, ctx.accountId, productId, { param: `line_items[${i}][price_data][product]` });
  } else {
    const product = await newProduct(q, ctx.accountId, d.product_data!, `line_items[${i}][price_data][product_data][id]`);
    products.insert(q, ctx.accountId, product);
    emitEvent(q, ctx, 'product.created', product);
    productId = product.id;
  }
  const price = newPrice(productId, d);
  prices.insert(q, ctx.accountId, price);
  emitPriceEvent(q, ctx, 'created', price);
  return price;
}

async function lineItemsOf(q: Tx, ctx: Parameters<typeof priceOf>[1], p: CreateParams, mode: CheckoutSession['mode']): Promise<CheckoutLineItem[]> {
  const out: CheckoutLineItem[] = [];
  for (const [i, it] of (p.line_items ?? []).entries()) {
    const price = await priceOf(q, ctx, it, i);
    const param = `line_items[${i}]`;
    if (mode === 'payment' && price.type === 'recurring') {
      throw invalidRequest(`You specified \`payment\` mode but passed a recurring price (${price.id}). Either switch to \`subscription\` mode or use only one-time prices.`, `${param}[price]`);
    }
    if (out[0] && out[0].currency !== price.currency) {
      throw invalidRequest(`All line items must have one currency: ${param} is in ${price.currency}, line_items[0] in ${out[0].currency}.`, `${param}[price]`);
    }
    const amount = price.unit_amount * it.quantity!;
    const product = await products.find(q, ctx.accountId, price.product);
    out.push({
      id: newId('li'), object: 'item', adjustable_quantity: null, amount_discount: 0, amount_subtotal: amount, amount_tax: 0, amount_total: amount,
      currency: price.currency, description: product?.name ?? null, metadata: applyMetadata({}, it.metadata ?? {}), price, quantity: it.quantity!,
    });
  }
  if (mode === 'subscription' && !out.some((li) => li.price.type === 'recurring')) {
    throw invalidRequest('You must provide at least one recurring price in `subscription` mode when using prices.', 'line_items');
  }
  return out;
}

function lifetime(p: CreateParams, now: number): number {
  if (p.expires_at === undefined) return now + MAX_LIFETIME;
  if (p.expires_at < now + MIN_LIFETIME || p.expires_at > now + MAX_LIFETIME) {
    throw invalidRequest(`The \`expires_at\` timestamp must be between 30 minutes and 24 hours from Checkout Session creation (between ${now + MIN_LIFETIME} and ${now + MAX_LIFETIME}).`, 'expires_at');
  }
  return p.expires_at;
}

export const createCheckoutSession: SessionCommand<CreateParams> = {
  name: 'checkout_sessions.create',
  run: (ctx, p) => ctx.finish('create', async (q) => {
    const mode = p.mode ?? 'payment';
    const now = nowSeconds();
    const customer = p.customer !== undefined ? await liveCustomer(q, ctx.accountId, p.customer, { param: 'customer' }) : undefined;
    const items = await lineItemsOf(q, ctx, p, mode);
    const currency = items[0]?.currency ?? p.currency?.toLowerCase() ?? null;
    if (currency !== null && !isSupportedCurrency(currency)) throw invalidRequest(`Invalid currency: ${p.currency}.`, 'currency');
    if (p.currency !== undefined && items[0] && p.currency.toLowerCase() !== items[0].currency) {
      throw invalidRequest(`currency (${p.currency}) differs from the line items' currency (${items[0].currency}).`, 'currency');
    }
    const total = mode === 'setup' ? null : items.reduce((sum, li) => sum + li.amount_total, 0);
    const id = newId('cs_test');
    const token = newPageToken();
    let setupIntent: string | null = null;
    if (mode === 'setup') {
      const si = buildSetupIntent(newId('seti'), {
        customer: customer?.id ?? null, payment_method: null, description: p.setup_intent_data?.description,
        metadata: p.setup_intent_data?.metadata, usage: 'off_session',
      });
      setupIntents.insert(q, ctx.accountId, si);
      emitEvent(q, ctx, 'setup_intent.created', si);
      setupIntent = si.id;
    }
    const session: CheckoutSession = {
      id, object: 'checkout.session', adaptive_pricing: null, after_expiration: null, allow_promotion_codes: null, allowed_payment_method_types: null,
      amount_subtotal: total, amount_total: total, automatic_tax: { enabled: false, liability: null, provider: null, status: null },
      billing_address_collection: null, cancel_url: p.cancel_url ?? null, client_reference_id: p.client_reference_id ?? null, client_secret: null,
      collected_information: null, consent: null, consent_collection: null, created: now, currency, currency_conversion: null, custom_fields: [],
      custom_text: { after_submit: null, shipping_address: null, submit: null, terms_of_service_acceptance: null },
      customer: customer?.id ?? null, customer_account: null,
      customer_creation: mode === 'payment' ? (p.customer ? null : p.customer_creation ?? 'if_required') : null,
      customer_details: customer ? customerDetails(customer) : p.customer_email ? customerDetails({ email: p.customer_email, name: null }) : null,
      customer_email: p.customer_email ?? null, discounts: [], expires_at: lifetime(p, now), integration_identifier: p.integration_identifier ?? null,
      invoice: null,
      invoice_creation: mode === 'payment' ? { enabled: false, invoice_data: { account_tax_ids: null, custom_fields: null, description: null, footer: null, issuer: null, metadata: {}, rendering_options: null } } : null,
      livemode: false, locale: p.locale ?? null, managed_payments: null, metadata: applyMetadata({}, p.metadata ?? {}), mode, origin_context: null,
      payment_intent: null, payment_link: null, payment_method_collection: mode === 'payment' ? null : 'always',
      payment_method_configuration_details: null, payment_method_options: {}, payment_method_types: ['card'],
      payment_status: mode === 'setup' ? 'no_payment_required' : 'unpaid', permissions: null, recovered_from: null,
      saved_payment_method_options: mode === 'payment' ? null : { allow_redisplay_filters: ['always'], payment_method_remove: null, payment_method_save: null },
      setup_intent: setupIntent, shipping_address_collection: null, shipping_cost: null, shipping_options: [], status: 'open',
      submit_type: mode === 'setup' ? null : p.submit_type ?? 'auto', subscription: null, success_url: p.success_url ?? null,
      total_details: mode === 'setup' ? null : { amount_discount: 0, amount_shipping: 0, amount_tax: 0 }, ui_mode: 'hosted_page',
      url: `${ctx.deps.publicUrl()}${checkoutPath(token)}`, wallet_options: null,
    };
    checkoutSessions.insert(q, ctx.accountId, session, {
      url_token: token, line_items: JSON.stringify(items), progress: JSON.stringify(NO_PROGRESS), locked_by: null,
      settings: JSON.stringify({ payment_intent_data: p.payment_intent_data, subscription_data: p.subscription_data }),
    });
    return { status: 200, body: await render(q, ctx, session, p.expand) };
  }),
};

type UpdateParams = ParsedObject<typeof updateSessionParams.shape>;
type ExpireParams = ParsedObject<typeof expireSessionParams.shape>;

export const updateCheckoutSession: SessionCommand<UpdateParams> = {
  name: 'checkout_sessions.update',
  run: (ctx, p) => ctx.finish('update', async (q) => {
    const s = await lockSession(q, ctx.accountId, p.session, ctx.idempotencyKey);
    if (p.metadata !== undefined) s.session.metadata = applyMetadata(s.session.metadata, p.metadata);
    saveSession(q, ctx.accountId, s, s.lockedBy);
    return { status: 200, body: await render(q, ctx, s.session, p.expand) };
  }),
};

export function notOpen(session: CheckoutSession, action: string): ApiError {
  return invalidRequest(`You can only ${action} a Checkout Session with a status of open; this one (${session.id}) is ${session.status}.`, 'session');
}

export const expireCheckoutSession: SessionCommand<ExpireParams> = {
  name: 'checkout_sessions.expire',
  run: (ctx, p) => ctx.finish('expire', async (q) => {
    const s = await lockSession(q, ctx.accountId, p.session, ctx.idempotencyKey);
    if (s.session.status !== 'open') throw notOpen(s.session, 'expire');
    // Expired (by the API, or by the clock through this command): no URL, checkout.session.expired.
    s.session.status = 'expired';
    s.session.url = null;
    saveSession(q, ctx.accountId, s, null);
    emitEvent(q, ctx, 'checkout.session.expired', s.session);
    return { status: 200, body: await render(q, ctx, s.session, p.expand) };
  }),
};
