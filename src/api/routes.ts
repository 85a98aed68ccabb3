/**
 * The API surface as data: every route names its parameter schema and either a command (run by
 * the idempotency engine) or a read. The HTTP layer turns these into Fastify routes, and the
 * OpenAPI document is generated from the same list. One file per group of resources; this one
 * only gathers them, in the order the document lists them.
 */
import type { Route } from './route_kit.ts';
import type { UrlPolicy } from '../events/url_safety.ts';
import { paymentRoutes } from './payment_routes.ts';
import { eventRoutes } from './event_routes.ts';
import { orderRoutes } from './order_routes.ts';
import { catalogRoutes } from './catalog_routes.ts';
import { billingRoutes } from './billing_routes.ts';
import { subscriptionRoutes } from './subscription_routes.ts';
import { taxIdRoutes } from './tax_id_routes.ts';
import { resetRoutes } from './reset_routes.ts';
import { searchRoutes } from './search_routes.ts';
import { paymentMethodRoutes } from './payment_method_routes.ts';
import { legacyRoutes } from './legacy_routes.ts';
import { setupIntentRoutes } from './setup_intent_routes.ts';
import { checkoutRoutes } from './checkout_routes.ts';
import { portalRoutes } from './portal_routes.ts';

export function apiRoutes(policy: UrlPolicy): Route[] {
  return [...paymentRoutes, ...paymentMethodRoutes, ...legacyRoutes, ...setupIntentRoutes, ...taxIdRoutes, ...orderRoutes, ...catalogRoutes, ...billingRoutes, ...subscriptionRoutes, ...checkoutRoutes, ...portalRoutes, ...searchRoutes, ...eventRoutes(policy), ...resetRoutes(policy)];
}

/** Every command the routes run: what the engine must know to run or resume a key. */
export function routeCommands(routes: readonly Route[]) {
  return routes.flatMap((r) => (r.kind === 'command' ? [r.command] : []));
}
export type { Route } from './route_kit.ts';
