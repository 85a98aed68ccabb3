/** Component schema of orders (src/billing/orders.ts). */
import { type JsonSchema } from './blocks.ts';

export const ORDER_SCHEMA_NAMES = ['order'] as const;

export const ORDER_SCHEMAS: Record<(typeof ORDER_SCHEMA_NAMES)[number], JsonSchema> = {
  order: { type: 'object' },
};
