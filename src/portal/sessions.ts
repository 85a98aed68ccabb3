/**
 * Customer portal sessions: create, as a command (Stripe has no retrieve or list of them). A
 * session gives one customer the portal under one configuration (the one named, or the account's
 * default, made with DEFAULT_FEATURES when there is none) for SESSION_LIFETIME, through an
 * unguessable URL; a deep-link flow (flow_data) must be one the configuration's features allow, on
 * a subscription of that customer.
 */
import type { Command } from '../idempotency/engine.ts';
import type { Tx } from '../store/db.ts';
import { invalidRequest } from '../errors.ts';
import { newId, newPageToken, nowSeconds } from '../ids.ts';
import { emitEvent } from '../events/outbox.ts';
import { liveCustomer } from '../payments/customers.ts';
import { render } from '../payments/ports.ts';
import { livePrice } from '../billing/catalog.ts';
import { subscriptions, type Subscription } from '../billing/billing_objects.ts';
import type { HostedDeps } from '../checkout/hosted_deps.ts';
import { defaultConfiguration } from './configurations.ts';
import {
  portalConfigurations, portalPath, portalSessions, SESSION_LIFETIME, type PortalConfiguration, type PortalFeatures, type PortalFlow, type PortalSession,
} from './portal_objects.ts';
import type { CreateSessionParams, FlowDataParams } from './portal_params.ts';

/** The feature each flow needs enabled in the session's configuration. */
const FEATURE_OF: Record<PortalFlow['type'], keyof PortalFeatures> = {
  customer_update: 'customer_update',
  payment_method_update: 'payment_method_update',
  subscription_cancel: 'subscription_cancel',
  subscription_update: 'subscription_update',
  subscription_update_confirm: 'subscription_update',
};

/** A subscription of the customer that can still change (not canceled or expired). */
async function customersSubscription(q: Tx, accountId: string, customer: string, id: string, param: string): Promise<Subscription> {
  const sub = await subscriptions.get(q, accountId, id, { param });
  if (sub.customer !== customer) throw invalidRequest(`The subscription ${id} does not belong to the customer ${customer}.`, param);
  if (sub.status === 'canceled' || sub.status === 'incomplete_expired') throw invalidRequest(`The subscription ${id} is ${sub.status}: there is nothing to change.`, param);
  return sub;
}

/** The flow as the session shows it, once its subscription and the configuration allow it. */
async function flowOf(q: Tx, accountId: string, customer: string, config: PortalConfiguration, f: FlowDataParams): Promise<PortalFlow> {
  const type = f.type as PortalFlow['type'];
  const feature = FEATURE_OF[type];
  if (!config.features[feature].enabled) {
    throw invalidRequest(`A ${type} flow needs features[${feature}] enabled, and it is disabled in the configuration ${config.id}.`, 'flow_data[type]');
  }
  const done = f.after_completion;
  const flow: PortalFlow = {
    after_completion: {
      hosted_confirmation: done?.type === 'hosted_confirmation' ? { custom_message: done.hosted_confirmation?.custom_message ?? null } : null,
      redirect: done?.type === 'redirect' ? { return_url: done.redirect!.return_url } : null,
      type: done?.type ?? 'portal_homepage',
    },
    customer_update: type === 'customer_update' ? {} : null,
    subscription_cancel: null, subscription_pause: null, subscription_update: null, subscription_update_confirm: null,
    type,
  };
  if (f.subscription_cancel) {
    const param = 'flow_data[subscription_cancel][subscription]';
    await customersSubscription(q, accountId, customer, f.subscription_cancel.subscription, param);
    flow.subscription_cancel = { retention: null, subscription: f.subscription_cancel.subscription };
  }
  if (f.subscription_update) {
    await customersSubscription(q, accountId, customer, f.subscription_update.subscription, 'flow_data[subscription_update][subscription]');
    flow.subscription_update = { subscription: f.subscription_update.subscription };
  }
  if (f.subscription_update_confirm) {
    const c = f.subscription_update_confirm;
    const sub = await customersSubscription(q, accountId, customer, c.subscription, 'flow_data[subscription_update_confirm][subscription]');
    const offered = new Set(config.features.subscription_update.products.flatMap((p) => p.prices));
    const items: NonNullable<PortalFlow['subscription_update_confirm']>['items'] = [];
    for (const [i, it] of c.items.entries()) {
      const param = `flow_data[subscription_update_confirm][items][${i}]`;
      if (!sub.items.data.some((si) => si.id === it.id)) throw invalidRequest(`No such subscription item on ${sub.id}: '${it.id}'`, `${param}[id]`, 'resource_missing');
      if (it.price !== undefined) {
        await livePrice(q, accountId, it.price, { param: `${param}[price]` });
        if (!offered.has(it.price)) throw invalidRequest(`The price ${it.price} is not among the configuration's features[subscription_update][products] prices.`, `${param}[price]`);
      }
      items.push({ id: it.id, price: it.price ?? null, ...(it.quantity !== undefined ? { quantity: it.quantity } : {}) });
    }
    flow.subscription_update_confirm = { discounts: [], items, subscription: c.subscription };
  }
  return flow;
}

export const createPortalSession: Command<CreateSessionParams, HostedDeps> = {
  name: 'billing_portal_sessions.create',
  run: (ctx, p) => ctx.finish('create', async (q) => {
    const customer = await liveCustomer(q, ctx.accountId, p.customer, { param: 'customer' });
    let config: PortalConfiguration;
    if (p.configuration !== undefined) {
      config = await portalConfigurations.get(q, ctx.accountId, p.configuration, { param: 'configuration' });
      if (!config.active) throw invalidRequest(`The configuration ${config.id} is not active: activate it, or create the session with another.`, 'configuration');
    } else {
      config = await defaultConfiguration(q, ctx);
    }
    const flow = p.flow_data ? await flowOf(q, ctx.accountId, customer.id, config, p.flow_data) : null;
    const now = nowSeconds();
    const token = newPageToken();
    const session: PortalSession = {
      id: newId('bps'), object: 'billing_portal.session', configuration: config.id, created: now, customer: customer.id, customer_account: null,
      flow, livemode: false, locale: p.locale ?? null, on_behalf_of: null, return_url: p.return_url ?? config.default_return_url,
      url: `${ctx.deps.publicUrl()}${portalPath(token)}`,
    };
    portalSessions.insert(q, ctx.accountId, session, { url_token: token, expires_at: now + SESSION_LIFETIME });
    emitEvent(q, ctx, 'billing_portal.session.created', session);
    return { status: 200, body: await render(q, ctx, session, p.expand) };
  }),
};
