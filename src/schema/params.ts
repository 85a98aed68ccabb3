/**
 * Request parameter schemas. One definition both validates incoming parameters (form-encoded
 * values arrive as strings, JSON ones typed) and describes them as JSON Schema, so the API
 * documentation can never drift from what the server accepts.
 *
 * Errors follow Stripe: 400 invalid_request_error naming the parameter in bracket notation
 * (`metadata[order_id]`, `payment_method_types[0]`).
 */
import { invalidRequest, missingParam, unknownParam } from '../errors.ts';
import { isSupportedCurrency, MAX_AMOUNT, formatAmount } from './money.ts';

export interface Schema<T> {
  readonly required: boolean;
  parse(value: unknown, path: string): T;
  jsonSchema(): Record<string, unknown>;
}

type Infer<S> = S extends Schema<infer T> ? T : never;

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function describe(v: unknown): string {
  if (typeof v === 'string') return v;
  if (isPlainObject(v)) return 'a hash';
  if (Array.isArray(v)) return 'an array';
  return String(v);
}

function schema<T>(parse: (v: unknown, path: string) => T, json: Record<string, unknown>): Schema<T> {
  return { required: true, parse, jsonSchema: () => json };
}

/** Makes a schema optional: an absent value parses to undefined. */
export function optional<T>(s: Schema<T>): Schema<T | undefined> {
  return { required: false, parse: (v, p) => (v === undefined ? undefined : s.parse(v, p)), jsonSchema: () => s.jsonSchema() };
}

/** Optional, and the empty string means "clear this field" (Stripe's convention), parsed as null. */
export function clearable<T>(s: Schema<T>): Schema<T | null | undefined> {
  return {
    required: false,
    parse: (v, p) => (v === undefined ? undefined : v === '' || v === null ? null : s.parse(v, p)),
    jsonSchema: () => ({ anyOf: [s.jsonSchema(), { type: 'string', enum: [''] }] }),
  };
}

/** NUL and unpaired surrogates cannot be stored as text (nor are they meaningful): refuse them up front. */
function checkText(v: string, path: string, what = 'string'): void {
  if (v.includes('\u0000') || !v.isWellFormed()) {
    throw invalidRequest(`Invalid ${what}: it contains a NUL character or malformed Unicode (an unpaired surrogate).`, path, 'parameter_invalid_string');
  }
}

export function string(opts: { max?: number; pattern?: RegExp; patternMessage?: string } = {}): Schema<string> {
  const max = opts.max ?? 5000;
  return schema(
    (v, path) => {
      if (typeof v === 'number' || typeof v === 'boolean') v = String(v);
      if (typeof v !== 'string') throw invalidRequest(`Invalid string: ${describe(v)}`, path, 'parameter_invalid_string');
      checkText(v, path);
      if (v.length > max) throw invalidRequest(`Invalid string: must be at most ${max} characters`, path, 'parameter_invalid_string');
      if (opts.pattern && !opts.pattern.test(v)) throw invalidRequest(opts.patternMessage ?? `Invalid ${path}: ${v}`, path);
      return v;
    },
    { type: 'string', maxLength: max, ...(opts.pattern ? { pattern: opts.pattern.source } : {}) },
  );
}

export function nonEmptyString(max = 5000): Schema<string> {
  const base = string({ max });
  return schema(
    (v, path) => {
      const s = base.parse(v, path);
      if (s === '') throw invalidRequest(`You passed an empty string for '${path}'. We assume empty values are an attempt to unset a parameter; however '${path}' cannot be unset. You should remove '${path}' from your request or supply a non-empty value.`, path, 'parameter_invalid_empty');
      return s;
    },
    { type: 'string', minLength: 1, maxLength: max },
  );
}

export function enumOf<const E extends string>(values: readonly E[]): Schema<E> {
  const list = values.length > 1 ? `${values.slice(0, -1).join(', ')}, or ${values[values.length - 1]}` : values[0];
  return schema(
    (v, path) => {
      if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) {
        throw invalidRequest(`Invalid ${path}: must be one of ${list}`, path);
      }
      return v as E;
    },
    { type: 'string', enum: [...values] },
  );
}

export function integer(opts: { min?: number; max?: number } = {}): Schema<number> {
  return schema(
    (v, path) => {
      let n: number;
      if (typeof v === 'number') n = v;
      else if (typeof v === 'string' && /^-?\d{1,16}$/.test(v.trim())) n = Number(v.trim());
      else throw invalidRequest(`Invalid integer: ${describe(v)}`, path, 'parameter_invalid_integer');
      if (!Number.isSafeInteger(n)) throw invalidRequest(`Invalid integer: ${describe(v)}`, path, 'parameter_invalid_integer');
      if (opts.min !== undefined && n < opts.min) throw invalidRequest(`This value must be greater than or equal to ${opts.min}.`, path, 'parameter_invalid_integer');
      if (opts.max !== undefined && n > opts.max) throw invalidRequest(`This value must be less than or equal to ${opts.max}.`, path, 'parameter_invalid_integer');
      return n;
    },
    { type: 'integer', ...(opts.min !== undefined ? { minimum: opts.min } : {}), ...(opts.max !== undefined ? { maximum: opts.max } : {}) },
  );
}

/** A positive amount in minor units, at most MAX_AMOUNT. Checked against the currency by the domain. */
export function amount(): Schema<number> {
  const int = integer();
  return schema(
    (v, path) => {
      const n = int.parse(v, path);
      if (n < 1) throw invalidRequest('Amount must be at least 1 in the currency\'s smallest unit (for example 1 cent).', path, 'amount_too_small');
      if (n > MAX_AMOUNT) throw invalidRequest(`Amount must be no more than ${formatAmount(MAX_AMOUNT, 'usd')} (${MAX_AMOUNT} in the currency's smallest unit).`, path, 'amount_too_large');
      return n;
    },
    { type: 'integer', minimum: 1, maximum: MAX_AMOUNT },
  );
}

/** true or false; as text in any case (Python's client sends `True`), as Stripe's v1 API accepts. Not 1 or 0. */
export function boolean(): Schema<boolean> {
  return schema(
    (v, path) => {
      const text = typeof v === 'string' ? v.toLowerCase() : v;
      if (text === true || text === 'true') return true;
      if (text === false || text === 'false') return false;
      throw invalidRequest(`Invalid boolean: ${describe(v)}`, path, 'parameter_invalid_boolean');
    },
    { type: 'boolean' },
  );
}

export function currency(): Schema<string> {
  return schema(
    (v, path) => {
      if (typeof v !== 'string' || !isSupportedCurrency(v)) {
        throw invalidRequest(`Invalid currency: ${describe(v).slice(0, 20)}. Use a lowercase three-letter ISO 4217 code that Oncepay supports, such as usd, eur or jpy.`, path, 'parameter_invalid_currency');
      }
      return v.toLowerCase();
    },
    { type: 'string', pattern: '^[a-zA-Z]{3}$', description: 'Three-letter ISO 4217 currency code, lowercase.' },
  );
}

/** Stripe's arrays: JSON arrays or form `x[0]=a&x[1]=b` (qs turns both into arrays). */
export function array<T>(item: Schema<T>, opts: { max?: number } = {}): Schema<T[]> {
  const max = opts.max ?? 100;
  return schema(
    (v, path) => {
      let list: unknown[];
      if (Array.isArray(v)) list = v;
      else if (isPlainObject(v) && Object.keys(v).every((k) => /^\d+$/.test(k))) {
        list = Object.keys(v).sort((a, b) => Number(a) - Number(b)).map((k) => v[k]);
      } else throw invalidRequest(`Invalid array`, path, 'parameter_invalid_array');
      if (list.length > max) throw invalidRequest(`Invalid array: at most ${max} items`, path, 'parameter_invalid_array');
      return list.map((x, i) => item.parse(x, `${path}[${i}]`));
    },
    { type: 'array', items: item.jsonSchema(), maxItems: max },
  );
}

/**
 * metadata: up to 50 keys of at most 40 characters, values at most 500. On update a value of ""
 * deletes that key, and metadata="" deletes them all: parsed here as null values / null.
 */
export function metadata(): Schema<Record<string, string | null> | null> {
  return schema(
    (v, path) => {
      if (v === '' || v === null) return null;
      if (!isPlainObject(v)) throw invalidRequest('Invalid hash', path, 'parameter_invalid_hash');
      const keys = Object.keys(v);
      if (keys.length > 50) throw invalidRequest('Invalid metadata: metadata can have at most 50 keys.', path);
      const out: Record<string, string | null> = {};
      for (const k of keys) {
        const p = `${path}[${k}]`;
        if (k.length > 40) throw invalidRequest(`Metadata keys can be at most 40 characters long; '${k.slice(0, 60)}' is ${k.length}.`, p);
        if (k === '') throw invalidRequest('Metadata keys cannot be empty.', p);
        checkText(k, path, 'metadata key');
        const val = v[k];
        if (val === '' || val === null) { out[k] = null; continue; }
        if (typeof val === 'number' || typeof val === 'boolean') { out[k] = String(val); continue; }
        if (typeof val !== 'string') throw invalidRequest('Metadata values must be strings.', p);
        if (val.length > 500) throw invalidRequest(`Metadata values can be at most 500 characters long; '${k}' is ${val.length}.`, p);
        checkText(val, p, 'metadata value');
        out[k] = val;
      }
      return out;
    },
    { type: 'object', additionalProperties: { type: 'string', maxLength: 500 }, maxProperties: 50 },
  );
}

export type Shape = Record<string, Schema<any>>;
export type ParsedObject<S extends Shape> = { [K in keyof S]: Infer<S[K]> };

export interface ObjectSchema<S extends Shape> extends Schema<ParsedObject<S>> {
  readonly shape: S;
}

/** A hash of known keys. Unknown keys are refused with parameter_unknown, naming the full path. */
export function object<S extends Shape>(shape: S): ObjectSchema<S> {
  const parse = (v: unknown, path: string): ParsedObject<S> => {
    if (v === undefined || v === '') v = {};
    if (!isPlainObject(v)) throw invalidRequest('Invalid hash', path || undefined, 'parameter_invalid_hash');
    for (const k of Object.keys(v)) {
      if (!Object.hasOwn(shape, k)) throw unknownParam(path ? `${path}[${k}]` : k);
    }
    const out: Record<string, unknown> = {};
    for (const [k, s] of Object.entries(shape)) {
      const p = path ? `${path}[${k}]` : k;
      const raw = v[k];
      if (raw === undefined) {
        if (s.required) throw missingParam(p);
        continue;
      }
      const parsed = s.parse(raw, p);
      if (parsed !== undefined) out[k] = parsed;
    }
    return out as ParsedObject<S>;
  };
  return {
    required: true,
    shape,
    parse,
    jsonSchema: () => ({
      type: 'object',
      additionalProperties: false,
      properties: Object.fromEntries(Object.entries(shape).map(([k, s]) => [k, s.jsonSchema()])),
      required: Object.entries(shape).filter(([, s]) => s.required).map(([k]) => k),
    }),
  };
}

/**
 * A documented Stripe parameter whose effect needs a feature Oncepay lacks (tax calculation,
 * Connect, ...): known, so never `parameter_unknown`, but refused with a 400 that names it and
 * says why. `noop` values (such as `enabled: false`) ask for nothing Oncepay lacks and pass.
 * The JSON Schema carries the reason as `x-oncepay-unsupported`, which the API reference and the
 * parameter audit read.
 */
export function unsupported(reason: string, opts: { noop?: (v: unknown) => boolean } = {}): Schema<undefined> {
  return {
    required: false,
    parse: (v, path) => {
      if (v === undefined || v === '' || opts.noop?.(v)) return undefined;
      throw invalidRequest(`Oncepay does not support '${path}': ${reason}`, path, 'parameter_unsupported');
    },
    jsonSchema: () => ({ description: `Accepted but refused when set: ${reason}`, 'x-oncepay-unsupported': reason }),
  };
}

/** The `expand[]` parameter every endpoint accepts. */
export const expandParam = () => optional(array(string({ max: 200 }), { max: 20 }));

/** Parses the top-level parameters of a request; any thrown ApiError already names the parameter. */
export function parseParams<S extends Shape>(s: ObjectSchema<S>, raw: unknown): ParsedObject<S> {
  return s.parse(raw, '');
}

