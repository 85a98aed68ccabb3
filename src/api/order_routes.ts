/** Routes of orders (src/billing/orders.ts). */
import { enumOf, expandParam, integer, nonEmptyString, object, optional } from '../schema/params.ts';
import { invalidRequest, resourceMissing } from '../errors.ts';
import { command, listRoute, retrieveRoute, type Route } from './route_kit.ts';
import { ORDER_STATUSES, orders } from '../billing/billing_objects.ts';
import { cancelOrderParams, checkOrderTotal, createOrderParams, updateOrderParams } from '../billing/orders.ts';
import { expandList } from '../payments/expand.ts';

export const orderRoutes: Route[] = [
  command('POST', '/v1/orders', 'orders.create', 'Create an order (Oncepay extension)', createOrderParams, 'order', checkOrderTotal),
  retrieveRoute('/v1/orders', 'order', orders),
  command('POST', '/v1/orders/:order', 'orders.update', 'Update an order (Oncepay extension): metadata always; customer, description and line_items while it is open with no payment in flight', updateOrderParams, 'order', checkOrderTotal),
  command('POST', '/v1/orders/:order/cancel', 'orders.cancel', 'Cancel an open order with no payment in flight (Oncepay extension)', cancelOrderParams, 'order'),
  listRoute('/v1/orders', orders, { customer: optional(nonEmptyString(255)), status: optional(enumOf(ORDER_STATUSES)) }),
  {
    kind: 'read', method: 'GET', path: '/v1/orders/:order/line_items', summary: 'List the line items of an order (Oncepay extension)',
    response: 'list:order_line_item',
    params: object({
      order: nonEmptyString(255),
      limit: optional(integer({ min: 1, max: 100 })),
      starting_after: optional(nonEmptyString(255)),
      ending_before: optional(nonEmptyString(255)),
      expand: expandParam(),
    }),
    async read(ctx, p) {
      if (p.starting_after && p.ending_before) throw invalidRequest('You may only specify one of these parameters: starting_after, ending_before.', 'ending_before');
      const order = await orders.get(ctx.q, ctx.accountId, p.order);
      const items = order.line_items.data;
      const limit: number = p.limit ?? 10;
      const cursor: string | undefined = p.starting_after ?? p.ending_before;
      let start = 0;
      let end = items.length;
      if (cursor !== undefined) {
        const at = items.findIndex((li) => li.id === cursor);
        if (at < 0) throw resourceMissing('line item', cursor, p.starting_after ? 'starting_after' : 'ending_before');
        if (p.starting_after) start = at + 1;
        else end = at;
      }
      // Items keep the order's own order; ending_before pages backwards from its cursor.
      const page = p.ending_before ? items.slice(Math.max(start, end - limit), end) : items.slice(start, start + limit);
      const hasMore = p.ending_before ? end - limit > start : start + limit < end;
      const url = `/v1/orders/${order.id}/line_items`;
      return { object: 'list', data: await expandList(ctx.q, ctx.accountId, page, p.expand), has_more: hasMore, url };
    },
  },
];
