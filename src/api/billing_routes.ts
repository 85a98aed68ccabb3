/** Routes of invoices, invoice items, subscriptions and test clock advances (src/billing/). */
import { boolean, enumOf, expandParam, nonEmptyString, object, optional } from '../schema/params.ts';
import { resourceMissing } from '../errors.ts';
import { command, listPage, listParams, listRoute, retrieveRoute, type Route } from './route_kit.ts';
import { expandObject } from '../payments/expand.ts';
import { INVOICE_STATUSES, SUBSCRIPTION_STATUSES, invoiceItems, invoiceMessages, invoices, subscriptions } from '../billing/billing_objects.ts';
import {
  checkCreateInvoice, checkPayInvoice, createInvoiceParams, deleteInvoiceParams, finalizeInvoiceParams, markUncollectibleParams,
  payInvoiceParams, sendInvoiceParams, updateInvoiceParams, voidInvoiceParams,
} from '../billing/invoices.ts';
import {
  checkCreateInvoiceItem, checkUpdateInvoiceItem, createInvoiceItemParams, deleteInvoiceItemParams, updateInvoiceItemParams,
} from '../billing/invoice_items.ts';
import {
  checkCancelSubscription, checkCreateSubscription, checkUpdateSubscription, cancelSubscriptionParams, createSubscriptionParams,
  updateSubscriptionParams,
} from '../billing/subscriptions.ts';
import { advanceTestClockParams } from '../billing/clock_advance.ts';

const id = () => nonEmptyString(255);

export const billingRoutes: Route[] = [
  command('POST', '/v1/invoiceitems', 'invoiceitems.create', 'Create an invoice item', createInvoiceItemParams, 'invoiceitem', checkCreateInvoiceItem),
  retrieveRoute('/v1/invoiceitems', 'invoiceitem', invoiceItems, {}, { live: true }),
  command('POST', '/v1/invoiceitems/:invoiceitem', 'invoiceitems.update', 'Update an invoice item', updateInvoiceItemParams, 'invoiceitem', checkUpdateInvoiceItem),
  command('DELETE', '/v1/invoiceitems/:invoiceitem', 'invoiceitems.delete', 'Delete an invoice item', deleteInvoiceItemParams, 'deleted_invoiceitem'),
  {
    kind: 'read', method: 'GET', path: '/v1/invoiceitems', summary: 'List invoice items', response: 'list:invoiceitem',
    params: listParams({ customer: optional(id()), invoice: optional(id()), pending: optional(boolean()) }),
    read: (ctx, p) => listPage(ctx, p, invoiceItems, '/v1/invoiceitems', {
      where: { deleted: false, ...(p.customer ? { customer: p.customer } : {}), ...(p.invoice ? { invoice: p.invoice } : {}) },
      whereSql: p.pending === undefined ? undefined : { sql: '(invoice IS NULL) = $', value: p.pending },
    }),
  },

  command('POST', '/v1/invoices', 'invoices.create', 'Create an invoice', createInvoiceParams, 'invoice', checkCreateInvoice),
  retrieveRoute('/v1/invoices', 'invoice', invoices, {}, { live: true }),
  command('POST', '/v1/invoices/:invoice', 'invoices.update', 'Update an invoice', updateInvoiceParams, 'invoice'),
  command('DELETE', '/v1/invoices/:invoice', 'invoices.delete', 'Delete a draft invoice', deleteInvoiceParams, 'deleted_invoice'),
  listRoute('/v1/invoices', invoices, {
    customer: optional(id()), status: optional(enumOf(INVOICE_STATUSES)), subscription: optional(id()),
  }, { deleted: false }),
  command('POST', '/v1/invoices/:invoice/finalize', 'invoices.finalize', 'Finalize a draft invoice', finalizeInvoiceParams, 'invoice'),
  command('POST', '/v1/invoices/:invoice/send', 'invoices.send', 'Send an invoice (recorded in its messages: there is no mail)', sendInvoiceParams, 'invoice'),
  command('POST', '/v1/invoices/:invoice/pay', 'invoices.pay', 'Pay an invoice', payInvoiceParams, 'invoice', { check: checkPayInvoice, declines: true }),
  command('POST', '/v1/invoices/:invoice/void', 'invoices.void', 'Void an invoice', voidInvoiceParams, 'invoice'),
  command('POST', '/v1/invoices/:invoice/mark_uncollectible', 'invoices.mark_uncollectible', 'Mark an invoice uncollectible', markUncollectibleParams, 'invoice'),
  {
    kind: 'read', method: 'GET', path: '/v1/invoices/:invoice/lines', summary: 'Retrieve an invoice\'s line items', response: 'list:invoice_line_item',
    params: object({ invoice: id(), expand: expandParam() }),
    async read(ctx, p) {
      const inv = await invoices.find(ctx.q, ctx.accountId, p.invoice);
      if (!inv || inv.deleted) throw resourceMissing('invoice', p.invoice);
      return { object: 'list', data: inv.lines.data, has_more: false, url: inv.lines.url };
    },
  },
  {
    kind: 'read', method: 'GET', path: '/v1/invoices/:invoice/messages', response: 'list:invoice_message',
    summary: 'List the messages an invoice sent: send and reminders (Oncepay extension: the outbox, since there is no mail)',
    params: listParams({ invoice: id() }),
    async read(ctx, p) {
      const inv = await invoices.find(ctx.q, ctx.accountId, p.invoice);
      if (!inv || inv.deleted) throw resourceMissing('invoice', p.invoice);
      return listPage(ctx, p, invoiceMessages, `/v1/invoices/${p.invoice}/messages`, { where: { invoice: p.invoice } });
    },
  },

  command('POST', '/v1/subscriptions', 'subscriptions.create', 'Create a subscription', createSubscriptionParams, 'subscription', checkCreateSubscription),
  {
    kind: 'read', method: 'GET', path: '/v1/subscriptions/:subscription', summary: 'Retrieve a subscription', response: 'subscription',
    params: object({ subscription: id(), expand: expandParam() }),
    async read(ctx, p) {
      return expandObject(ctx.q, ctx.accountId, await subscriptions.get(ctx.q, ctx.accountId, p.subscription), p.expand);
    },
  },
  command('POST', '/v1/subscriptions/:subscription', 'subscriptions.update', 'Update a subscription', updateSubscriptionParams, 'subscription', checkUpdateSubscription),
  command('DELETE', '/v1/subscriptions/:subscription', 'subscriptions.cancel', 'Cancel a subscription', cancelSubscriptionParams, 'subscription', checkCancelSubscription),
  {
    kind: 'read', method: 'GET', path: '/v1/subscriptions', response: 'list:subscription',
    summary: 'List subscriptions (by default those not canceled; status=all lists every one)',
    params: listParams({ customer: optional(id()), status: optional(enumOf([...SUBSCRIPTION_STATUSES, 'ended', 'all'] as const)), test_clock: optional(id()) }),
    read(ctx, p) {
      const where = { ...(p.customer ? { customer: p.customer } : {}), ...(p.test_clock ? { test_clock: p.test_clock } : {}) };
      const status: string = p.status ?? 'default';
      const whereSql = status === 'all' ? undefined
        : status === 'default' ? { sql: 'status <> ALL($)', value: ['canceled', 'incomplete_expired'] }
          : status === 'ended' ? { sql: 'status = ANY($)', value: ['canceled', 'incomplete_expired'] }
            : { sql: 'status = $', value: status };
      return listPage(ctx, p, subscriptions, '/v1/subscriptions', { where, whereSql });
    },
  },

  command('POST', '/v1/test_helpers/test_clocks/:test_clock/advance', 'test_clocks.advance',
    'Advance a test clock: renewals, collection and reminders of its customers run up to the new time before it answers',
    advanceTestClockParams, 'test_helpers.test_clock'),
];
