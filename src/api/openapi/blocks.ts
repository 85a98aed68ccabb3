/**
 * Building blocks of the component schemas (schemas.ts and its per-resource companions): fixed
 * shapes, nullable values, ids, timestamps, references, Stripe's list envelope.
 */
import type { SchemaName } from './schema_names.ts';

export type JsonSchema = Record<string, unknown>;

export const ref = (name: SchemaName): JsonSchema => ({ $ref: `#/components/schemas/${name}` });

// ---- building blocks ------------------------------------------------------------------------

/** A fixed shape: every property required unless listed in `optional`, nothing else allowed. */
export function shape(properties: Record<string, JsonSchema>, opts: { optional?: string[]; description?: string; title?: string } = {}): JsonSchema {
  const optional = new Set(opts.optional ?? []);
  for (const k of optional) if (!(k in properties)) throw new Error(`optional property ${k} is not a property`);
  return {
    ...(opts.title ? { title: opts.title } : {}),
    ...(opts.description ? { description: opts.description } : {}),
    type: 'object',
    properties,
    required: Object.keys(properties).filter((k) => !optional.has(k)),
    additionalProperties: false,
  };
}

/** `null` allowed besides the schema. */
export function nullable(s: JsonSchema): JsonSchema {
  if (typeof s.type === 'string' && !('$ref' in s) && !('anyOf' in s)) {
    const out: JsonSchema = { ...s, type: [s.type, 'null'] };
    if (Array.isArray(s.enum)) out.enum = [...s.enum, null];
    return out;
  }
  return { anyOf: [s, { type: 'null' }] };
}

export const id = (prefix: string, description?: string): JsonSchema => ({
  type: 'string', pattern: `^${prefix}_[A-Za-z0-9]+$`, ...(description ? { description } : {}),
});
export const text = (description?: string): JsonSchema => ({ type: 'string', ...(description ? { description } : {}) });
export const int = (description?: string, min?: number): JsonSchema => ({
  type: 'integer', ...(min !== undefined ? { minimum: min } : {}), ...(description ? { description } : {}),
});
export const bool = (description?: string): JsonSchema => ({ type: 'boolean', ...(description ? { description } : {}) });
export const oneOfValues = (values: readonly (string | boolean)[], description?: string): JsonSchema => ({
  type: typeof values[0] === 'boolean' ? 'boolean' : 'string', enum: [...values], ...(description ? { description } : {}),
});
export const constant = (value: string | boolean, description?: string): JsonSchema => ({ const: value, ...(description ? { description } : {}) });
export const alwaysNull = (description?: string): JsonSchema => ({ type: 'null', ...(description ? { description } : {}) });
export const timestamp = (description = 'Unix time in seconds.'): JsonSchema => ({ type: 'integer', minimum: 0, description });
export const currencyCode = (): JsonSchema => ({ type: 'string', pattern: '^[a-z]{3}$', description: 'Three-letter ISO 4217 currency code, lowercase.' });
export const metadata = (): JsonSchema => ({
  type: 'object', additionalProperties: { type: 'string', maxLength: 500 }, maxProperties: 50,
  description: 'Set of key-value pairs attached to the object.',
});
export const livemode = (): JsonSchema => constant(false, 'Always false: Oncepay has test mode only.');
export const objectName = (name: string): JsonSchema => constant(name, 'String representing the object\'s type.');

/** A reference that `expand[]` may replace by the object it names (src/api/expansion.ts). */
export const expandable = (description: string, ...targets: SchemaName[]): JsonSchema => ({
  description: `${description} Expandable: the id, or the object with expand[].`,
  anyOf: [{ type: 'string', maxLength: 5000 }, ...targets.map(ref)],
});
export const nullableExpandable = (description: string, ...targets: SchemaName[]): JsonSchema => {
  const s = expandable(description, ...targets);
  return { ...s, anyOf: [...(s.anyOf as JsonSchema[]), { type: 'null' }] };
};

/** Stripe's list envelope around items of one schema. */
export function listOf(item: JsonSchema, description = 'A page of objects, newest first.'): JsonSchema {
  return {
    description,
    ...shape({
      object: constant('list'),
      data: { type: 'array', items: item },
      has_more: bool('Whether there are more objects after this page.'),
      total_count: int('How many objects the list\'s filters match: only with include[]=total_count.', 0),
      url: { type: 'string', pattern: '^/v1/', description: 'The URL of this list.' },
    }, { optional: ['total_count'] }),
  };
}


/** The fields of a card error as an object carries it (a payment's or a setup's last error). */
export const cardErrorFields = () => ({
  type: constant('card_error'),
  code: text('Stripe error code, such as card_declined or expired_card.'),
  decline_code: text('The issuer\'s reason, such as insufficient_funds.'),
  advice_code: oneOfValues(['confirm_card_data', 'do_not_try_again', 'try_again_later']),
  message: text(),
  param: text('The card field at fault (exp_month, cvc).'),
});

/** An intent's next_action while it waits for 3-D Secure (null otherwise). */
export const threeDSecureNextAction = () => nullable(shape({
    type: constant('use_stripe_sdk'),
    use_stripe_sdk: shape({ type: constant('three_d_secure_redirect'), stripe_js: text('Where the customer authenticates.') }),
  }, { description: 'What the customer must do next (3-D Secure) when the status is requires_action.' }));
