/**
 * Where Oncepay's answers differ from Stripe's object types on purpose, declared in one place.
 * The test suite checks every response against the official stripe package's type declarations
 * (test/helpers/stripe_types.ts); the fields listed here are removed from objects of that type,
 * wherever one appears (top level, nested, expanded), before the check, and objects of the
 * invented types are not checked at all. Anything else Stripe's types lack fails the suite.
 *
 * Add a line only for a field Oncepay means to keep (a feature of its own), never to silence a
 * field the API version removed or renamed: those are bugs to fix in the renderer.
 */

export interface Addition {
  readonly field: string;
  readonly reason: string;
}

const externalId: Addition = { field: 'external_id', reason: 'the caller\'s unique reference: a second create with it answers the first object (exactly-once without an idempotency key)' };
const order: Addition = { field: 'order', reason: 'the Oncepay order this object pays for (orders are Oncepay\'s own resource)' };

/** Per Stripe object type (its `object` string): the fields Oncepay adds. */
export const STRIPE_ADDITIONS: Readonly<Record<string, readonly Addition[]>> = {
  payment_intent: [externalId, order, { field: 'invoice', reason: 'the invoice this intent pays (2026-10-28.endive reaches it through invoice payments; Oncepay keeps the direct link)' }],
  refund: [externalId],
  product: [externalId],
  price: [externalId],
  invoice: [externalId, order],
  invoiceitem: [externalId, { field: 'created', reason: 'when the item was created (same as date): Oncepay lists and filters every object by created' }],
  subscription: [externalId],
  'test_helpers.test_clock': [externalId],
  // Not Oncepay's own: api.stripe.com sends total_count on embedded lists (subscription items), which the package's ApiList omits.
  list: [{ field: 'total_count', reason: 'embedded lists carry total_count on the wire, as api.stripe.com sends them; the stripe package\'s ApiList type does not declare it' }],
  // An order's line items are shaped as Stripe's Checkout line items (`item`), with the unit price beside the totals.
  item: [{ field: 'unit_amount', reason: 'an order line item\'s unit price in minor units (Checkout\'s line items carry it only inside price)' }],
  webhook_endpoint: [
    { field: 'previous_secret_expires_at', reason: 'answered by Oncepay\'s secret rotation (POST /v1/webhook_endpoints/:id/rotate_secret), which Stripe lacks' },
  ],
};

/** Object types Oncepay invented (their `object` string): Stripe has no type to check them against. */
export const ONCEPAY_OBJECT_TYPES: readonly string[] = [
  'order',
  'invoice_message',
  'request_log',
  'idempotency_key',
  'webhook_delivery_attempt',
  'acquirer_operation',
];

/** The fields Oncepay adds to objects of this type. */
export const additionsTo = (objectType: string): readonly string[] => (STRIPE_ADDITIONS[objectType] ?? []).map((a) => a.field);
