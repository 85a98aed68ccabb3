/**
 * Reads of invoices beyond retrieve: their list filters, a page of their lines, and their
 * payments (Stripe's InvoicePayment: the list, with its `invoice` and `payment` filters, and the
 * `payments` list an invoice includes with expand[]=payments).
 */
import type { Queryable } from '../store/db.ts';
import type { ListFilter } from '../store/object_table.ts';
import { invalidRequest, resourceMissing } from '../errors.ts';
import { invoiceList, type InvoiceList, type Invoice, type InvoiceLineItem, type InvoicePayment } from './billing_objects.ts';
import { currentIntent } from './invoice_payment.ts';

type Range = { gt?: number; gte?: number; lt?: number; lte?: number };

/** Live invoices by customer, status, subscription (columns), collection method and due date. */
export function invoiceListFilter(p: { customer?: string; status?: string; subscription?: string; collection_method?: string; due_date?: Range }): ListFilter {
  const where: Record<string, string | boolean> = { deleted: false };
  if (p.customer) where.customer = p.customer;
  if (p.status) where.status = p.status;
  if (p.subscription) where.subscription = p.subscription;
  if (!p.collection_method && !p.due_date) return { where };
  // One parameter carries every JSON filter, read once by the subquery.
  return {
    where,
    whereSql: {
      sql: `(SELECT (f->>'cm' IS NULL OR data->>'collection_method' = f->>'cm')
          AND (f->>'gt' IS NULL OR (data->>'due_date')::bigint > (f->>'gt')::bigint)
          AND (f->>'gte' IS NULL OR (data->>'due_date')::bigint >= (f->>'gte')::bigint)
          AND (f->>'lt' IS NULL OR (data->>'due_date')::bigint < (f->>'lt')::bigint)
          AND (f->>'lte' IS NULL OR (data->>'due_date')::bigint <= (f->>'lte')::bigint)
        FROM (SELECT $::jsonb AS f) filter)`,
      value: JSON.stringify({ cm: p.collection_method, ...p.due_date }),
    },
  };
}

/** A page of an invoice's lines, in their order on the invoice, with Stripe's cursors. */
export function pageOfLines(inv: Invoice, p: { limit?: number; starting_after?: string; ending_before?: string }) {
  if (p.starting_after && p.ending_before) throw invalidRequest('You may only specify one of these parameters: starting_after, ending_before.', 'ending_before');
  const lines: InvoiceLineItem[] = inv.lines.data;
  const limit = p.limit ?? 10;
  const at = (id: string, param: string) => {
    const i = lines.findIndex((l) => l.id === id);
    if (i < 0) throw resourceMissing('line_item', id, param);
    return i;
  };
  let data: InvoiceLineItem[];
  let hasMore: boolean;
  if (p.ending_before) {
    const end = at(p.ending_before, 'ending_before');
    data = lines.slice(Math.max(0, end - limit), end);
    hasMore = end - limit > 0;
  } else {
    const start = p.starting_after ? at(p.starting_after, 'starting_after') + 1 : 0;
    data = lines.slice(start, start + limit);
    hasMore = start + limit < lines.length;
  }
  return { object: 'list' as const, data, has_more: hasMore, url: inv.lines.url };
}

/** Invoice payments by invoice, status and payment (`payment[type]`, `payment[payment_intent]`). */
export function invoicePaymentListFilter(p: { invoice?: string; status?: string; payment?: { type: string; payment_intent?: string } }): ListFilter {
  if (p.payment && p.payment.type !== 'payment_intent') {
    throw invalidRequest(`Oncepay has no payment records: invoices are paid by payment intents, so payment[type]=${p.payment.type} matches nothing it could list.`, 'payment[type]');
  }
  return {
    where: {
      ...(p.invoice ? { invoice: p.invoice } : {}),
      ...(p.status ? { status: p.status } : {}),
      ...(p.payment?.payment_intent ? { payment_intent: p.payment.payment_intent } : {}),
    },
  };
}

/** An invoice's payments, newest first, as `invoice.payments` (expand[]=payments). */
export async function paymentsOf(q: Queryable, accountId: string, invoiceId: string): Promise<InvoiceList<InvoicePayment>> {
  const { rows } = await q.query<{ data: InvoicePayment }>(
    'SELECT data FROM invoice_payments WHERE account_id = $1 AND invoice = $2 ORDER BY seq DESC', [accountId, invoiceId]);
  return invoiceList(rows.map((r) => r.data), `/v1/invoice_payments?invoice=${invoiceId}`);
}

/**
 * `invoice.confirmation_secret` (expand[]=confirmation_secret): the client secret of the intent
 * that pays the invoice, for the client to confirm; null when it has none yet.
 */
export async function confirmationSecretOf(q: Queryable, accountId: string, invoiceId: string): Promise<{ client_secret: string; type: 'payment_intent' } | null> {
  const pi = await currentIntent(q, accountId, invoiceId);
  return pi ? { client_secret: pi.client_secret, type: 'payment_intent' } : null;
}
