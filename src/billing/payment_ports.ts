/**
 * Billing's side of the ports payments declares (src/payments/ports.ts): what an intent's steps
 * mean for the order or invoice it pays, and what a customer's life means for its test clock and
 * subscriptions. server.ts hands these to the engine; payments never imports them.
 */
import type { CustomerBilling, PaymentPurposes } from '../payments/ports.ts';
import { liveTestClock } from './test_clocks.ts';
import { checkOrderForIntent, recordOrderPayment, recordOrderRefund, reserveOrderPayment } from './order_payments.ts';
import { closePayment, invoiceIntentOutcome } from './invoice_payment.ts';
import { nowSeconds } from '../ids.ts';
import { cancelSubscriptionsOf } from './subscription_status.ts';
import { billingNow } from './time.ts';

export const paymentPurposes: PaymentPurposes = {
  async checkAmount(q, accountId, intent, param) {
    if (intent.order) await checkOrderForIntent(q, accountId, { order: intent.order, amount: intent.amount, currency: intent.currency, param });
  },
  async reserve(q, accountId, pi) {
    if (pi.order) await reserveOrderPayment(q, accountId, { order: pi.order, amount: pi.amount, currency: pi.currency, intent: pi.id });
  },
  // An intent of an order's invoice records the order's money, then settles the invoice.
  async authorized(q, source, pi) {
    if (pi.status === 'succeeded' && pi.order) await recordOrderPayment(q, source, { order: pi.order, amount: pi.amount_received });
    if (pi.invoice) await invoiceIntentOutcome(q, source, pi);
  },
  async captured(q, source, pi) {
    if (pi.order) await recordOrderPayment(q, source, { order: pi.order, amount: pi.amount_received });
  },
  async refunded(q, source, pi, amount) {
    if (pi.order) await recordOrderRefund(q, source, { order: pi.order, amount });
  },
  // An invoice's intent canceled directly: its InvoicePayment is canceled with it, as when the
  // invoice cancels it; the invoice stays open, and its next payment opens a new intent.
  async canceled(q, source, pi) {
    if (pi.invoice) await closePayment(q, source, pi, 'canceled', pi.canceled_at ?? nowSeconds());
  },
};

export const customerBilling: CustomerBilling = {
  // Locked, so that a deletion of the clock running meanwhile either sees this customer or is
  // seen by it (src/billing/test_clocks.ts).
  attachToClock: (q, accountId, id) => liveTestClock(q, accountId, id, { param: 'test_clock', forUpdate: true }),
  async deleting(q, source, customer) {
    await cancelSubscriptionsOf(q, source, [customer.id], await billingNow(q, source.accountId, customer.test_clock));
  },
};
