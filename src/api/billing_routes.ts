/** Routes of invoices, invoice items and test clock advances (src/billing/); subscriptions in subscription_routes.ts. */
import { boolean, enumOf, expandParam, nonEmptyString, object, optional, unsupported } from '../schema/params.ts';
import { command, createdFilter, listPage, listParams, read, retrieveRoute, type Route } from './route_kit.ts';
import { expandList, expandObject } from './expansion.ts';
import { INVOICE_STATUSES, invoiceItems, invoiceMessages, invoicePayments, invoices } from '../billing/billing_objects.ts';
import { invoiceListFilter, invoicePaymentListFilter, pageOfLines } from '../billing/invoice_reads.ts';
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
    params: listParams({
      customer: optional(id()), invoice: optional(id()), pending: optional(boolean()),
      customer_account: unsupported('Oncepay has no Accounts v2: filter by customer.'),
    }),
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
  read({
    path: '/v1/invoices', summary: 'List invoices', response: 'list:invoice',
    params: listParams({
      customer: optional(id()), status: optional(enumOf(INVOICE_STATUSES)), subscription: optional(id()),
      collection_method: optional(enumOf(['charge_automatically', 'send_invoice'] as const)), due_date: createdFilter(),
      customer_account: unsupported('Oncepay has no Accounts v2: filter by customer.'),
    }),
    read: (ctx, p) => listPage(ctx, p, invoices, '/v1/invoices', invoiceListFilter(p)),
  }),
  read({
    path: '/v1/invoice_payments', summary: 'List invoice payments', response: 'list:invoice_payment',
    params: listParams({
      invoice: optional(id()), status: optional(enumOf(['open', 'paid', 'canceled'] as const)),
      payment: optional(object({ type: enumOf(['payment_intent', 'payment_record'] as const), payment_intent: optional(id()), payment_record: unsupported('Oncepay has no payment records.') })),
    }),
    read: (ctx, p) => listPage(ctx, p, invoicePayments, '/v1/invoice_payments', invoicePaymentListFilter(p)),
  }),
  retrieveRoute('/v1/invoice_payments', 'invoice_payment', invoicePayments),
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
    params: listParams({ invoice: id() }),
    async read(ctx, p) {
      const inv = await liveInvoice(ctx.q, ctx.accountId, p.invoice);
      const page = pageOfLines(inv, p);
      const total = p.include?.includes('total_count') ? { total_count: inv.lines.data.length } : {};
      return { ...page, data: await expandList(ctx.q, ctx.accountId, page.data, p.expand), ...total };
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
    method: 'POST', path: '/v1/test_helpers/test_clocks/:test_clock/advance', params: advanceTestClockParams, command: advanceTestClock,
    summary: 'Advance a test clock: renewals, collection and reminders of its customers run up to the new time before it answers',
    response: 'test_helpers.test_clock',
  }),
];
