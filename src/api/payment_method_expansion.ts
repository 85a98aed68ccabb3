/** How a field naming a payment method expands (payments' and billing's entries both use it). */
import { paymentMethodObject, paymentMethods } from '../payments/payment_methods.ts';
import type { Expansion } from './expansion_kit.ts';

/**
 * A payment method id expands to its PaymentMethod: a saved one from its table, a test id to its
 * ready-made object (created as its parent was).
 */
export const paymentMethod = (customerOf: (parent: Record<string, unknown>) => unknown = () => null): Expansion => ({
  to: ['payment_method'],
  async resolve(ctx, value, parent) {
    if (typeof value !== 'string') return value ?? null;
    const customer = customerOf(parent);
    return paymentMethodObject(value, { created: parent.created as number, customer: typeof customer === 'string' ? customer : null })
      ?? (await paymentMethods.find(ctx.q, ctx.accountId, value)) ?? value;
  },
});

