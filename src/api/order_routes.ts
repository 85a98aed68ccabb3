/** Routes of orders (src/billing/orders.ts). */
import { enumOf, expandParam, integer, nonEmptyString, object, optional } from '../schema/params.ts';
import { command, listRoute, read, retrieveRoute, type Route } from './route_kit.ts';
import { ORDER_STATUSES, orders } from '../billing/billing_objects.ts';
import {
  cancelOrder, cancelOrderParams, checkOrderTotal, createOrder, createOrderParams, orderLineItemsPage, updateOrder, updateOrderParams,
} from '../billing/orders.ts';
import { expandList } from './expansion.ts';

export const orderRoutes: Route[] = [
  command({
    method: 'POST', path: '/v1/orders', summary: 'Create an order (Oncepay extension)', params: createOrderParams, command: createOrder,
    response: 'order', check: checkOrderTotal,
  }),
  retrieveRoute('/v1/orders', 'order', orders),
  command({
    method: 'POST', path: '/v1/orders/:order', params: updateOrderParams, command: updateOrder, response: 'order', check: checkOrderTotal,
    summary: 'Update an order (Oncepay extension): metadata always; customer, description and line_items while it is open with no payment in flight',
  }),
  command({
    method: 'POST', path: '/v1/orders/:order/cancel', summary: 'Cancel an open order with no payment in flight (Oncepay extension)',
    params: cancelOrderParams, command: cancelOrder, response: 'order',
  }),
  listRoute('/v1/orders', orders, { customer: optional(nonEmptyString(255)), status: optional(enumOf(ORDER_STATUSES)) }),
  read({
    path: '/v1/orders/:order/line_items', summary: 'List the line items of an order (Oncepay extension)', response: 'list:order_line_item',
    params: object({
      order: nonEmptyString(255),
      limit: optional(integer({ min: 1, max: 100 })),
      starting_after: optional(nonEmptyString(255)),
      ending_before: optional(nonEmptyString(255)),
      expand: expandParam(),
    }),
    async read(ctx, p) {
      const page = await orderLineItemsPage(ctx.q, ctx.accountId, p.order, p);
      return { object: 'list', data: await expandList(ctx.q, ctx.accountId, page.data, p.expand), has_more: page.hasMore, url: `/v1/orders/${page.order.id}/line_items` };
    },
  }),
];
