/**
 * The expandable fields of billing's objects (and the billing fields of a customer), by object
 * type, for the registry of src/api/expansion.ts. Each entry says how the field resolves: a row
 * by id (`byId`), an includable list (`listOf`), an inline object a path goes through
 * (`embedded`), or always null (`alwaysNull`).
 */
import { alwaysNull, byId, embeddedList, inline, listOf, type Expansion, type ExpansionTable } from './expansion_kit.ts';
import { paymentMethod } from './payment_method_expansion.ts';
import { customers, paymentIntents } from '../payments/payment_objects.ts';
import { invoices, prices, products, subscriptions, testClocks } from '../billing/billing_objects.ts';
import { confirmationSecretOf, paymentsOf } from '../billing/invoice_reads.ts';
import { subscriptionListFilter } from '../billing/subscriptions.ts';

/** An invoice's or subscription's default_payment_method, as a PaymentMethod. */
const paymentMethodById: Expansion = paymentMethod();

export const BILLING_EXPANSIONS: ExpansionTable = {
  customer: {
    subscriptions: listOf(subscriptions, (c) => `/v1/customers/${c.id as string}/subscriptions`,
      (c) => subscriptionListFilter({ customer: c.id as string })),
    test_clock: byId(testClocks),
  },
  product: {
    default_price: byId(prices),
    tax_code: alwaysNull,
  },
  price: {
    product: byId(products),
  },
  invoice: {
    customer: byId(customers),
    account_tax_ids: alwaysNull,
    application: alwaysNull,
    default_payment_method: paymentMethodById,
    default_source: alwaysNull,
    discounts: inline('discount'),
    'from_invoice.invoice': alwaysNull,
    latest_revision: alwaysNull,
    lines: embeddedList('line_item'),
    on_behalf_of: alwaysNull,
    'parent.subscription_details.subscription': byId(subscriptions),
    test_clock: byId(testClocks),
    // Features Oncepay lacks: their objects are null, their arrays empty.
    'automatic_tax.liability.account': alwaysNull,
    'issuer.account': alwaysNull,
    'last_finalization_error.payment_intent': alwaysNull,
    'last_finalization_error.payment_method': alwaysNull,
    'last_finalization_error.setup_intent': alwaysNull,
    'last_finalization_error.source': alwaysNull,
    'shipping_cost.shipping_rate': alwaysNull,
    'total_discount_amounts.discount': alwaysNull,
    'total_pretax_credit_amounts.credit_balance_transaction': alwaysNull,
    'total_pretax_credit_amounts.discount': alwaysNull,
    // Includable: not in the invoice unless asked for.
    payments: { to: ['invoice_payment'], list: true, resolve: (ctx, _v, inv) => paymentsOf(ctx.q, ctx.accountId, inv.id as string) },
    confirmation_secret: { to: [], resolve: (ctx, _v, inv) => confirmationSecretOf(ctx.q, ctx.accountId, inv.id as string) },
  },
  line_item: {
    'pricing.price_details.price': byId(prices),
    subscription: byId(subscriptions),
    discounts: inline('discount'),
    'discount_amounts.discount': alwaysNull,
    'pretax_credit_amounts.credit_balance_transaction': alwaysNull,
    'pretax_credit_amounts.discount': alwaysNull,
  },
  invoice_payment: {
    invoice: byId(invoices),
    'payment.payment_intent': byId(paymentIntents),
    'payment.charge': alwaysNull,
    'payment.payment_record': alwaysNull,
  },
  invoiceitem: {
    customer: byId(customers),
    invoice: byId(invoices),
    'pricing.price_details.price': byId(prices),
    test_clock: byId(testClocks),
    discounts: inline('discount'),
    'proration_details.discount_amounts.discount': alwaysNull,
  },
  subscription: {
    customer: byId(customers),
    // Stripe's subscription guide expands latest_invoice.confirmation_secret or latest_invoice.payments (through the invoice's entries).
    latest_invoice: byId(invoices),
    default_payment_method: paymentMethodById,
    test_clock: byId(testClocks),
    items: embeddedList('subscription_item'),
    application: alwaysNull,
    default_source: alwaysNull,
    discounts: inline('discount'),
    on_behalf_of: alwaysNull,
    pending_setup_intent: alwaysNull,
    schedule: alwaysNull,
    'transfer_data.destination': alwaysNull,
    'automatic_tax.liability.account': alwaysNull,
    'invoice_settings.issuer.account': alwaysNull,
    'invoice_settings.account_tax_ids': alwaysNull,
    'billing_schedules.applies_to.price': alwaysNull,
    'cancellation_details.feedback_option': alwaysNull,
    default_tax_rates: inline('tax_rate'),
    'pending_update.discounts': alwaysNull,
  },
  subscription_item: {
    price: inline('price'),
    plan: inline('plan'),
    discounts: inline('discount'),
  },
  plan: {
    product: byId(products),
  },
  order: {
    customer: byId(customers),
  },
};
