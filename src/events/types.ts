/** Every event type Oncepay emits; `enabled_events` may name these or '*'. */
export const EVENT_TYPES = [
  'charge.captured', 'charge.failed', 'charge.refunded', 'charge.succeeded',
  'customer.created', 'customer.deleted', 'customer.updated',
  'payment_intent.amount_capturable_updated', 'payment_intent.canceled', 'payment_intent.created',
  'payment_intent.payment_failed', 'payment_intent.processing', 'payment_intent.requires_action',
  'payment_intent.succeeded',
  'refund.created', 'refund.updated',
  'webhook_endpoint.disabled',
] as const;

export const isEventType = (t: string) => (EVENT_TYPES as readonly string[]).includes(t);
