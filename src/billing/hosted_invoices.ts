/**
 * What the hosted invoice page (src/web/invoice_page.ts) and its PDF read: the invoice its URL's
 * token names (invoices.url_token, given at finalization by invoice_core.ts), and the payment
 * waiting on it, whose last error is the decline the page shows and whose requires_action is the
 * 3-D Secure step. A read: nothing is locked.
 */
import type { Queryable } from '../store/db.ts';
import type { PaymentIntent } from '../payments/payment_objects.ts';
import type { Invoice } from './billing_objects.ts';
import { currentIntent } from './invoice_payment.ts';
import { isPageToken } from '../ids.ts';

export interface HostedInvoice {
  accountId: string;
  invoice: Invoice;
  token: string;
  /** The invoice's payment intent (its latest attempt), if it has one. */
  payment: PaymentIntent | undefined;
}

/** The invoice of a hosted page's token (a deleted or unknown one: undefined). */
export async function invoiceByToken(q: Queryable, token: string): Promise<HostedInvoice | undefined> {
  if (!isPageToken(token)) return undefined;
  const { rows } = await q.query<{ account_id: string; data: Invoice }>(
    'SELECT account_id, data FROM invoices WHERE url_token = $1 AND NOT deleted', [token]);
  const row = rows[0];
  if (!row) return undefined;
  return { accountId: row.account_id, invoice: row.data, token, payment: await currentIntent(q, row.account_id, row.data.id) };
}
