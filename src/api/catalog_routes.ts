/** Routes of products, prices and test clocks (src/billing/catalog.ts, src/billing/test_clocks.ts). */
import type { Route } from './routes.ts';

export const catalogRoutes: Route[] = [];
