/**
 * The expandable fields of Checkout Sessions, for the registry of src/api/expansion.ts:
 * the objects completing made (customer, payment intent, subscription, setup intent) by id, and
 * `line_items`, an includable list (not in the session unless asked for).
 */
import { alwaysNull, byId, type ExpansionTable } from './expansion_kit.ts';
import { customers, paymentIntents } from '../payments/payment_objects.ts';
import { setupIntents } from '../payments/setup_intents.ts';
import { subscriptions } from '../billing/billing_objects.ts';
import { loadSession } from '../checkout/session_objects.ts';

export const lineItemsUrl = (session: string) => `/v1/checkout/sessions/${session}/line_items`;

export const CHECKOUT_EXPANSIONS: ExpansionTable = {
  'checkout.session': {
    customer: byId(customers),
    payment_intent: byId(paymentIntents),
    subscription: byId(subscriptions),
    setup_intent: byId(setupIntents),
    invoice: alwaysNull,
    payment_link: alwaysNull,
    // Features Oncepay's Checkout lacks (Connect liability, discounts, invoice creation, shipping): never filled.
    'automatic_tax.liability.account': alwaysNull,
    'discounts.coupon': alwaysNull,
    'discounts.promotion_code': alwaysNull,
    'invoice_creation.invoice_data.account_tax_ids': alwaysNull,
    'invoice_creation.invoice_data.issuer.account': alwaysNull,
    'shipping_cost.shipping_rate': alwaysNull,
    'shipping_options.shipping_rate': alwaysNull,
    line_items: {
      to: ['item'], list: true,
      async resolve(ctx, _value, session) {
        const { lineItems } = await loadSession(ctx.q, ctx.accountId, session.id as string);
        return { object: 'list', data: lineItems, has_more: false, url: lineItemsUrl(session.id as string) };
      },
    },
  },
  item: {
    price: { to: ['price'], through: true, resolve: async (_ctx, value) => value },
  },
};
