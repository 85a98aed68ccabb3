import { STRIPE_EVENT_TYPES } from './stripe_event_types.ts';

/** Every event type Oncepay emits. */
export const EVENT_TYPES = [
  'billing_portal.configuration.created', 'billing_portal.configuration.updated', 'billing_portal.session.created',
  'charge.captured', 'charge.failed', 'charge.refund.updated', 'charge.refunded', 'charge.succeeded', 'charge.updated',
  'checkout.session.completed', 'checkout.session.expired',
  'customer.created', 'customer.deleted', 'customer.updated',
  'customer.source.created', 'customer.source.deleted', 'customer.source.updated',
  'customer.subscription.created', 'customer.subscription.deleted', 'customer.subscription.paused',
  'customer.subscription.resumed', 'customer.subscription.trial_will_end', 'customer.subscription.updated',
  'customer.tax_id.created', 'customer.tax_id.deleted', 'customer.tax_id.updated',
  'invoice.created', 'invoice.deleted', 'invoice.finalized', 'invoice.marked_uncollectible', 'invoice.paid',
  'invoice.payment_failed', 'invoice.payment_succeeded', 'invoice.reminder', 'invoice.sent', 'invoice.updated', 'invoice.voided',
  'invoice_payment.paid',
  'invoiceitem.created', 'invoiceitem.deleted', 'invoiceitem.updated',
  'order.canceled', 'order.created', 'order.paid', 'order.updated',
  'payment_intent.amount_capturable_updated', 'payment_intent.canceled', 'payment_intent.created',
  'payment_intent.payment_failed', 'payment_intent.requires_action',
  'payment_intent.succeeded',
  'payment_method.attached', 'payment_method.detached', 'payment_method.updated',
  'plan.created', 'plan.deleted', 'plan.updated',
  'price.created', 'price.deleted', 'price.updated',
  'product.created', 'product.deleted', 'product.updated',
  'refund.created', 'refund.updated',
  'setup_intent.canceled', 'setup_intent.created', 'setup_intent.requires_action', 'setup_intent.setup_failed', 'setup_intent.succeeded',
  'test_helpers.test_clock.advancing', 'test_helpers.test_clock.created', 'test_helpers.test_clock.deleted',
  'test_helpers.test_clock.ready',
  'webhook_endpoint.disabled',
] as const;

/**
 * What a webhook endpoint's enabled_events may name besides '*': every type Stripe documents
 * (an integration registers the types it handles, whether or not Oncepay emits them) and the
 * ones only Oncepay emits (orders, invoice reminders, ...).
 */
export const ENDPOINT_EVENT_TYPES: readonly string[] = [...new Set<string>([...STRIPE_EVENT_TYPES, ...EVENT_TYPES])].sort();

const ENDPOINT_TYPES: ReadonlySet<string> = new Set(ENDPOINT_EVENT_TYPES);

export const isEndpointEventType = (t: string) => ENDPOINT_TYPES.has(t);
