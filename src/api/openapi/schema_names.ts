/**
 * The names of the component schemas (src/api/openapi/schemas.ts and its per-resource companions):
 * what routes name as their response, and what the schema-building blocks refer to. Apart from the
 * schemas themselves so that every module can name a schema without importing all of them.
 */
export const ORDER_SCHEMA_NAMES = ['order', 'order_line_item'] as const;

export const CATALOG_SCHEMA_NAMES = ['product', 'deleted_product', 'price', 'plan', 'deleted_plan', 'test_helpers.test_clock', 'deleted_test_clock'] as const;

export const BILLING_SCHEMA_NAMES = [
  'invoice', 'deleted_invoice', 'invoice_line_item', 'invoiceitem', 'deleted_invoiceitem', 'invoice_message', 'invoice_payment', 'subscription',
  'subscription_item',
] as const;

export const TAX_ID_SCHEMA_NAMES = ['tax_id', 'deleted_tax_id'] as const;

export const SETUP_INTENT_SCHEMA_NAMES = ['setup_intent'] as const;

export const CHECKOUT_SCHEMA_NAMES = ['checkout.session', 'item'] as const;

export const PORTAL_SCHEMA_NAMES = ['billing_portal.configuration', 'billing_portal.session'] as const;

export const RESET_SCHEMA_NAMES = ['test_helpers.reset'] as const;

export const LEGACY_SCHEMA_NAMES = ['card', 'deleted_card', 'token'] as const;

/** The component schemas, by name. Routes name these as their response (see ResponseSpec in route_kit.ts). */
export const SCHEMA_NAMES = [
  'customer', 'deleted_customer', 'payment_intent', 'payment_intent_last_payment_error', 'payment_method',
  'address', 'shipping', 'charge', 'refund', 'balance', 'balance_transaction', 'event', 'webhook_endpoint',
  'webhook_endpoint_with_secret', 'webhook_endpoint_rotated', 'deleted_webhook_endpoint', 'webhook_delivery_attempt',
  'acquirer_operation', 'request_log', 'idempotency_key', 'error', 'health', 'readiness',
  ...ORDER_SCHEMA_NAMES, ...CATALOG_SCHEMA_NAMES, ...BILLING_SCHEMA_NAMES, ...TAX_ID_SCHEMA_NAMES, ...SETUP_INTENT_SCHEMA_NAMES, ...CHECKOUT_SCHEMA_NAMES, ...PORTAL_SCHEMA_NAMES, ...RESET_SCHEMA_NAMES, ...LEGACY_SCHEMA_NAMES,
] as const;
export type SchemaName = (typeof SCHEMA_NAMES)[number];

export const isSchemaName = (name: string): name is SchemaName => (SCHEMA_NAMES as readonly string[]).includes(name);

/** A schema name known only at run time (a table's object name): refused at once when unknown. */
export function schemaName(name: string): SchemaName {
  if (!isSchemaName(name)) throw new Error(`No component schema named '${name}' in src/api/openapi/schemas.ts`);
  return name;
}
