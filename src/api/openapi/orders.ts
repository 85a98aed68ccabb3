/**
 * Component schemas of orders (rendered by src/billing/orders.ts and order_payments.ts; the
 * line items list by src/api/order_routes.ts).
 */
import { ORDER_SCHEMA_NAMES } from './schema_names.ts';
import { ORDER_STATUSES } from '../../billing/billing_objects.ts';
import {
  type JsonSchema, ref, shape, nullable, id, text, int, oneOfValues, constant, timestamp, currencyCode, metadata, livemode, objectName,
  nullableExpandable, alwaysNull,
} from './blocks.ts';


const lineItem = shape({
  id: id('li'),
  object: objectName('item'),
  adjustable_quantity: alwaysNull(),
  amount_discount: { type: 'integer', const: 0, description: 'Always 0: Oncepay has no discounts.' },
  amount_subtotal: int('unit_amount × quantity.', 1),
  amount_tax: { type: 'integer', const: 0, description: 'Always 0: Oncepay calculates no tax.' },
  amount_total: int('unit_amount × quantity (no discounts or taxes).', 1),
  currency: currencyCode(),
  description: nullable(text()),
  metadata: metadata(),
  price: nullable(ref('price')),
  quantity: int(undefined, 1),
  unit_amount: int('The amount of one unit, in the currency\'s smallest unit.', 1),
}, { title: 'Order line item' });

const order = shape({
  id: id('order'),
  object: objectName('order'),
  amount_paid: int('Captured by payments toward this order (refunds do not lower it).', 0),
  amount_refunded: int('Refunded of the payments toward this order.', 0),
  amount_remaining: int('amount_total minus amount_paid (never negative): what a new payment may still take.', 0),
  amount_subtotal: int('The sum of the line items\' amount_subtotal.', 1),
  amount_total: int('The sum of the line items\' amount_total.', 1),
  canceled_at: nullable(timestamp()),
  created: timestamp(),
  currency: currencyCode(),
  customer: nullableExpandable('The customer this order belongs to.', 'customer', 'deleted_customer'),
  description: nullable(text()),
  external_id: nullable(text('The caller\'s permanent business key for this order (creating it twice returns the first).')),
  line_items: shape({
    object: constant('list'),
    data: { type: 'array', items: ref('order_line_item'), minItems: 1, maxItems: 100 },
    has_more: constant(false),
    total_count: int(undefined, 1),
    url: { type: 'string', pattern: '^/v1/orders/order_[A-Za-z0-9]+/line_items$', description: 'Where the line items are listed.' },
  }, { description: 'Every line item of the order.' }),
  livemode: livemode(),
  metadata: metadata(),
  status: oneOfValues(ORDER_STATUSES, 'open (nothing paid), partially_paid, paid, partially_refunded, refunded (everything paid was refunded), or canceled. Follows from the amounts.'),
}, {
  title: 'Order',
  description: 'Oncepay extension: what a customer buys, with line items and computed totals, paid by PaymentIntents that name it in `order`.',
});

export const ORDER_SCHEMAS: Record<(typeof ORDER_SCHEMA_NAMES)[number], JsonSchema> = {
  order,
  order_line_item: lineItem,
};
