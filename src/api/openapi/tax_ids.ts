/** Component schemas of tax IDs (rendered by src/payments/tax_ids.ts). */
import { TAX_ID_SCHEMA_NAMES } from './schema_names.ts';
import { TAX_ID_TYPES } from '../../payments/tax_id_formats.ts';
import { type JsonSchema, shape, nullable, id, text, oneOfValues, constant, alwaysNull, timestamp, livemode, objectName, nullableExpandable } from './blocks.ts';

const owner = shape({
  type: oneOfValues(['customer', 'self'], 'customer: a customer\'s tax ID; self: the account\'s own (Connect owners are not part of Oncepay).'),
  customer: nullableExpandable('The customer, for owner type customer.', 'customer', 'deleted_customer'),
  customer_account: alwaysNull('Accounts v2 customer accounts are not part of Oncepay: always null.'),
}, { title: 'Tax ID owner', optional: ['customer'] });

const taxId = shape({
  id: id('txi'),
  object: objectName('tax_id'),
  country: nullable({ type: 'string', pattern: '^[A-Z]{2}$', description: 'The tax ID\'s country (ISO 3166-1 alpha-2; EU for eu_oss_vat).' }),
  created: timestamp(),
  customer: nullableExpandable('The customer, or null for the account\'s own tax ID.', 'customer', 'deleted_customer'),
  customer_account: alwaysNull('Accounts v2 customer accounts are not part of Oncepay: always null.'),
  livemode: livemode(),
  owner,
  type: oneOfValues(TAX_ID_TYPES),
  value: text('The value as given.'),
  verification: nullable(shape({
    status: oneOfValues(['pending', 'unavailable', 'unverified', 'verified']),
    verified_address: nullable(text()),
    verified_name: nullable(text()),
  })),
}, { title: 'Tax ID' });

const deletedTaxId = shape({ id: id('txi'), object: objectName('tax_id'), deleted: constant(true) }, { title: 'Deleted tax ID' });

export const TAX_ID_SCHEMAS: Record<(typeof TAX_ID_SCHEMA_NAMES)[number], JsonSchema> = { tax_id: taxId, deleted_tax_id: deletedTaxId };
