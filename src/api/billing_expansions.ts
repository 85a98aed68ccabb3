/**
 * The expandable fields of billing's objects (and the billing fields of a customer), by object
 * type, for the registry of src/api/expansion.ts. Each entry says how the field resolves: a row
 * by id (`byId`), an includable list (`listOf`), an inline object a path goes through
 * (`embedded`), or always null (`alwaysNull`).
 */
import { byId, listOf, type ExpansionTable } from './expansion_kit.ts';
import { customers, paymentIntents } from '../payments/payment_objects.ts';
import { prices, products, subscriptions, testClocks } from '../billing/billing_objects.ts';
import { subscriptionListFilter } from '../billing/subscriptions.ts';

export const BILLING_EXPANSIONS: ExpansionTable = {
  customer: {
    subscriptions: listOf(subscriptions, (c) => `/v1/customers/${c.id as string}/subscriptions`,
      (c) => subscriptionListFilter({ customer: c.id as string })),
    test_clock: byId(testClocks),
  },
  product: {
    default_price: byId(prices),
  },
  price: {
    product: byId(products),
  },
  invoice: {
    customer: byId(customers),
    payment_intent: byId(paymentIntents),
  },
  invoiceitem: {
    customer: byId(customers),
  },
  subscription: {
    customer: byId(customers),
  },
  order: {
    customer: byId(customers),
  },
};
