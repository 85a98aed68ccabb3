/**
 * Parameter schemas shared by the payments operations: addresses, shipping, the options hashes
 * Oncepay stores and echoes, and the documented parameters it refuses (Connect, tax...).
 */
import { array, clearable, enumOf, nonEmptyString, object, optional, string, unsupported, type Schema } from '../schema/params.ts';
import { invalidRequest } from '../errors.ts';
import type { Address, Shipping } from './payment_objects.ts';

const addressShape = {
  city: clearable(string({ max: 200 })),
  country: clearable(string({ max: 2 })),
  line1: clearable(string({ max: 200 })),
  line2: clearable(string({ max: 200 })),
  postal_code: clearable(string({ max: 20 })),
  state: clearable(string({ max: 200 })),
};

/** An address hash, rendered with every field (null where not given). */
export function address(): Schema<Address> {
  const s = object(addressShape);
  return {
    required: true,
    parse: (v, path) => {
      const a = s.parse(v, path);
      return {
        city: a.city ?? null, country: a.country ?? null, line1: a.line1 ?? null, line2: a.line2 ?? null,
        postal_code: a.postal_code ?? null, state: a.state ?? null,
      };
    },
    jsonSchema: s.jsonSchema,
  };
}

/** Shipping details: an address and a recipient name, carrier, phone and tracking number. */
export function shipping(): Schema<Shipping> {
  const s = object({
    address: address(), name: nonEmptyString(5000),
    carrier: clearable(string({ max: 5000 })), phone: clearable(string({ max: 5000 })), tracking_number: clearable(string({ max: 5000 })),
  });
  return {
    required: true,
    parse: (v, path) => {
      const p = s.parse(v, path);
      return { address: p.address, carrier: p.carrier ?? null, name: p.name, phone: p.phone ?? null, tracking_number: p.tracking_number ?? null };
    },
    jsonSchema: s.jsonSchema,
  };
}

type Hash = { [key: string]: string | Hash | (string | Hash)[] };

/**
 * A hash Oncepay stores and echoes without acting on its content (payment_method_options):
 * nested hashes and arrays of strings, at most `depth` levels, as Stripe's client encodes them.
 */
export function storedHash(depth = 4): Schema<Hash> {
  const parse = (v: unknown, path: string, level: number): Hash => {
    if (typeof v !== 'object' || v === null || Array.isArray(v) || level > depth) throw invalidRequest('Invalid hash', path, 'parameter_invalid_hash');
    const out: Hash = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      const p = `${path}[${k}]`;
      if (typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean') out[k] = string({ max: 5000 }).parse(x, p);
      else if (Array.isArray(x)) out[k] = x.map((i, n) => (typeof i === 'object' && i !== null ? parse(i, `${p}[${n}]`, level + 1) : string({ max: 5000 }).parse(i, `${p}[${n}]`)));
      else out[k] = parse(x, p, level + 1);
    }
    return out;
  };
  return { required: true, parse: (v, path) => parse(v, path, 1), jsonSchema: () => ({ type: 'object', description: 'Stored and echoed as given.' }) };
}

export const setupFutureUsage = () => clearable(enumOf(['off_session', 'on_session'] as const));

/** Payment method types Oncepay can take: cards. */
export const paymentMethodTypes = () => optional(array(enumOf(['card'] as const), { max: 10 }));

const CONNECT = 'Connect (connected accounts, application fees and transfers) is not part of Oncepay.';
const TAX = 'Oncepay does not calculate or record taxes.';
const PM_DATA = 'Oncepay takes Stripe\'s test payment methods (payment_method=pm_card_visa...), not raw payment method details.';
const noEnabled = (v: unknown) => typeof v === 'object' && v !== null && String((v as { enabled?: unknown }).enabled).toLowerCase() === 'false';

/** Documented parameters Oncepay refuses, with the reason (src/schema/params.ts `unsupported`). */
export const REFUSED = {
  connect: () => unsupported(CONNECT),
  tax: () => unsupported(TAX),
  taxUnlessDisabled: () => unsupported(TAX, { noop: noEnabled }),
  paymentMethodData: () => unsupported(PM_DATA),
  confirmationToken: () => unsupported('confirmation tokens are created by Stripe.js on a client, which Oncepay does not serve.'),
  mandate: () => unsupported('mandates belong to debit payment methods; Oncepay takes cards only.'),
  hooks: () => unsupported('payment hooks (inputs such as tax calculations) are not part of Oncepay.'),
  paymentDetails: () => unsupported('industry payment details (car rental, lodging...) are not part of Oncepay.'),
  amountDetails: () => unsupported('line item amount details are not part of Oncepay.'),
  radar: () => unsupported('Radar sessions are not part of Oncepay (its test cards carry their own risk level).'),
  sources: () => unsupported('the legacy Sources API is not part of Oncepay: use payment methods (pm_card_visa...).'),
  cashBalance: () => unsupported('customer cash balances (bank transfers) are not part of Oncepay.'),
  customerAccount: () => unsupported('customer accounts (Accounts v2) are not part of Oncepay: use customer.'),
  paymentMethodConfiguration: () => unsupported('payment method configurations are not part of Oncepay: it takes cards.'),
};
