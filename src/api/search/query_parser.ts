/**
 * Stripe's search query language (https://docs.stripe.com/search#search-query-language), parsed
 * into a small AST and printed back. A query is up to 10 clauses joined by spaces or `AND`, or
 * by `OR` (never both); a clause is an optional `-` (negation), a field (`email`,
 * `billing_details.address.postal_code` or `metadata['key']`), an operator (`:` exact, `~`
 * substring, `>`, `<`, `>=`, `<=`) and a value: a quoted string (single or double quotes, `\`
 * escapes the next character), a bare number, or `null`.
 *
 * Parsing knows nothing of resources: which fields exist and which operators they take is
 * search_fields.ts's business. A parse error is a 400 naming `query`, the position and the text
 * found there. `printQuery(parseQuery(s).query)` parses back to the same AST.
 */
import { invalidRequest, type ApiError } from '../../errors.ts';

export type Operator = ':' | '~' | '>' | '<' | '>=' | '<=';
export type Value = { kind: 'string'; text: string } | { kind: 'number'; text: string } | { kind: 'null' };
export type Field = { kind: 'path'; path: string } | { kind: 'metadata'; key: string };
export interface Clause { negated: boolean; field: Field; op: Operator; value: Value }
export interface SearchQuery { join: 'AND' | 'OR'; clauses: Clause[] }

/** Where each clause starts in the text, for the messages of later checks. */
export interface ParsedQuery { query: SearchQuery; positions: number[] }

export const MAX_CLAUSES = 10;
export const OPERATORS: readonly Operator[] = ['>=', '<=', ':', '~', '>', '<'];

const WHITESPACE = /[ \t\r\n]/;
const FIELD_CHAR = /[A-Za-z0-9_.]/;
export const NUMBER = /^-?\d+(\.\d+)?$/;
const KEYWORD = /^(and|or)(?=[ \t\r\n]|$)/i;

/** The query's text near a position, for error messages: a short excerpt, or "the end". */
function near(input: string, at: number): string {
  if (at >= input.length) return 'at the end of the query';
  const excerpt = input.slice(at, at + 20);
  return `at position ${at} ('${excerpt}${input.length > at + 20 ? '...' : ''}')`;
}

export function queryError(input: string, at: number, what: string): ApiError {
  return invalidRequest(`Invalid search query ${near(input, at)}: ${what}. See https://docs.stripe.com/search#search-query-language.`, 'query');
}

class Parser {
  pos = 0;
  constructor(readonly input: string) {}

  fail(what: string, at = this.pos): never {
    throw queryError(this.input, at, what);
  }

  end(): boolean { return this.pos >= this.input.length; }

  /** Skips whitespace; whether there was any. */
  skipSpace(): boolean {
    const start = this.pos;
    while (!this.end() && WHITESPACE.test(this.input[this.pos])) this.pos++;
    return this.pos > start;
  }

  /** A quoted string at the current position (which holds the quote). */
  quoted(): string {
    const start = this.pos;
    const quote = this.input[this.pos++];
    let text = '';
    for (;;) {
      if (this.end()) this.fail(`the string opened with ${quote} is not closed`, start);
      const c = this.input[this.pos];
      if (c === '\\') {
        if (this.pos + 1 >= this.input.length) this.fail(`the string opened with ${quote} is not closed`, start);
        text += this.input[this.pos + 1];
        this.pos += 2;
      } else if (c === quote) {
        this.pos++;
        return text;
      } else {
        text += c;
        this.pos++;
      }
    }
  }

  field(): Field {
    if (this.input.startsWith('metadata[', this.pos)) {
      this.pos += 'metadata['.length;
      const c = this.input[this.pos];
      if (c !== '"' && c !== "'") this.fail(`expected a quoted metadata key, as in metadata['key']`);
      const keyAt = this.pos;
      const key = this.quoted();
      if (key === '') this.fail('the metadata key is empty', keyAt);
      if (this.input[this.pos] !== ']') this.fail(`expected ']' after the metadata key`);
      this.pos++;
      return { kind: 'metadata', key };
    }
    const start = this.pos;
    while (!this.end() && FIELD_CHAR.test(this.input[this.pos])) this.pos++;
    const path = this.input.slice(start, this.pos);
    if (path === '') this.fail('expected a field name (such as email or metadata[\'key\'])');
    if (path.startsWith('.') || path.endsWith('.') || path.includes('..')) this.fail(`'${path}' is not a field name`, start);
    return { kind: 'path', path };
  }

  operator(field: string): Operator {
    const op = OPERATORS.find((o) => this.input.startsWith(o, this.pos));
    if (!op) this.fail(`expected an operator (:, ~, >, <, >= or <=) after the field ${field}`);
    this.pos += op.length;
    return op;
  }

  value(op: Operator): Value {
    const c = this.input[this.pos];
    if (c === '"' || c === "'") return { kind: 'string', text: this.quoted() };
    const start = this.pos;
    while (!this.end() && !WHITESPACE.test(this.input[this.pos])) this.pos++;
    const bare = this.input.slice(start, this.pos);
    if (bare === '') this.fail(`expected a value after '${op}'`, start);
    if (NUMBER.test(bare)) return { kind: 'number', text: bare };
    if (bare.toLowerCase() === 'null') return { kind: 'null' };
    return this.fail(`string values must be quoted, as in field:'${bare.replace(/['"\\]/g, '')}'`, start);
  }

  clause(): Clause {
    const negated = this.input[this.pos] === '-';
    if (negated) this.pos++;
    const field = this.field();
    const op = this.operator(field.kind === 'path' ? field.path : `metadata['${field.key}']`);
    return { negated, field, op, value: this.value(op) };
  }

  parse(): ParsedQuery {
    const clauses: Clause[] = [];
    const positions: number[] = [];
    let join: 'AND' | 'OR' | undefined;
    let joinAt = 0;
    this.skipSpace();
    if (this.end()) this.fail('the query is empty');
    for (;;) {
      positions.push(this.pos);
      clauses.push(this.clause());
      const spaced = this.skipSpace();
      if (this.end()) break;
      if (!spaced) this.fail('expected a space, AND or OR after the clause');
      const at = this.pos;
      const keyword = KEYWORD.exec(this.input.slice(this.pos, this.pos + 4));
      let next: 'AND' | 'OR' = 'AND';
      if (keyword) {
        next = keyword[1].toUpperCase() as 'AND' | 'OR';
        this.pos += keyword[1].length;
        this.skipSpace();
        if (this.end()) this.fail(`expected a clause after ${next}`);
      }
      if (join !== undefined && join !== next) {
        const first = join === 'OR' ? 'OR' : 'AND (or a space)';
        this.fail(`AND and OR cannot be combined in one query: the clauses before are joined by ${first} from position ${joinAt}`, at);
      }
      if (join === undefined) { join = next; joinAt = at; }
      if (clauses.length === MAX_CLAUSES) this.fail(`a query has at most ${MAX_CLAUSES} clauses`);
    }
    return { query: { join: join ?? 'AND', clauses }, positions };
  }
}

export function parseQuery(input: string): ParsedQuery {
  return new Parser(input).parse();
}

const quote = (s: string) => `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;

export function printField(f: Field): string {
  return f.kind === 'path' ? f.path : `metadata[${quote(f.key)}]`;
}

function printValue(v: Value): string {
  if (v.kind === 'null') return 'null';
  return v.kind === 'number' ? v.text : quote(v.text);
}

/** The query as text, in one canonical spelling (double quotes, ` AND `/` OR `). */
export function printQuery(q: SearchQuery): string {
  return q.clauses.map((c) => `${c.negated ? '-' : ''}${printField(c.field)}${c.op}${printValue(c.value)}`).join(` ${q.join} `);
}
