/**
 * Property tests for the bad-input rule: whatever parameters a client sends (random keys and
 * values, random nesting, unicode and control characters, odd amounts and currencies, garbage
 * encodings), form-encoded or as JSON, the server never answers 5xx; every answer is JSON with a
 * Request-Id, and every error is Stripe's `{"error":{"type","message",...}}`.
 *
 * fast-check prints the seed and path of a failure; replay one with FC_SEED=<seed> FC_PATH=<path>.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import qs from 'qs';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { send, assertOk, pct, REQUEST_ID, type Reply, type SendOptions } from '../helpers/stripe_errors.ts';

const NUM_RUNS = Number(process.env.FC_NUM_RUNS ?? 200);
const REQUEST_TIMEOUT_MS = 3_000;
/** Bounds a failing property's shrinking when each failing attempt waits for a request timeout. */
const TIME_LIMIT_MS = 25_000;

const fcOptions = {
  numRuns: NUM_RUNS,
  ...(process.env.FC_SEED ? { seed: Number(process.env.FC_SEED) } : {}),
  ...(process.env.FC_PATH ? { path: process.env.FC_PATH } : {}),
  plugins: [fc.interruptAfterTimeLimit(TIME_LIMIT_MS)],
};

let server: TestServer;
/** Real objects, so that random requests also reach the code behind "no such object". */
const real = { customer: '', intent: '', paidIntent: '', charge: '' };

before(async () => {
  server = await startTestServer();
  real.customer = assertOk(await send(server, 'POST', '/v1/customers', { body: 'email=prop@example.com' })).id;
  real.intent = assertOk(await send(server, 'POST', '/v1/payment_intents', { body: 'amount=5000&currency=usd' })).id;
  const paid = assertOk(await send(server, 'POST', '/v1/payment_intents', { body: 'amount=5000&currency=usd&confirm=true&payment_method=pm_card_visa' }));
  assert.equal(paid.status, 'succeeded');
  real.paidIntent = paid.id;
  real.charge = paid.latest_charge;
});
after(async () => { await server?.close(); });

// ---------------------------------------------------------------------------------------------
// The property: what every answer must look like.

const describeRequest = (method: string, path: string, opts: SendOptions) =>
  `${method} ${path.slice(0, 300)}${opts.body !== undefined ? ` [${opts.contentType ?? 'form'}] ${JSON.stringify(opts.body.slice(0, 300))}` : ''}`;

async function sendChecked(method: string, path: string, opts: SendOptions = {}): Promise<Reply> {
  const what = describeRequest(method, path, opts);
  const res = await send(server, method, path, { timeoutMs: REQUEST_TIMEOUT_MS, ...opts });
  const shown = `${what}\n  → HTTP ${res.status} ${res.text.slice(0, 300)}`;
  assert.ok(res.status < 500, `a client input got a ${res.status}:\n  ${shown}`);
  const id = res.headers.get('request-id');
  assert.ok(id && REQUEST_ID.test(id), `no Request-Id header:\n  ${shown}`);
  assert.ok(res.json !== undefined && typeof res.json === 'object' && res.json !== null, `the body is not JSON:\n  ${shown}`);
  if (res.status >= 400) {
    const error = res.json.error;
    assert.ok(error && typeof error === 'object', `an error without {"error":{...}}:\n  ${shown}`);
    assert.equal(typeof error.type, 'string', `error.type is not a string:\n  ${shown}`);
    assert.equal(typeof error.message, 'string', `error.message is not a string:\n  ${shown}`);
    if (error.param !== undefined) assert.equal(typeof error.param, 'string', `error.param is not a string:\n  ${shown}`);
    if (error.code !== undefined) assert.equal(typeof error.code, 'string', `error.code is not a string:\n  ${shown}`);
  }
  return res;
}

const postForm = (path: string, body: string) => sendChecked('POST', path, { body });
const postJson = (path: string, body: string) => sendChecked('POST', path, { body, contentType: 'application/json' });
const toForm = (params: unknown) => qs.stringify(params, { arrayFormat: 'indices' });

// ---------------------------------------------------------------------------------------------
// Arbitraries.

/** Characters that break naive parsers and stores: controls (NUL), encoding syntax, lone surrogates, astral. */
const tricky = fc.constantFrom(
  '\u0000', '\u0001', '\u001f', '\u007f', '\t', '\n', '\r', ' ', '[', ']', '&', '=', '%', '+', '?', '#', '"', "'", '\\',
  '/', '.', ';', ',', '\u00a0', '\u200b', '\u202e', '\ufeff', '\ud800', '\udfff', 'é', 'ß', '中', '🎉', '\u{10ffff}',
);
const char = fc.oneof(
  { weight: 5, arbitrary: fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 1 }) },
  { weight: 3, arbitrary: tricky },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
);
const text = fc.string({ unit: char, maxLength: 12 });
const longText = fc.oneof(
  fc.integer({ min: 0, max: 700 }).map((n) => 'x'.repeat(n)),
  fc.constantFrom('x'.repeat(5001), 'é'.repeat(501)),
);
const anyText = fc.oneof({ weight: 6, arbitrary: text }, { weight: 1, arbitrary: longText });

const ALL_NAMES = [
  'amount', 'currency', 'customer', 'description', 'metadata', 'payment_method', 'payment_method_types',
  'automatic_payment_methods', 'enabled', 'allow_redirects', 'capture_method', 'confirmation_method', 'confirm',
  'off_session', 'error_on_requires_action', 'receipt_email', 'return_url', 'statement_descriptor',
  'statement_descriptor_suffix', 'external_id', 'expand', 'email', 'name', 'phone', 'invoice_settings',
  'default_payment_method', 'charge', 'payment_intent', 'reason', 'intent', 'limit', 'starting_after', 'ending_before',
  'created', 'gt', 'gte', 'lt', 'lte', 'type', 'source', 'reference', 'id', 'object',
  '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', '0', '1', '', '[]', 'a[b]', '%zz',
];
const key = fc.oneof({ weight: 2, arbitrary: fc.constantFrom(...ALL_NAMES) }, { weight: 3, arbitrary: text });

const amountLike = fc.oneof(
  fc.integer({ min: 1, max: 99_999_999 }),
  fc.integer(),
  fc.double(),
  fc.bigInt().map(String),
  fc.constantFrom('1e20', '12.5', '-0', '0x10', ' 100', '100abc', '99999999', '100000000', '', '-1', '0', '9'.repeat(30), 'NaN', 'Infinity'),
  text,
);
const currencyLike = fc.oneof(
  fc.constantFrom('usd', 'eur', 'jpy', 'kwd', 'bhd', 'USD', 'Usd', 'xyz', 'US', '', 'usdd', 'us', 'u$d', 'us\u0000'),
  text,
);
const booleanLike = fc.constantFrom<unknown>('true', 'false', true, false, 'maybe', '1', 0, null, 'TRUE', '', []);
const paymentMethodLike = fc.oneof(
  // The test acquirer's fault cards (pm_card_oncepay_*) are left out: they simulate outages on purpose.
  fc.constantFrom('pm_card_visa', 'pm_card_mastercard', 'pm_card_visa_chargeDeclined', 'pm_card_authenticationRequired', 'pm_nope', ''),
  text,
);
const enumLike = (...values: string[]) => fc.oneof(fc.constantFrom(...values), text);
const idLike = (...ids: (() => string)[]) => fc.oneof(
  fc.constantFrom(...ids).map((f) => f()),
  text,
  fc.constantFrom('cus_', 'pi_', 'ch_', 're_').chain((prefix) => text.map((t) => prefix + t)),
);
const expandLike = fc.oneof(
  fc.array(fc.constantFrom('customer', 'latest_charge', 'payment_intent', 'charge', 'data.customer', 'balance_transaction', 'foo', ''), { maxLength: 3 }),
  text,
);

/** Any value: scalars of every JSON type, odd strings and numbers, arrays and hashes nested up to ~8 deep. */
const scalar = fc.oneof(text, fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.constant(''), amountLike);
const anyValue: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', maxDepth: 8 },
    { weight: 4, arbitrary: scalar },
    { weight: 1, arbitrary: fc.array(tie('value'), { maxLength: 3 }) },
    { weight: 1, arbitrary: fc.dictionary(key, tie('value'), { maxKeys: 3 }) },
  ),
})).value;

const metadataLike = fc.oneof(
  { weight: 4, arbitrary: fc.dictionary(fc.oneof(key, longText), fc.oneof(anyText, fc.integer(), fc.boolean(), fc.constant(null), anyValue), { maxKeys: 5 }) },
  { weight: 1, arbitrary: fc.integer({ min: 45, max: 55 }).map((n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 'v']))) },
  { weight: 1, arbitrary: anyValue },
);

/** A known parameter usually gets a value of roughly its type, sometimes anything at all. */
const sometimesAnything = <T>(arb: fc.Arbitrary<T>) => fc.oneof({ weight: 4, arbitrary: arb as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: anyValue });

/** A parameter map: some of the endpoint's known parameters, and now and then unknown ones. */
function parameterMap(known: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<Record<string, unknown>> {
  const shape = Object.fromEntries(Object.entries(known).map(([k, a]) => [k, sometimesAnything(a)]));
  return fc.tuple(
    fc.record(shape, { requiredKeys: [] }),
    fc.oneof({ weight: 3, arbitrary: fc.constant({}) }, { weight: 1, arbitrary: fc.dictionary(key, anyValue, { minKeys: 1, maxKeys: 3 }) }),
  ).map(([params, extra]) => ({ ...params, ...extra }));
}

const paymentIntentParams = parameterMap({
  amount: amountLike,
  currency: currencyLike,
  customer: idLike(() => real.customer),
  description: anyText,
  metadata: metadataLike,
  payment_method: paymentMethodLike,
  payment_method_types: fc.oneof(fc.constant(['card']), fc.array(enumLike('card', 'bitcoin'), { maxLength: 3 }), text),
  automatic_payment_methods: fc.oneof(fc.record({ enabled: booleanLike, allow_redirects: enumLike('always', 'never') }, { requiredKeys: [] }), anyValue),
  capture_method: enumLike('automatic', 'automatic_async', 'manual'),
  confirmation_method: enumLike('automatic', 'manual'),
  confirm: booleanLike,
  off_session: fc.oneof(booleanLike, text),
  error_on_requires_action: booleanLike,
  receipt_email: anyText,
  return_url: anyText,
  statement_descriptor: anyText,
  statement_descriptor_suffix: anyText,
  external_id: anyText,
  expand: expandLike,
});

const customerParams = parameterMap({
  description: anyText,
  email: anyText,
  name: anyText,
  phone: anyText,
  metadata: metadataLike,
  payment_method: paymentMethodLike,
  invoice_settings: fc.oneof(fc.record({ default_payment_method: paymentMethodLike }, { requiredKeys: [] }), anyValue),
  expand: expandLike,
});

const refundParams = parameterMap({
  charge: idLike(() => real.charge),
  payment_intent: idLike(() => real.paidIntent, () => real.intent),
  amount: amountLike,
  reason: enumLike('duplicate', 'fraudulent', 'requested_by_customer'),
  metadata: metadataLike,
  external_id: anyText,
  expand: expandLike,
});

const confirmParams = parameterMap({
  payment_method: paymentMethodLike,
  capture_method: enumLike('automatic', 'automatic_async', 'manual'),
  receipt_email: anyText,
  return_url: anyText,
  off_session: fc.oneof(booleanLike, text),
  error_on_requires_action: booleanLike,
  expand: expandLike,
});

/** An id in a URL: a real one, an unknown one (percent-encoded), or raw path garbage. */
const pathId = (realId: () => string) => fc.oneof(
  { weight: 2, arbitrary: fc.constant(null).map(realId) },
  { weight: 3, arbitrary: text.map(pct) },
  { weight: 1, arbitrary: fc.constantFrom('%', '%zz', '%ED%A0%80', '%00', '..', '.', '', 'x'.repeat(300)) },
);

const createdLike = fc.oneof(
  amountLike,
  fc.record({ gt: amountLike, gte: amountLike, lt: amountLike, lte: amountLike }, { requiredKeys: [] }),
);
const listParams = parameterMap({
  limit: fc.oneof(fc.integer({ min: -5, max: 110 }), amountLike),
  starting_after: idLike(() => real.intent, () => real.customer, () => real.charge),
  ending_before: idLike(() => real.intent, () => real.customer, () => real.charge),
  created: createdLike,
  expand: expandLike,
  customer: idLike(() => real.customer),
  email: anyText,
  payment_intent: idLike(() => real.paidIntent),
  charge: idLike(() => real.charge),
  type: enumLike('charge', 'refund'),
  source: idLike(() => real.charge),
  reference: idLike(() => real.paidIntent),
});
const GET_PATHS = [
  '/v1/payment_intents', '/v1/customers', '/v1/charges', '/v1/refunds', '/v1/balance_transactions', '/v1/balance',
  '/v1/test_helpers/acquirer_ledger',
];

/** Hand-built form text: fragments of broken encodings, real parameters, raw random text, random separators. */
const garbageForm = fc.array(
  fc.oneof(
    fc.constantFrom(
      '%zz', 'a[=1', '&&&', '[]=', '=', 'a]=1', 'a[b]]=1', 'a[[b]=1', '%', '%%', '+', 'a=%E0%A4%A', 'a=%ED%A0%80', 'a=%FF',
      'amount=1000', 'currency=usd', 'amount=', 'currency=', 'metadata[x]=y', 'metadata[]=y', 'metadata[x][y]=z', 'a[0]=1&a[x]=2',
      'expand[]=customer', 'expand[0]=', 'amount[]=1', 'a[101]=1', 'expand[101]=x', '__proto__[x]=1', 'constructor[prototype][x]=1',
      'toString=1', 'a[b][c][d][e][f][g]=1', 'x'.repeat(50) + '[y]=1', 'payment_method=pm_card_visa', 'confirm=true',
      'charge=' + 'ch_x', 'description=%00', 'limit=5', 'created[gt]=1',
    ),
    text,
    text.map(pct),
  ),
  { maxLength: 10 },
).chain((parts) => fc.constantFrom('&', ';', '', '&&').map((sep) => parts.join(sep)));

/** JSON-ish text: valid JSON of every shape, truncated JSON, JSON with garbage appended, random text. */
const garbageJson = fc.oneof(
  fc.json({ maxDepth: 8 }),
  fc.tuple(fc.json(), fc.nat()).map(([j, n]) => j.slice(0, n % (j.length + 1))),
  fc.tuple(fc.json(), text).map(([j, t]) => j + t),
  fc.tuple(fc.integer({ min: 1, max: 2_000 }), fc.constantFrom('[', '{"a":')).map(([n, open]) => open.repeat(n)),
  text,
);

const POST_PATHS = () => ['/v1/payment_intents', '/v1/customers', '/v1/refunds', `/v1/payment_intents/${real.intent}/confirm`];

// ---------------------------------------------------------------------------------------------
// Properties.

test('POST /v1/payment_intents: random parameter maps, form-encoded and JSON, never get a 5xx and always get Stripe-shaped errors', async () => {
  await fc.assert(fc.asyncProperty(paymentIntentParams, async (params) => {
    await postForm('/v1/payment_intents', toForm(params));
    await postJson('/v1/payment_intents', JSON.stringify(params));
  }), fcOptions);
});

test('POST /v1/customers: random parameter maps, form-encoded and JSON, never get a 5xx and always get Stripe-shaped errors', async () => {
  await fc.assert(fc.asyncProperty(customerParams, async (params) => {
    await postForm('/v1/customers', toForm(params));
    await postJson('/v1/customers', JSON.stringify(params));
  }), fcOptions);
});

test('POST /v1/refunds: random parameter maps, form-encoded and JSON, never get a 5xx and always get Stripe-shaped errors', async () => {
  await fc.assert(fc.asyncProperty(refundParams, async (params) => {
    await postForm('/v1/refunds', toForm(params));
    await postJson('/v1/refunds', JSON.stringify(params));
  }), fcOptions);
});

test('POST /v1/payment_intents/:id/confirm: random ids and parameter maps, form-encoded and JSON, never get a 5xx', async () => {
  await fc.assert(fc.asyncProperty(pathId(() => real.intent), confirmParams, async (id, params) => {
    await postForm(`/v1/payment_intents/${id}/confirm`, toForm(params));
    await postJson(`/v1/payment_intents/${id}/confirm`, JSON.stringify(params));
  }), fcOptions);
});

test('hand-built garbage form bodies to every POST endpoint never get a 5xx', async () => {
  await fc.assert(fc.asyncProperty(fc.constantFrom(0, 1, 2, 3), garbageForm, async (i, body) => {
    await postForm(POST_PATHS()[i], body);
  }), fcOptions);
});

test('garbage JSON bodies (any JSON value, truncated, with trailing junk) to every POST endpoint never get a 5xx', async () => {
  await fc.assert(fc.asyncProperty(fc.constantFrom(0, 1, 2, 3), garbageJson, async (i, body) => {
    await postJson(POST_PATHS()[i], body);
  }), fcOptions);
});

test('GET list endpoints with random query strings (encoded maps and hand-built garbage) never get a 5xx', async () => {
  const query = fc.oneof(listParams.map(toForm), garbageForm);
  await fc.assert(fc.asyncProperty(fc.constantFrom(...GET_PATHS), query, async (path, q) => {
    await sendChecked('GET', `${path}?${q}`);
  }), fcOptions);
});

test('GET retrieve endpoints with random ids and query strings never get a 5xx', async () => {
  const target = fc.oneof(
    pathId(() => real.intent).map((id) => `/v1/payment_intents/${id}`),
    pathId(() => real.customer).map((id) => `/v1/customers/${id}`),
    pathId(() => real.charge).map((id) => `/v1/charges/${id}`),
    pathId(() => 're_x').map((id) => `/v1/refunds/${id}`),
  );
  const query = fc.oneof(
    fc.record({ expand: expandLike, client_secret: anyText }, { requiredKeys: [] }).map(toForm),
    garbageForm,
  );
  await fc.assert(fc.asyncProperty(target, query, async (path, q) => {
    await sendChecked('GET', `${path}?${q}`);
  }), fcOptions);
});
