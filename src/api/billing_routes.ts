/** Routes of invoices, invoice items, subscriptions and test clock advances (src/billing/). */
import { boolean, enumOf, expandParam, nonEmptyString, object, optional } from '../schema/params.ts';
import { command, listPage, listParams, listRoute, read, retrieveRoute, type Route } from './route_kit.ts';
import { expandObject } from './expansion.ts';
import { INVOICE_STATUSES, SUBSCRIPTION_STATUSES, invoiceItems, invoiceMessages, invoices, subscriptions } from '../billing/billing_objects.ts';
import {
  checkCreateInvoice, checkPayInvoice, createInvoice, createInvoiceParams, deleteInvoice, deleteInvoiceParams, finalizeInvoiceCommand,
  finalizeInvoiceParams, markInvoiceUncollectible, markUncollectibleParams, payInvoice, payInvoiceParams, sendInvoice, sendInvoiceParams,
  updateInvoice, updateInvoiceParams, voidInvoice, voidInvoiceParams,
} from '../billing/invoices.ts';
import { liveInvoice } from '../billing/invoice_core.ts';
import {
  checkCreateInvoiceItem, checkUpdateInvoiceItem, createInvoiceItem, createInvoiceItemParams, deleteInvoiceItem, deleteInvoiceItemParams,
  invoiceItemListFilter, updateInvoiceItem, updateInvoiceItemParams,
} from '../billing/invoice_items.ts';
import {
  cancelSubscription, cancelSubscriptionParams, checkCancelSubscription, checkCreateSubscription, checkUpdateSubscription,
  createSubscription, createSubscriptionParams, subscriptionListFilter, updateSubscription, updateSubscriptionParams,
} from '../billing/subscriptions.ts';
import { advanceTestClock, advanceTestClockParams } from '../billing/clock_advance.ts';

const id = () => nonEmptyString(255);

export const billingRoutes: Route[] = [
  command({
    method: 'POST', path: '/v1/invoiceitems', summary: 'Create an invoice item', params: createInvoiceItemParams, command: createInvoiceItem,
    response: 'invoiceitem', check: checkCreateInvoiceItem,
  }),
  retrieveRoute('/v1/invoiceitems', 'invoiceitem', invoiceItems, {}, { live: true }),
  command({
    method: 'POST', path: '/v1/invoiceitems/:invoiceitem', summary: 'Update an invoice item', params: updateInvoiceItemParams,
    command: updateInvoiceItem, response: 'invoiceitem', check: checkUpdateInvoiceItem,
  }),
  command({
    method: 'DELETE', path: '/v1/invoiceitems/:invoiceitem', summary: 'Delete an invoice item', params: deleteInvoiceItemParams,
    command: deleteInvoiceItem, response: 'deleted_invoiceitem',
  }),
  read({
    path: '/v1/invoiceitems', summary: 'List invoice items', response: 'list:invoiceitem',
    params: listParams({ customer: optional(id()), invoice: optional(id()), pending: optional(boolean()) }),
    read: (ctx, p) => listPage(ctx, p, invoiceItems, '/v1/invoiceitems', invoiceItemListFilter(p)),
  }),

  command({
    method: 'POST', path: '/v1/invoices', summary: 'Create an invoice', params: createInvoiceParams, command: createInvoice,
    response: 'invoice', check: checkCreateInvoice,
  }),
  retrieveRoute('/v1/invoices', 'invoice', invoices, {}, { live: true }),
  command({
    method: 'POST', path: '/v1/invoices/:invoice', summary: 'Update an invoice', params: updateInvoiceParams, command: updateInvoice,
    response: 'invoice',
  }),
  command({
    method: 'DELETE', path: '/v1/invoices/:invoice', summary: 'Delete a draft invoice', params: deleteInvoiceParams, command: deleteInvoice,
    response: 'deleted_invoice',
  }),
  listRoute('/v1/invoices', invoices, {
    customer: optional(id()), status: optional(enumOf(INVOICE_STATUSES)), subscription: optional(id()),
  }, { deleted: false }),
  command({
    method: 'POST', path: '/v1/invoices/:invoice/finalize', summary: 'Finalize a draft invoice', params: finalizeInvoiceParams,
    command: finalizeInvoiceCommand, response: 'invoice',
  }),
  command({
    method: 'POST', path: '/v1/invoices/:invoice/send', summary: 'Send an invoice (recorded in its messages: there is no mail)',
    params: sendInvoiceParams, command: sendInvoice, response: 'invoice',
  }),
  command({
    method: 'POST', path: '/v1/invoices/:invoice/pay', summary: 'Pay an invoice', params: payInvoiceParams, command: payInvoice,
    response: 'invoice', check: checkPayInvoice, declines: true,
  }),
  command({
    method: 'POST', path: '/v1/invoices/:invoice/void', summary: 'Void an invoice', params: voidInvoiceParams, command: voidInvoice,
    response: 'invoice',
  }),
  command({
    method: 'POST', path: '/v1/invoices/:invoice/mark_uncollectible', summary: 'Mark an invoice uncollectible', params: markUncollectibleParams,
    command: markInvoiceUncollectible, response: 'invoice',
  }),
  read({
    path: '/v1/invoices/:invoice/lines', summary: 'Retrieve an invoice\'s line items', response: 'list:invoice_line_item',
    params: object({ invoice: id(), expand: expandParam() }),
    async read(ctx, p) {
      const inv = await liveInvoice(ctx.q, ctx.accountId, p.invoice);
      return { object: 'list', data: inv.lines.data, has_more: false, url: inv.lines.url };
    },
  }),
  read({
    path: '/v1/invoices/:invoice/messages', response: 'list:invoice_message',
    summary: 'List the messages an invoice sent: send and reminders (Oncepay extension: the outbox, since there is no mail)',
    params: listParams({ invoice: id() }),
    async read(ctx, p) {
      const inv = await liveInvoice(ctx.q, ctx.accountId, p.invoice);
      return listPage(ctx, p, invoiceMessages, `/v1/invoices/${inv.id}/messages`, { where: { invoice: inv.id } });
    },
  }),

  command({
    method: 'POST', path: '/v1/subscriptions', summary: 'Create a subscription', params: createSubscriptionParams,
    command: createSubscription, response: 'subscription', check: checkCreateSubscription,
  }),
  read({
    path: '/v1/subscriptions/:subscription', summary: 'Retrieve a subscription', response: 'subscription',
    params: object({ subscription: id(), expand: expandParam() }),
    read: async (ctx, p) => expandObject(ctx.q, ctx.accountId, await subscriptions.get(ctx.q, ctx.accountId, p.subscription), p.expand),
  }),
  command({
    method: 'POST', path: '/v1/subscriptions/:subscription', summary: 'Update a subscription', params: updateSubscriptionParams,
    command: updateSubscription, response: 'subscription', check: checkUpdateSubscription,
  }),
  command({
    method: 'DELETE', path: '/v1/subscriptions/:subscription', summary: 'Cancel a subscription', params: cancelSubscriptionParams,
    command: cancelSubscription, response: 'subscription', check: checkCancelSubscription,
  }),
  read({
    path: '/v1/subscriptions', response: 'list:subscription',
    summary: 'List subscriptions (by default those not canceled; status=all lists every one)',
    params: listParams({ customer: optional(id()), status: optional(enumOf([...SUBSCRIPTION_STATUSES, 'ended', 'all'] as const)), test_clock: optional(id()) }),
    read: (ctx, p) => listPage(ctx, p, subscriptions, '/v1/subscriptions', subscriptionListFilter(p)),
  }),

  command({
    method: 'POST', path: '/v1/test_helpers/test_clocks/:test_clock/advance', params: advanceTestClockParams, command: advanceTestClock,
    summary: 'Advance a test clock: renewals, collection and reminders of its customers run up to the new time before it answers',
    response: 'test_helpers.test_clock',
  }),
];
