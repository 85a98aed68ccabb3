/**
 * Redaction for everything Oncepay writes down about a request (request logs, key inspection,
 * process logs): key material and card data never leave the request that carried them.
 *
 * - Values under secret-bearing names (`cvc`, `secret`, `client_secret`, `password`, a card's
 *   `number`) are replaced whole.
 * - In every string, API keys (`sk_`, `rk_`) and webhook secrets (`whsec_`) keep only their
 *   prefix, and anything shaped like a card number (13–19 digits, spaces or dashes allowed,
 *   passing the Luhn check) keeps only its last four digits.
 */
export const REDACTED = '[REDACTED]';

const ALWAYS_SECRET = new Set(['cvc', 'cvv', 'cvc2', 'cvv2', 'secret', 'client_secret', 'password', 'api_key', 'card_number', 'pan']);

const KEY_MATERIAL = /\b((?:sk|rk)_(?:test|live)_|whsec_)[A-Za-z0-9_+/=-]{4,}/g;
const CARD_LIKE = /(?<![\d])\d(?:[ -]?\d){12,18}(?![\d])/g;

function luhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/** Masks key material and card numbers inside one string. */
export function redactString(s: string): string {
  let out = s.replace(KEY_MATERIAL, (_m, prefix: string) => `${prefix}${REDACTED}`);
  out = out.replace(CARD_LIKE, (m) => {
    const digits = m.replace(/[ -]/g, '');
    if (digits.length < 13 || digits.length > 19 || !luhn(digits)) return m;
    return `${'*'.repeat(digits.length - 4)}${digits.slice(-4)}`;
  });
  return out;
}

/** A deep copy of `value` with secrets masked (see the module comment). */
export function redact(value: unknown, parentKey = ''): unknown {
  if (typeof value === 'string') return redactString(value);
  if (Array.isArray(value)) return value.map((v) => redact(v, parentKey));
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const name = k.toLowerCase();
    const secret = ALWAYS_SECRET.has(name) || (name === 'number' && (parentKey === 'card' || /^[\d -]{12,}$/.test(String(v))));
    out[redactString(k)] = secret && v !== null && v !== '' ? REDACTED : redact(v, name);
  }
  return out;
}
