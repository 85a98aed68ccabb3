/** Routes of orders (src/billing/orders.ts). */
import type { Route } from './routes.ts';

export const orderRoutes: Route[] = [];
