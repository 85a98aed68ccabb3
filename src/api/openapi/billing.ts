/** Component schemas of invoices, invoice items and subscriptions (src/billing/). */
import { type JsonSchema } from './blocks.ts';

export const BILLING_SCHEMA_NAMES = [
  'invoice', 'deleted_invoice', 'invoiceitem', 'deleted_invoiceitem', 'invoice_message', 'subscription',
] as const;

export const BILLING_SCHEMAS: Record<(typeof BILLING_SCHEMA_NAMES)[number], JsonSchema> = {
  invoice: { type: 'object' },
  deleted_invoice: { type: 'object' },
  invoiceitem: { type: 'object' },
  deleted_invoiceitem: { type: 'object' },
  invoice_message: { type: 'object' },
  subscription: { type: 'object' },
};
