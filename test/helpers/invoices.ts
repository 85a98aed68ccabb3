/**
 * How a test finds what pays an invoice, as integrations do since API version 2025-03-31: the
 * invoice's payments (InvoicePayment), listed by the official client. The invoice object itself
 * no longer names its payment intent.
 */
import assert from 'node:assert/strict';
import type Stripe from 'stripe';

/** The payment intent paying an invoice, null when it has none (an invoice has one at a time here). */
export async function intentOf(stripe: Stripe, invoiceId: string): Promise<string | null> {
  const list = await stripe.invoicePayments.list({ invoice: invoiceId });
  assert.ok(list.data.length <= 1, `invoice ${invoiceId} has ${list.data.length} payments: Oncepay gives an invoice one payment intent at a time`);
  return (list.data[0]?.payment.payment_intent as string | undefined) ?? null;
}
