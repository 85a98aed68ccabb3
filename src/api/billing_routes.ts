/** Routes of invoices, invoice items and subscriptions (src/billing/). */
import type { Route } from './routes.ts';

export const billingRoutes: Route[] = [];
