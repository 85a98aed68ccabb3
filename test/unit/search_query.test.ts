/**
 * Stripe's search query language (src/api/search/query_parser.ts) and the check of a parsed
 * query against a resource's fields (search_fields.ts): what parses to what, every parse error
 * names `query`, its position and the text there, and two properties over random input — any
 * string either parses or is a 400 ApiError (never another exception), and a parsed query
 * printed and parsed again is the same AST.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ApiError } from '../../src/errors.ts';
import { MAX_CLAUSES, parseQuery, printQuery, type SearchQuery } from '../../src/api/search/query_parser.ts';
import { compileQuery, SEARCH_FIELDS } from '../../src/api/search/search_fields.ts';

const NUM_RUNS = Number(process.env.FC_NUM_RUNS ?? 2000);
const fcOptions = { numRuns: NUM_RUNS, ...(process.env.FC_SEED ? { seed: Number(process.env.FC_SEED) } : {}) };

const ast = (s: string) => parseQuery(s).query;
const compile = (resource: string, s: string) => compileQuery(resource, s, parseQuery(s));

/** The 400 a call throws: its message must match `message`, and name `param`. */
function refused(fn: () => unknown, message: RegExp, param = 'query'): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ApiError, `expected an ApiError, got ${e}`);
    assert.equal(e.status, 400);
    assert.equal(e.body.type, 'invalid_request_error');
    assert.equal(e.body.param, param);
    assert.match(e.body.message, message);
    return e.body.message;
  }
  assert.fail(`expected a refusal matching ${message}`);
}

test('clauses: fields, operators, values, quotes and escapes', () => {
  assert.deepEqual(ast(`email:'a@b.com'`), {
    join: 'AND', clauses: [{ negated: false, field: { kind: 'path', path: 'email' }, op: ':', value: { kind: 'string', text: 'a@b.com' } }],
  });
  assert.deepEqual(ast(`metadata["order id"]:"x"`).clauses[0].field, { kind: 'metadata', key: 'order id' });
  assert.deepEqual(ast(`metadata['k']:'v'`).clauses[0].field, { kind: 'metadata', key: 'k' });
  assert.deepEqual(ast(`-currency:"usd"`).clauses[0].negated, true);
  assert.deepEqual(ast('amount>=1000').clauses[0], { negated: false, field: { kind: 'path', path: 'amount' }, op: '>=', value: { kind: 'number', text: '1000' } });
  for (const op of ['>', '<', '>=', '<=', ':', '~'] as const) assert.equal(ast(`amount${op}"10"`).clauses[0].op, op);
  assert.deepEqual(ast('url:null').clauses[0].value, { kind: 'null' });
  assert.deepEqual(ast('url:NULL').clauses[0].value, { kind: 'null' });
  assert.deepEqual(ast(`url:"null"`).clauses[0].value, { kind: 'string', text: 'null' }, 'a quoted null is a string');
  assert.deepEqual(ast(String.raw`description:"the story called \"The Sky and the Sea.\""`).clauses[0].value,
    { kind: 'string', text: 'the story called "The Sky and the Sea."' });
  assert.deepEqual(ast(String.raw`name:'O\'Brien \\ co'`).clauses[0].value, { kind: 'string', text: String.raw`O'Brien \ co` });
  assert.deepEqual(ast(`name:"it's"`).clauses[0].value, { kind: 'string', text: "it's" });
  assert.deepEqual(ast('payment_method_details.card.last4:4242').clauses[0].field, { kind: 'path', path: 'payment_method_details.card.last4' });
  assert.deepEqual(ast('amount>-5').clauses[0].value, { kind: 'number', text: '-5' });
  assert.deepEqual(ast('amount:10.50').clauses[0].value, { kind: 'number', text: '10.50' });
});

test('joins: spaces and AND (any case) are AND, OR is OR, never both; at most 10 clauses', () => {
  assert.equal(ast(`a:1 b:2`).join, 'AND');
  assert.equal(ast(`a:1 and b:2 AND c:3`).join, 'AND');
  assert.equal(ast(`a:1 AND b:2 c:3`).clauses.length, 3);
  assert.equal(ast(`a:1 or b:2 OR c:3`).join, 'OR');
  assert.equal(ast(`  a:1  \t OR\n b:2 `).clauses.length, 2);
  assert.equal(ast('a:1').join, 'AND');
  refused(() => ast('a:1 OR b:2 AND c:3'), /position 11 \('AND c:3'\): AND and OR cannot be combined.*joined by OR from position 4/);
  refused(() => ast('a:1 b:2 OR c:3'), /position 8 \('OR c:3'\): AND and OR cannot be combined.*AND \(or a space\) from position 4/);
  refused(() => ast('a:1 AND b:2 OR c:3'), /AND and OR cannot be combined/);
  const ten = Array.from({ length: MAX_CLAUSES }, (_, i) => `a:${i}`).join(' ');
  assert.equal(ast(ten).clauses.length, 10);
  refused(() => ast(`${ten} a:10`), /at most 10 clauses/);
  // A field that merely starts like a keyword is a field.
  assert.deepEqual(ast('order:1 android:2').clauses.map((c) => c.field), [{ kind: 'path', path: 'order' }, { kind: 'path', path: 'android' }]);
});

test('parse errors name query, the position and the text found there', () => {
  const cases: [string, RegExp][] = [
    ['', /at the end of the query: the query is empty/],
    ['   ', /the query is empty/],
    [`email:'abc`, /position 6 \('\\?'abc'\): the string opened with ' is not closed/],
    [`email:"abc\\`, /position 6 .*not closed/],
    ['email', /at the end of the query: expected an operator \(:, ~, >, <, >= or <=\) after the field email/],
    ['email=x', /position 5 \('=x'\): expected an operator/],
    ['email:', /at the end of the query: expected a value after ':'/],
    ['email: "a"', /position 6 .*expected a value after ':'/],
    ['email:abc', /position 6 \('abc'\): string values must be quoted, as in field:'abc'/],
    [`email:"a"b`, /position 9 \('b'\): expected a space, AND or OR after the clause/],
    [':x', /position 0 .*expected a field name/],
    ['-', /at the end of the query: expected a field name/],
    ['a.:1', /position 0 \('a.:1'\): 'a.' is not a field name/],
    ['.a:1', /'.a' is not a field name/],
    ['a..b:1', /'a..b' is not a field name/],
    ['metadata[k]:"v"', /position 9 .*expected a quoted metadata key/],
    [`metadata['k':"v"`, /position 12 .*expected '\]' after the metadata key/],
    [`metadata['']:"v"`, /position 9 .*the metadata key is empty/],
    ['a:1 AND', /at the end of the query: expected a clause after AND/],
    ['a:1 or  ', /at the end of the query: expected a clause after OR/],
    ['a:1 AND AND b:2', /position 11 .*expected an operator .*after the field AND/],
    [`${'x'.repeat(30)}`, /position 30|at the end of the query: expected an operator/],
  ];
  for (const [q, message] of cases) {
    const text = refused(() => ast(q), message);
    assert.match(text, /^Invalid search query /, text);
    assert.match(text, /https:\/\/docs\.stripe\.com\/search#search-query-language/);
  }
  // Long text is shown as an excerpt.
  refused(() => ast(`email:${'y'.repeat(100)}`), /\('y{20}\.\.\.'\)/);
});

test('printing: one canonical spelling that parses back to the same AST', () => {
  assert.equal(printQuery(ast(`email:'a@b.com'  and -metadata['k']:null`)), `email:"a@b.com" AND -metadata["k"]:null`);
  assert.equal(printQuery(ast(String.raw`name:'say "hi" \\ bye'`)), String.raw`name:"say \"hi\" \\ bye"`);
  assert.equal(printQuery(ast('amount>=10 or amount<5')), 'amount>=10 OR amount<5');
});

test('fields: each resource takes the fields Stripe lists, with their types', () => {
  assert.deepEqual(Object.keys(SEARCH_FIELDS).sort(), ['charges', 'customers', 'invoices', 'payment_intents', 'prices', 'products', 'subscriptions']);
  assert.deepEqual(Object.keys(SEARCH_FIELDS.customers), ['created', 'email', 'metadata', 'name', 'phone']);
  assert.deepEqual(Object.keys(SEARCH_FIELDS.payment_intents), ['amount', 'created', 'currency', 'customer', 'metadata', 'status']);
  assert.deepEqual(Object.keys(SEARCH_FIELDS.subscriptions), ['canceled_at', 'created', 'metadata', 'status']);
  assert.deepEqual(Object.keys(SEARCH_FIELDS.prices), ['active', 'currency', 'lookup_key', 'metadata', 'product', 'type']);
  assert.deepEqual(Object.keys(SEARCH_FIELDS.products), ['active', 'description', 'metadata', 'name', 'shippable', 'url']);
  assert.deepEqual(Object.keys(SEARCH_FIELDS.invoices), [
    'created', 'currency', 'customer', 'last_finalization_error_code', 'last_finalization_error_type', 'metadata', 'number',
    'receipt_number', 'status', 'subscription', 'total',
  ]);
  for (const source of ['card', 'card_present', 'interac_present']) {
    for (const k of ['last4', 'exp_month', 'exp_year', 'brand', 'fingerprint']) {
      assert.equal(SEARCH_FIELDS.charges[`payment_method_details.${source}.${k}`]?.type, 'token', `${source}.${k}`);
    }
  }
  assert.deepEqual(SEARCH_FIELDS.invoices.subscription.path, ['parent', 'subscription_details', 'subscription']);
  assert.deepEqual(SEARCH_FIELDS.invoices.last_finalization_error_code.path, ['last_finalization_error', 'code']);
});

test('compiling: operators by type, values by type, how each clause matches', () => {
  assert.deepEqual(compile('customers', `email:'A@b.com' -name~"ada" metadata['k']:'v' created>1609459200 phone:null`), {
    join: 'AND',
    clauses: [
      { p: ['email'], n: false, k: 'words', v: 'A@b.com' },
      { p: ['name'], n: true, k: 'substr', v: 'ada' },
      { p: ['metadata', 'k'], n: false, k: 'token', v: 'v' },
      { p: ['created'], n: false, k: 'num', o: '>', v: '1609459200' },
      { p: ['phone'], n: false, k: 'null' },
    ],
  });
  assert.deepEqual(compile('customers', `name:"  Ada \t Lovelace "`).clauses[0].v, 'Ada Lovelace');
  assert.deepEqual(compile('payment_intents', `amount:"1000"`).clauses[0], { p: ['amount'], n: false, k: 'num', o: '=', v: '1000' });
  assert.deepEqual(compile('charges', 'payment_method_details.card.last4:4242').clauses[0], { p: ['payment_method_details', 'card', 'last4'], n: false, k: 'token', v: '4242' });
  assert.deepEqual(compile('invoices', `subscription:"sub_1"`).clauses[0].p, ['parent', 'subscription_details', 'subscription']);
  assert.deepEqual(compile('charges', 'refunded:null').clauses[0], { p: ['refunded'], n: false, d: 'refund_state', k: 'null' }, 'derived by the SQL');
  assert.equal(compile('invoices', 'total<=5 OR total>=10').join, 'OR');
});

test('compiling refuses, naming query and the clause\'s position', () => {
  const cases: [string, string, RegExp][] = [
    ['customers', `email:'a' bogus:'x'`, /position 10 \('bogus:'x''\): bogus is not a search field of customers; its fields are created, email, metadata, name, phone/],
    ['customers', `amount>5`, /amount is not a search field of customers/],
    ['payment_intents', `metadata:'x'`, /metadata is searched by key/],
    ['payment_intents', `status~"succ"`, /status is a token field: it takes ':' \(exact match\), not '~'/],
    ['customers', `email>"a"`, /email is a string field: it takes ':' \(exact match\) and '~' \(substring\), not '>'/],
    ['payment_intents', `amount~"100"`, /amount is a numeric field: it takes ':', '>', '<', '>=' and '<=', not '~'/],
    ['payment_intents', `amount>"ten"`, /amount is a numeric field: its value must be a number, not 'ten'/],
    ['customers', `email~"ab"`, /a substring match needs at least 3 characters \('ab' has 2\)/],
    ['customers', `email>null`, /null can only be matched with ':'/],
    ['customers', `metadata['k']~"abc"`, /metadata\["k"\] is a token field/],
    ['customers', `constructor:'x'`, /constructor is not a search field/],
    ['customers', `__proto__:'x'`, /__proto__ is not a search field/],
  ];
  for (const [resource, q, message] of cases) refused(() => compile(resource, q), message);
});

// ---- properties -------------------------------------------------------------------------------

/** Text made of the language's own characters, so random strings reach deep into the parser. */
const queryish = fc.array(fc.oneof(
  fc.constantFrom('email', 'amount', 'metadata', '[', ']', "'", '"', '\\', ':', '~', '>', '<', '>=', '<=', '-', ' ', '\t', 'AND', 'or', 'null', '.', '10', 'x'),
  fc.string({ maxLength: 3 }),
  fc.string({ unit: 'grapheme', maxLength: 2 }),
), { maxLength: 25 }).map((parts) => parts.join(''));

test('property: any text parses or is a 400 naming query, never another error', () => {
  fc.assert(fc.property(fc.oneof(queryish, fc.string({ maxLength: 60 }), fc.string({ unit: 'binary', maxLength: 40 })), (s) => {
    try {
      const parsed = parseQuery(s);
      for (const resource of Object.keys(SEARCH_FIELDS)) {
        try { compileQuery(resource, s, parsed); } catch (e) { if (!(e instanceof ApiError) || e.status !== 400 || e.body.param !== 'query') throw e; }
      }
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 400 || e.body.param !== 'query') throw e;
    }
  }), fcOptions);
});

const fieldArb = fc.oneof(
  fc.record({ kind: fc.constant('path' as const), path: fc.stringMatching(/^[A-Za-z0-9_]{1,8}(\.[A-Za-z0-9_]{1,8}){0,2}$/) })
    .filter((f) => !/^(and|or)$/i.test(f.path) && !f.path.startsWith('metadata[')),
  fc.record({ kind: fc.constant('metadata' as const), key: fc.string({ minLength: 1, maxLength: 12 }) }),
);
const valueArb = fc.oneof(
  fc.record({ kind: fc.constant('string' as const), text: fc.string({ maxLength: 12 }) }),
  fc.record({ kind: fc.constant('number' as const), text: fc.stringMatching(/^-?\d{1,6}(\.\d{1,3})?$/) }),
  fc.constant({ kind: 'null' as const }),
);
const queryArb: fc.Arbitrary<SearchQuery> = fc.record({
  join: fc.constantFrom('AND' as const, 'OR' as const),
  clauses: fc.array(fc.record({
    negated: fc.boolean(), field: fieldArb, op: fc.constantFrom(':' as const, '~' as const, '>' as const, '<' as const, '>=' as const, '<=' as const), value: valueArb,
  }), { minLength: 1, maxLength: MAX_CLAUSES }),
}).map((q) => JSON.parse(JSON.stringify(q.clauses.length === 1 ? { ...q, join: 'AND' } : q)) as SearchQuery); // plain objects (fast-check's have no prototype)

test('property: a query printed and parsed again is the same AST (and prints the same)', () => {
  fc.assert(fc.property(queryArb, (q) => {
    const printed = printQuery(q);
    const back = parseQuery(printed).query;
    assert.deepEqual(back, q, printed);
    assert.equal(printQuery(back), printed);
  }), fcOptions);
  // And from text: whatever parses, re-printed, parses to what it parsed to.
  fc.assert(fc.property(queryish, (s) => {
    let q: SearchQuery;
    try { q = parseQuery(s).query; } catch { return; }
    assert.deepEqual(parseQuery(printQuery(q)).query, q, s);
  }), fcOptions);
});
