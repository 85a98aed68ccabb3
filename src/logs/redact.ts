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
/** Digit groups joined by single spaces or dashes: where card numbers hide. */
const DIGIT_RUN = /(?<!\d)\d+(?:[ -]\d+)*(?!\d)/g;

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
  return out.replace(DIGIT_RUN, maskCards);
}

const isCard = (digits: string) => digits.length >= 13 && digits.length <= 19 && luhn(digits);

/**
 * Within a run of digit groups, masks every span of whole groups that reads as a card number
 * (longest first, left to right), so "4242 4242 4242 4242 123" (a CVC after it) is caught too.
 */
function maskCards(run: string): string {
  if (run.length < 13) return run;
  const groups = run.split(/[ -]/);
  const seps = run.match(/[ -]/g) ?? [];
  let out = '';
  for (let i = 0; i < groups.length; i++) {
    let card: string | undefined;
    let end = i;
    for (let j = groups.length - 1; j >= i && !card; j--) {
      const digits = groups.slice(i, j + 1).join('');
      if (isCard(digits)) { card = digits; end = j; }
    }
    const text = card ? `${'*'.repeat(card.length - 4)}${card.slice(-4)}` : groups[i];
    out += text + (seps[end] ?? '');
    i = end;
  }
  return out;
}

/** A deep copy of `value` with secrets masked (see the module comment). */
export function redact(value: unknown, parentKey = ''): unknown {
  if (typeof value === 'string') return redactString(value);
  // A card number sent as a JSON number: masked like the string it would be.
  if (typeof value === 'number' && Number.isInteger(value) && Math.abs(value) >= 1e12) {
    const masked = redactString(String(value));
    return masked === String(value) ? value : masked;
  }
  if (Array.isArray(value)) return value.map((v) => redact(v, parentKey));
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const name = k.toLowerCase();
    const secret = ALWAYS_SECRET.has(name) || (name === 'number' && (parentKey === 'card' || (/^[\d -]+$/.test(String(v)) && String(v).replace(/\D/g, '').length >= 13)));
    out[redactString(k)] = secret && v !== null && v !== '' ? REDACTED : redact(v, name);
  }
  return out;
}
