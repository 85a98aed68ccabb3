/**
 * What each searchable resource lets a query name, as Stripe lists it
 * (https://docs.stripe.com/search#supported-query-fields-for-each-resource), and the check of a
 * parsed query against that list: the field exists, its type takes the operator, the value
 * fits. A checked query compiles to `CompiledClause`s, plain data the SQL (search_sql.ts)
 * receives as one parameter.
 *
 * Types, as Stripe defines them: `token` (exact match, case-insensitive), `string` (exact match
 * of a run of whole words, case-insensitive, or `~` substring of at least 3 characters),
 * `numeric` (exact, `>`, `<`, `>=`, `<=`). Any field may be compared with `null` (absent or
 * null); a leading `-` negates a clause.
 */
import { invalidRequest, type ApiError } from '../../errors.ts';
import { NUMBER, printField, queryError, type Clause, type ParsedQuery } from './query_parser.ts';

export type FieldType = 'token' | 'string' | 'numeric';

export interface SearchField {
  type: FieldType;
  /** Where the value is in the stored object. */
  path: string[];
  /** A value the object does not hold as such, derived by the SQL (search_sql.ts `DERIVED`). */
  derived?: 'refund_state';
}

/** How one clause is matched (search_sql.ts): the JSON the SQL reads, with short keys. */
export interface CompiledClause {
  /** The path in the object. */
  p: string[];
  /** null: absent or null; token: equal ignoring case; words: a run of whole words; substr: contains; num: compared as a number. */
  k: 'null' | 'token' | 'words' | 'substr' | 'num';
  /** For num: the comparison. */
  o?: '=' | '>' | '<' | '>=' | '<=';
  v?: string;
  /** Negated. */
  n: boolean;
  /** The value is derived, not read at `p`. */
  d?: 'refund_state';
}

export interface CompiledQuery { join: 'AND' | 'OR'; clauses: CompiledClause[] }

const at = (path: string): string[] => path.split('.');
const f = (type: FieldType, path?: string) => (name: string): SearchField => ({ type, path: at(path ?? name) });

function fields(spec: Record<string, (name: string) => SearchField>): Record<string, SearchField> {
  return Object.fromEntries(Object.entries(spec).map(([name, make]) => [name, make(name)]));
}

const token = (path?: string) => f('token', path);
const string = (path?: string) => f('string', path);
const numeric = (path?: string) => f('numeric', path);

/** payment_method_details.{SOURCE}.{last4,exp_month,exp_year,brand,fingerprint}, SOURCE being card, card_present or interac_present. */
const cardDetails = Object.fromEntries(['card', 'card_present', 'interac_present'].flatMap((source) =>
  ['last4', 'exp_month', 'exp_year', 'brand', 'fingerprint'].map((k) => [`payment_method_details.${source}.${k}`, token()])));

/** The query fields of each searchable resource, by the resource's path segment. */
export const SEARCH_FIELDS: Record<string, Record<string, SearchField>> = {
  customers: fields({ created: numeric(), email: string(), metadata: token(), name: string(), phone: string() }),
  payment_intents: fields({
    amount: numeric(), created: numeric(), currency: token(), customer: token(), metadata: token(), status: token(),
  }),
  charges: fields({
    amount: numeric(), 'billing_details.address.postal_code': token(), created: numeric(), currency: token(), customer: token(),
    disputed: token(), metadata: token(), ...cardDetails, status: token(),
    // As Stripe documents it: "true" fully refunded, "false" partially refunded, null not refunded.
    refunded: (name) => ({ ...token()(name), derived: 'refund_state' }),
  }),
  invoices: fields({
    created: numeric(), currency: token(), customer: token(),
    last_finalization_error_code: token('last_finalization_error.code'), last_finalization_error_type: token('last_finalization_error.type'),
    metadata: token(), number: string(), receipt_number: string(), status: string(),
    subscription: string('parent.subscription_details.subscription'), total: numeric(),
  }),
  prices: fields({ active: token(), currency: token(), lookup_key: string(), metadata: token(), product: string(), type: token() }),
  products: fields({ active: token(), description: string(), metadata: token(), name: string(), shippable: token(), url: string() }),
  subscriptions: fields({ canceled_at: numeric(), created: numeric(), metadata: token(), status: token() }),
};

export const MIN_SUBSTRING = 3;

const OPERATORS_OF: Record<FieldType, string> = {
  token: "':' (exact match)",
  string: "':' (exact match) and '~' (substring)",
  numeric: "':', '>', '<', '>=' and '<='",
};

/** ASCII whitespace runs as single spaces, trimmed: the words of an exact string match (the SQL splits the same way). */
const words = (s: string) => s.split(/[ \t\r\n]+/).filter(Boolean).join(' ');

function compileClause(resource: string, c: Clause, fail: (what: string) => ApiError): CompiledClause {
  const known = SEARCH_FIELDS[resource];
  const name = c.field.kind === 'metadata' ? 'metadata' : c.field.path;
  const field = Object.hasOwn(known, name) ? known[name] : undefined;
  if (!field) throw fail(`${name} is not a search field of ${resource}; its fields are ${Object.keys(known).join(', ')}`);
  if (name === 'metadata' && c.field.kind !== 'metadata') throw fail(`metadata is searched by key, as in metadata['key']:'value'`);
  const shown = printField(c.field);
  const path = c.field.kind === 'metadata' ? ['metadata', c.field.key] : field.path;
  const base = { p: path, n: c.negated, ...(field.derived ? { d: field.derived } : {}) };
  if (c.value.kind === 'null') {
    if (c.op !== ':') throw fail(`null can only be matched with ':' (${shown}:null)`);
    return { ...base, k: 'null' };
  }
  const allowed = field.type === 'numeric' ? [':', '>', '<', '>=', '<='] : field.type === 'string' ? [':', '~'] : [':'];
  if (!allowed.includes(c.op)) throw fail(`${shown} is a ${field.type} field: it takes ${OPERATORS_OF[field.type]}, not '${c.op}'`);
  const text = c.value.text;
  if (field.type === 'numeric') {
    if (!NUMBER.test(text)) throw fail(`${shown} is a numeric field: its value must be a number, not '${text.slice(0, 40)}'`);
    return { ...base, k: 'num', o: c.op === ':' ? '=' : (c.op as CompiledClause['o']), v: text };
  }
  if (c.op === '~') {
    if ([...text].length < MIN_SUBSTRING) throw fail(`a substring match needs at least ${MIN_SUBSTRING} characters ('${text}' has ${[...text].length})`);
    return { ...base, k: 'substr', v: text };
  }
  return field.type === 'string' ? { ...base, k: 'words', v: words(text) } : { ...base, k: 'token', v: text };
}

/** The parsed query checked against the resource's fields: 400 naming `query` and the clause's position otherwise. */
export function compileQuery(resource: string, input: string, parsed: ParsedQuery): CompiledQuery {
  if (!SEARCH_FIELDS[resource]) throw invalidRequest(`${resource} cannot be searched.`);
  const clauses = parsed.query.clauses.map((c, i) => compileClause(resource, c, (what) => queryError(input, parsed.positions[i], what)));
  return { join: parsed.query.join, clauses };
}
