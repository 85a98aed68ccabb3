/** Component schemas of the legacy card surface (src/payments/legacy_card.ts, tokens.ts, sources.ts). */
import { LEGACY_SCHEMA_NAMES } from './schema_names.ts';
import { type JsonSchema, shape, nullable, id, text, oneOfValues, constant, alwaysNull, timestamp, livemode, objectName, metadata, nullableExpandable, int, bool } from './blocks.ts';

const check = () => nullable(oneOfValues(['pass', 'fail', 'unavailable', 'unchecked']));
const str = () => nullable(text());

const card = shape({
  id: { type: 'string', pattern: '^card_[A-Za-z0-9_]+$', description: 'card_...: a ready-made token\'s card is named after it (card_visa).' },
  object: objectName('card'),
  address_city: str(), address_country: str(), address_line1: str(), address_line1_check: check(), address_line2: str(), address_state: str(),
  address_zip: str(), address_zip_check: check(),
  allow_redisplay: oneOfValues(['always', 'limited', 'unspecified']),
  brand: oneOfValues(['Visa', 'MasterCard', 'American Express', 'Discover', 'Diners Club', 'JCB', 'UnionPay', 'Cartes Bancaires', 'Eftpos Australia', 'Interac', 'Unknown']),
  country: nullable({ type: 'string', pattern: '^[A-Z]{2}$' }),
  customer: nullableExpandable('The customer whose card source it is (null for a token\'s card).', 'customer', 'deleted_customer'),
  cvc_check: check(),
  dynamic_last4: alwaysNull(),
  exp_month: { type: 'integer', minimum: 1, maximum: 12 },
  exp_year: int(),
  fingerprint: text(),
  funding: oneOfValues(['credit', 'debit', 'prepaid', 'unknown']),
  last4: { type: 'string', pattern: '^[0-9]{4}$' },
  metadata: metadata(),
  name: str(),
  networks: shape({ preferred: str() }),
  regulated_status: oneOfValues(['regulated', 'unregulated']),
  tokenization_method: alwaysNull(),
}, { title: 'Card', description: 'A legacy card: a token\'s card, a customer\'s card source, a legacy charge\'s source.' });

const deletedCard = shape({ id: id('card'), object: objectName('card'), deleted: constant(true) }, { title: 'Deleted card' });

const token = shape({
  id: { type: 'string', pattern: '^tok_[A-Za-z0-9_]+$', description: 'tok_...: a made token, or a ready-made one (tok_visa).' },
  object: objectName('token'),
  card: { $ref: '#/components/schemas/card' },
  client_ip: alwaysNull(),
  created: timestamp(),
  livemode: livemode(),
  type: constant('card'),
  used: bool('A token made by POST /v1/tokens is used once.'),
}, { title: 'Token' });

export const LEGACY_SCHEMAS: Record<(typeof LEGACY_SCHEMA_NAMES)[number], JsonSchema> = { card, deleted_card: deletedCard, token };
