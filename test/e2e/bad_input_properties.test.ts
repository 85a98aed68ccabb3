/**
 * Property tests for the bad-input rule: whatever parameters a client sends (random keys and
 * values, random nesting, unicode and control characters, odd amounts and currencies, garbage
 * encodings), form-encoded or as JSON, the server never answers 5xx; every answer is JSON with a
 * Request-Id, and every error is Stripe's `{"error":{"type","message",...}}`.
 *
 * fast-check prints the seed and path of a failure; replay one with FC_SEED=<seed> FC_PATH=<path>.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import qs from 'qs';
import { useTestServer } from '../helpers/server.ts';
import { send, assertOk, pct, REQUEST_ID, type Reply, type SendOptions } from '../helpers/stripe_errors.ts';

const NUM_RUNS = Number(process.env.FC_NUM_RUNS ?? 150);
/** Generous for a loaded machine; a request the server drops or never answers fails the property after this. */
const REQUEST_TIMEOUT_MS = 10_000;
/** Bounds a failing property's shrinking when each failing attempt waits for a request timeout. */
const TIME_LIMIT_MS = 30_000;

const fcOptions = {
  numRuns: NUM_RUNS,
  ...(process.env.FC_SEED ? { seed: Number(process.env.FC_SEED) } : {}),
  ...(process.env.FC_PATH ? { path: process.env.FC_PATH } : {}),
  plugins: [fc.interruptAfterTimeLimit(TIME_LIMIT_MS)],
  includeErrorInReport: true,
};

/** Real objects, so that random requests also reach the code behind "no such object". */
const real = { customer: '', intent: '', paidIntent: '', charge: '' };

const { server } = useTestServer({
  setup: async (srv) => {
    real.customer = assertOk(await send(srv, 'POST', '/v1/customers', { body: 'email=prop@example.com' })).id;
    real.intent = assertOk(await send(srv, 'POST', '/v1/payment_intents', { body: 'amount=5000&currency=usd' })).id;
    const paid = assertOk(await send(srv, 'POST', '/v1/payment_intents', { body: 'amount=99999999&currency=usd&confirm=true&payment_method=pm_card_visa' }));
    assert.equal(paid.status, 'succeeded');
    real.paidIntent = paid.id;
    real.charge = paid.latest_charge;
  },
});

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

/**
 * A parameter map that is valid in shape (so that requests get past validation and reach the
 * code that stores things, with random unicode in every free-text field), then changed by up to
 * two mutations: a known parameter set to an odd or arbitrary value, an unknown parameter added,
 * or a parameter removed.
 */
interface Field {
  valid: fc.Arbitrary<unknown>;
  odd?: fc.Arbitrary<unknown>;
}
function parameterMap(
  fields: Record<string, Field>, required: string[] = [], extra: fc.Arbitrary<Record<string, unknown>> = fc.constant({}),
): fc.Arbitrary<Record<string, unknown>> {
  const names = Object.keys(fields);
  const base = fc.tuple(fc.record(Object.fromEntries(names.map((k) => [k, fields[k].valid])), { requiredKeys: required }), extra)
    .map(([params, more]) => ({ ...params, ...more }));
  const mutation = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...names).chain((k) => fc.oneof(fields[k].odd ?? anyValue, anyValue).map((v) => ({ set: k, value: v }))) },
    { weight: 1, arbitrary: fc.tuple(key, anyValue).map(([k, v]) => ({ set: k, value: v })) },
    { weight: 1, arbitrary: fc.constantFrom(...names).map((k) => ({ remove: k })) },
  );
  return fc.tuple(base, fc.array(mutation, { maxLength: 2 })).map(([params, mutations]) => {
    const out: Record<string, unknown> = { ...params };
    for (const m of mutations) {
      if ('remove' in m) delete out[m.remove];
      else Object.defineProperty(out, m.set, { value: m.value, enumerable: true, writable: true, configurable: true });
    }
    return out;
  });
}

const freeText = (max: number) => fc.string({ unit: char, maxLength: Math.min(max, 40) });
const nonEmptyFreeText = (max: number) => fc.string({ unit: char, minLength: 1, maxLength: Math.min(max, 40) });
const validMetadata = fc.dictionary(nonEmptyFreeText(40), freeText(500), { maxKeys: 4 });
const validPaymentMethod = fc.constantFrom('pm_card_visa', 'pm_card_mastercard', 'pm_card_visa_chargeDeclined', 'pm_card_authenticationRequired');
const captureMethod = fc.constantFrom('automatic', 'automatic_async', 'manual');
const offSession = fc.constantFrom<unknown>('true', 'false', 'one_off', 'recurring', true);
const thunk = (f: () => string) => fc.constant(null).map(() => f());
const none = fc.constant(undefined);

const paymentIntentParams = parameterMap({
  amount: { valid: fc.integer({ min: 1, max: 99_999_999 }), odd: amountLike },
  currency: { valid: fc.constantFrom('usd', 'eur', 'jpy', 'kwd', 'USD'), odd: currencyLike },
  customer: { valid: thunk(() => real.customer), odd: idLike(() => real.customer) },
  description: { valid: freeText(1000), odd: anyText },
  metadata: { valid: validMetadata, odd: metadataLike },
  payment_method: { valid: validPaymentMethod, odd: paymentMethodLike },
  payment_method_types: { valid: fc.constant(['card']), odd: fc.oneof(fc.array(enumLike('card', 'bitcoin'), { maxLength: 3 }), text) },
  automatic_payment_methods: {
    valid: fc.record({ enabled: fc.boolean(), allow_redirects: fc.constantFrom('always', 'never') }, { requiredKeys: ['enabled'] }),
    odd: fc.record({ enabled: booleanLike, allow_redirects: enumLike('always', 'never') }, { requiredKeys: [] }),
  },
  capture_method: { valid: captureMethod, odd: enumLike('automatic', 'manual') },
  confirmation_method: { valid: fc.constantFrom('automatic', 'manual'), odd: text },
  confirm: { valid: fc.boolean(), odd: booleanLike },
  off_session: { valid: offSession, odd: booleanLike },
  error_on_requires_action: { valid: fc.boolean(), odd: booleanLike },
  receipt_email: { valid: freeText(800), odd: anyText },
  return_url: { valid: freeText(2048), odd: anyText },
  statement_descriptor: { valid: freeText(22), odd: anyText },
  statement_descriptor_suffix: { valid: freeText(22), odd: anyText },
  external_id: { valid: nonEmptyFreeText(255), odd: anyText },
  expand: { valid: fc.subarray(['customer', 'latest_charge']), odd: expandLike },
}, ['amount', 'currency']);

const customerParams = parameterMap({
  description: { valid: freeText(350), odd: anyText },
  email: { valid: freeText(512), odd: anyText },
  name: { valid: freeText(256), odd: anyText },
  phone: { valid: freeText(20), odd: anyText },
  metadata: { valid: validMetadata, odd: metadataLike },
  payment_method: { valid: validPaymentMethod, odd: paymentMethodLike },
  invoice_settings: {
    valid: fc.record({ default_payment_method: fc.oneof(validPaymentMethod, fc.constant('')) }, { requiredKeys: [] }),
    odd: fc.record({ default_payment_method: paymentMethodLike }, { requiredKeys: [] }),
  },
  expand: { valid: fc.constant([]), odd: expandLike },
});

const refundParams = parameterMap({
  // A valid refund names one target; mutations add the other, drop it, or make it odd.
  charge: { valid: none, odd: idLike(() => real.charge) },
  payment_intent: { valid: none, odd: idLike(() => real.paidIntent, () => real.intent) },
  amount: { valid: fc.integer({ min: 1, max: 1_000 }), odd: amountLike },
  reason: { valid: fc.constantFrom('duplicate', 'fraudulent', 'requested_by_customer'), odd: text },
  metadata: { valid: validMetadata, odd: metadataLike },
  external_id: { valid: nonEmptyFreeText(255), odd: anyText },
  expand: { valid: fc.subarray(['charge', 'payment_intent']), odd: expandLike },
}, ['amount'], fc.oneof(fc.constant(null).map(() => ({ charge: real.charge })), fc.constant(null).map(() => ({ payment_intent: real.paidIntent }))));

const confirmParams = parameterMap({
  payment_method: { valid: validPaymentMethod, odd: paymentMethodLike },
  capture_method: { valid: captureMethod, odd: text },
  receipt_email: { valid: freeText(800), odd: anyText },
  return_url: { valid: freeText(2048), odd: anyText },
  off_session: { valid: offSession, odd: booleanLike },
  error_on_requires_action: { valid: fc.boolean(), odd: booleanLike },
  expand: { valid: fc.subarray(['customer', 'latest_charge']), odd: expandLike },
});

/** An id in a URL: a real one, an unknown one (percent-encoded), or raw path garbage. */
const pathId = (realId: () => string) => fc.oneof(
  { weight: 2, arbitrary: thunk(realId) },
  { weight: 2, arbitrary: text.map(pct) },
  { weight: 1, arbitrary: fc.constantFrom('%', '%zz', '%ED%A0%80', '%00', '..', '.', '', 'x'.repeat(300)) },
);

const timestamp = fc.integer({ min: 0, max: 4_000_000_000 });
const COMMON_LIST_FIELDS: Record<string, Field> = {
  limit: { valid: fc.integer({ min: 1, max: 100 }), odd: fc.oneof(fc.integer({ min: -5, max: 110 }), amountLike) },
  // Cursors only come in through mutations: a valid one must name an object of the listed kind.
  starting_after: { valid: none, odd: idLike(() => real.intent, () => real.customer, () => real.charge) },
  ending_before: { valid: none, odd: idLike(() => real.intent, () => real.customer, () => real.charge) },
  created: {
    valid: fc.oneof(timestamp, fc.record({ gt: timestamp, gte: timestamp, lt: timestamp, lte: timestamp }, { requiredKeys: [] })),
    odd: fc.oneof(amountLike, fc.record({ gt: amountLike, lte: amountLike, foo: amountLike }, { requiredKeys: [] })),
  },
  expand: { valid: fc.constant([]), odd: expandLike },
};
const LIST_ENDPOINTS: Record<string, fc.Arbitrary<Record<string, unknown>>> = {
  '/v1/payment_intents': parameterMap({
    ...COMMON_LIST_FIELDS,
    customer: { valid: thunk(() => real.customer), odd: idLike(() => real.customer) },
  }),
  '/v1/customers': parameterMap({ ...COMMON_LIST_FIELDS, email: { valid: freeText(512), odd: anyText } }),
  '/v1/charges': parameterMap({
    ...COMMON_LIST_FIELDS,
    payment_intent: { valid: thunk(() => real.paidIntent), odd: idLike(() => real.paidIntent) },
    customer: { valid: thunk(() => real.customer), odd: idLike(() => real.customer) },
  }),
  '/v1/refunds': parameterMap({
    ...COMMON_LIST_FIELDS,
    charge: { valid: thunk(() => real.charge), odd: idLike(() => real.charge) },
    payment_intent: { valid: thunk(() => real.paidIntent), odd: idLike(() => real.paidIntent) },
  }),
  '/v1/balance_transactions': parameterMap({
    ...COMMON_LIST_FIELDS,
    type: { valid: fc.constantFrom('charge', 'refund'), odd: text },
    source: { valid: thunk(() => real.charge), odd: idLike(() => real.charge) },
  }),
  '/v1/test_helpers/acquirer_ledger': parameterMap({ reference: { valid: thunk(() => real.paidIntent), odd: idLike(() => real.paidIntent) } }),
  '/v1/balance': parameterMap({ expand: { valid: fc.constant([]), odd: expandLike } }),
};

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

async function freshIntent(): Promise<string> {
  return assertOk(await send(server, 'POST', '/v1/payment_intents', { body: 'amount=2000&currency=usd', timeoutMs: REQUEST_TIMEOUT_MS })).id;
}
const FRESH = '<fresh intent>';

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
  const target = fc.oneof({ weight: 3, arbitrary: fc.constant(FRESH) }, { weight: 2, arbitrary: pathId(() => real.intent) });
  await fc.assert(fc.asyncProperty(target, confirmParams, async (id, params) => {
    await postForm(`/v1/payment_intents/${id === FRESH ? await freshIntent() : id}/confirm`, toForm(params));
    await postJson(`/v1/payment_intents/${id === FRESH ? await freshIntent() : id}/confirm`, JSON.stringify(params));
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

test('GET list endpoints with random query strings (encoded parameter maps and hand-built garbage) never get a 5xx', async () => {
  const request = fc.constantFrom(...Object.keys(LIST_ENDPOINTS)).chain((path) => fc.oneof(
    { weight: 3, arbitrary: LIST_ENDPOINTS[path].map((params) => `${path}?${toForm(params)}`) },
    { weight: 1, arbitrary: garbageForm.map((q) => `${path}?${q}`) },
  ));
  await fc.assert(fc.asyncProperty(request, async (url) => {
    await sendChecked('GET', url);
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
