/**
 * The bad-input rule: never a 500 for anything a client can send. Every bad input answers
 * Stripe's error shape `{"error":{"type","code"?,"message","param"?}}` naming the parameter,
 * carries a Request-Id, and leaves nothing half-written.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { useTestServer } from '../helpers/server.ts';
import { send, assertStripeError, assertOk, assertRequestId, pct, type Reply, type SendOptions } from '../helpers/stripe_errors.ts';

const MiB = 1024 * 1024;
const JSON_TYPE = 'application/json';

const { server } = useTestServer();

const post = (path: string, body: string, opts: SendOptions = {}) => send(server, 'POST', path, { body, ...opts });
const postJson = (path: string, value: unknown, opts: SendOptions = {}) =>
  send(server, 'POST', path, { body: typeof value === 'string' ? value : JSON.stringify(value), contentType: JSON_TYPE, ...opts });
const get = (path: string, opts: SendOptions = {}) => send(server, 'GET', path, opts);

const VALID_PI = 'amount=1000&currency=usd';

async function newIntent(extra = ''): Promise<string> {
  return assertOk(await post('/v1/payment_intents', `${VALID_PI}${extra}`)).id;
}

describe('malformed and unsupported request bodies', () => {
  test('malformed JSON answers 400 invalid_request_error', async () => {
    for (const body of ['{bad', '{"amount": 100,', '{"amount":100}}', "{'amount':100}", '{"a":1,}', 'undefined', 'NaN', '\u0000', '{"amount":100 "currency":"usd"}']) {
      assertStripeError(await postJson('/v1/payment_intents', body), { status: 400 });
    }
  });

  test('JSON that is not an object (array, number, string, null, boolean) answers 400', async () => {
    for (const body of ['[]', '[1,2]', '[{"amount":100,"currency":"usd"}]', '42', '-1.5', '"amount=100"', 'null', 'true']) {
      assertStripeError(await postJson('/v1/payment_intents', body), { status: 400 });
    }
  });

  test('an empty or whitespace JSON body means no parameters: the first required one is missing', async () => {
    for (const body of ['', '   ', '{}']) {
      assertStripeError(await postJson('/v1/payment_intents', body), { status: 400, code: 'parameter_missing', param: 'amount' });
    }
  });

  test('a form body sent as application/json is malformed JSON', async () => {
    assertStripeError(await postJson('/v1/payment_intents', VALID_PI), { status: 400 });
  });

  test('a JSON body sent as a form is one unknown parameter, named', async () => {
    const body = '{"amount":100,"currency":"usd"}';
    assertStripeError(await post('/v1/payment_intents', body), { status: 400, code: 'parameter_unknown', param: body });
  });

  test('garbage form encodings are refused as unknown parameters, never a 500', async () => {
    assertStripeError(await post('/v1/payment_intents', `${VALID_PI}&%zz=1`), { status: 400, code: 'parameter_unknown', param: '%zz' });
    for (const garbage of ['a[=1', '[]=', ']=1', 'a]]=1', '%=%', '%zz=1&a[=1&&&[]=', '+=+', 'a[b]c=1']) {
      assertStripeError(await post('/v1/payment_intents', `${VALID_PI}&${garbage}`), { status: 400, code: 'parameter_unknown', param: /./ });
    }
  });

  test('a form body of only separators and empty pairs carries no parameters', async () => {
    for (const body of ['&&&', '&', '=', '&=&=']) {
      assertStripeError(await post('/v1/payment_intents', body), { status: 400, code: 'parameter_missing', param: 'amount' });
    }
  });

  test('unsupported content types answer 400', async () => {
    for (const contentType of ['text/plain', 'text/xml', 'multipart/form-data; boundary=x', 'application/octet-stream', 'application/jsonx', 'application/xml', ';;;', 'x']) {
      assertStripeError(await post('/v1/payment_intents', VALID_PI, { contentType }), { status: 400 });
    }
  });

  test('charset parameters on the two supported content types are accepted', async () => {
    assertOk(await post('/v1/payment_intents', VALID_PI, { contentType: 'application/x-www-form-urlencoded; charset=utf-8' }));
    assertOk(await postJson('/v1/payment_intents', { amount: 1000, currency: 'usd' }, { contentType: 'application/json; charset=UTF-8' }));
  });
});

describe('parameters of the wrong type are refused naming the parameter', () => {
  const formCases: [string, string, string, string | undefined, string][] = [
    // [path suffix, body, param, code, what]
    ['/v1/payment_intents', 'amount=abc&currency=usd', 'amount', 'parameter_invalid_integer', 'amount=abc'],
    ['/v1/payment_intents', 'amount[]=1&currency=usd', 'amount', 'parameter_invalid_integer', 'amount as an array'],
    ['/v1/payment_intents', 'amount[x]=1&currency=usd', 'amount', 'parameter_invalid_integer', 'amount as a hash'],
    ['/v1/payment_intents', 'amount=100&amount=200&currency=usd', 'amount', 'parameter_invalid_integer', 'amount given twice'],
    ['/v1/payment_intents', 'amount=0x10&currency=usd', 'amount', 'parameter_invalid_integer', 'amount in hex'],
    ['/v1/payment_intents', 'amount=&currency=usd', 'amount', 'parameter_invalid_integer', 'amount empty'],
    ['/v1/payment_intents', `${VALID_PI}&metadata=notahash`, 'metadata', 'parameter_invalid_hash', 'metadata=notahash'],
    ['/v1/payment_intents', `${VALID_PI}&confirm=maybe`, 'confirm', 'parameter_invalid_boolean', 'confirm=maybe'],
    ['/v1/payment_intents', `${VALID_PI}&confirm=1`, 'confirm', 'parameter_invalid_boolean', 'confirm=1'],
    ['/v1/payment_intents', `${VALID_PI}&payment_method_types=card`, 'payment_method_types', 'parameter_invalid_array', 'payment_method_types not an array'],
    ['/v1/payment_intents', `${VALID_PI}&payment_method_types[0]=bitcoin`, 'payment_method_types[0]', undefined, 'unknown payment method type'],
    ['/v1/payment_intents', `${VALID_PI}&automatic_payment_methods=1`, 'automatic_payment_methods', 'parameter_invalid_hash', 'automatic_payment_methods not a hash'],
    ['/v1/payment_intents', `${VALID_PI}&automatic_payment_methods[enabled]=yes`, 'automatic_payment_methods[enabled]', 'parameter_invalid_boolean', 'nested boolean'],
    ['/v1/payment_intents', `${VALID_PI}&capture_method=sometimes`, 'capture_method', undefined, 'capture_method not in the enum'],
    ['/v1/payment_intents', `${VALID_PI}&description[x]=1`, 'description', 'parameter_invalid_string', 'description as a hash'],
    ['/v1/payment_intents', `${VALID_PI}&description=${'x'.repeat(1001)}`, 'description', 'parameter_invalid_string', 'description too long'],
    ['/v1/payment_intents', `${VALID_PI}&statement_descriptor=${'x'.repeat(23)}`, 'statement_descriptor', 'parameter_invalid_string', 'statement_descriptor too long'],
    ['/v1/payment_intents', `${VALID_PI}&expand=customer`, 'expand', 'parameter_invalid_array', 'expand not an array'],
    ['/v1/payment_intents', `${VALID_PI}&expand[0][a]=customer`, 'expand[0]', 'parameter_invalid_string', 'expand item as a hash'],
    ['/v1/payment_intents', `${VALID_PI}&payment_method=pm_nope`, 'payment_method', 'resource_missing', 'unknown payment method'],
    ['/v1/customers', 'email[]=x', 'email', 'parameter_invalid_string', 'customer email as an array'],
    ['/v1/customers', 'invoice_settings=x', 'invoice_settings', 'parameter_invalid_hash', 'invoice_settings not a hash'],
    ['/v1/customers', `phone=${'1'.repeat(21)}`, 'phone', 'parameter_invalid_string', 'phone too long'],
    ['/v1/refunds', 'payment_intent=pi_x&amount=abc', 'amount', 'parameter_invalid_integer', 'refund amount=abc'],
    ['/v1/refunds', 'payment_intent=pi_x&reason=because', 'reason', undefined, 'refund reason not in the enum'],
    ['/v1/refunds', 'payment_intent[]=pi_x', 'payment_intent', 'parameter_invalid_string', 'refund payment_intent as an array'],
  ];
  for (const [path, body, param, code, what] of formCases) {
    test(`form: ${what} → 400 naming ${param}`, async () => {
      assertStripeError(await post(path, body), { status: 400, param, code });
    });
  }

  const jsonCases: [Record<string, unknown>, string, string | undefined][] = [
    [{ amount: 'abc', currency: 'usd' }, 'amount', 'parameter_invalid_integer'],
    [{ amount: true, currency: 'usd' }, 'amount', 'parameter_invalid_integer'],
    [{ amount: null, currency: 'usd' }, 'amount', 'parameter_invalid_integer'],
    [{ amount: [100], currency: 'usd' }, 'amount', 'parameter_invalid_integer'],
    [{ amount: { value: 100 }, currency: 'usd' }, 'amount', 'parameter_invalid_integer'],
    [{ amount: 100, currency: ['usd'] }, 'currency', 'parameter_invalid_currency'],
    [{ amount: 100, currency: 840 }, 'currency', 'parameter_invalid_currency'],
    [{ amount: 100, currency: 'usd', metadata: [1] }, 'metadata', 'parameter_invalid_hash'],
    [{ amount: 100, currency: 'usd', metadata: 'notahash' }, 'metadata', 'parameter_invalid_hash'],
    [{ amount: 100, currency: 'usd', confirm: 'maybe' }, 'confirm', 'parameter_invalid_boolean'],
    [{ amount: 100, currency: 'usd', confirm: 1 }, 'confirm', 'parameter_invalid_boolean'],
    [{ amount: 100, currency: 'usd', payment_method_types: 'card' }, 'payment_method_types', 'parameter_invalid_array'],
    [{ amount: 100, currency: 'usd', description: { a: 1 } }, 'description', 'parameter_invalid_string'],
    [{ amount: 100, currency: 'usd', expand: 'customer' }, 'expand', 'parameter_invalid_array'],
  ];
  for (const [body, param, code] of jsonCases) {
    test(`JSON: ${JSON.stringify(body)} → 400 naming ${param}`, async () => {
      assertStripeError(await postJson('/v1/payment_intents', body), { status: 400, param, code });
    });
  }

  test('confirm: wrong types are refused naming the parameter', async () => {
    const pi = await newIntent();
    assertStripeError(await post(`/v1/payment_intents/${pi}/confirm`, 'payment_method[]=pm_card_visa'), { status: 400, param: 'payment_method', code: 'parameter_invalid_string' });
    assertStripeError(await post(`/v1/payment_intents/${pi}/confirm`, 'payment_method=pm_card_visa&error_on_requires_action=maybe'), { status: 400, param: 'error_on_requires_action', code: 'parameter_invalid_boolean' });
    assertStripeError(await post(`/v1/payment_intents/${pi}/confirm`, 'payment_method=pm_card_visa&capture_method=later'), { status: 400, param: 'capture_method' });
    assertStripeError(await post(`/v1/payment_intents/${pi}/confirm`, 'payment_method=pm_does_not_exist'), { status: 400, param: 'payment_method', code: 'resource_missing' });
  });

  test('list query strings: wrong types are refused naming the parameter', async () => {
    const cases: [string, string, string | undefined][] = [
      ['/v1/payment_intents?limit=abc', 'limit', 'parameter_invalid_integer'],
      ['/v1/payment_intents?limit=0', 'limit', 'parameter_invalid_integer'],
      ['/v1/payment_intents?limit=101', 'limit', 'parameter_invalid_integer'],
      ['/v1/payment_intents?limit=1.5', 'limit', 'parameter_invalid_integer'],
      ['/v1/customers?limit[]=1', 'limit', 'parameter_invalid_integer'],
      ['/v1/charges?created=-1', 'created', 'parameter_invalid_integer'],
      ['/v1/charges?created[gt]=abc', 'created[gt]', 'parameter_invalid_integer'],
      ['/v1/refunds?created=99999999999999999', 'created', 'parameter_invalid_integer'],
      ['/v1/payment_intents?starting_after=', 'starting_after', 'parameter_invalid_empty'],
      ['/v1/payment_intents?starting_after=pi_nope', 'starting_after', 'resource_missing'],
      ['/v1/payment_intents?ending_before=pi_a&starting_after=pi_b', 'ending_before', undefined],
      ['/v1/balance_transactions?type=foo', 'type', undefined],
      ['/v1/payment_intents?expand=data.customer', 'expand', 'parameter_invalid_array'],
    ];
    for (const [path, param, code] of cases) assertStripeError(await get(path), { status: 400, param, code });
  });

  test('the official stripe client surfaces these errors with type, code, param and request id', async () => {
    const stripe = server.stripe();
    await assert.rejects(
      stripe.paymentIntents.create({ amount: 'abc' as unknown as number, currency: 'usd' }),
      (err: any) => {
        assert.equal(err.type, 'StripeInvalidRequestError');
        assert.equal(err.statusCode, 400);
        assert.equal(err.code, 'parameter_invalid_integer');
        assert.equal(err.param, 'amount');
        assert.match(err.requestId, /^req_/);
        return true;
      },
    );
    await assert.rejects(stripe.paymentIntents.create({ amount: 100 } as any), (err: any) => err.code === 'parameter_missing' && err.param === 'currency');
  });
});

describe('amounts', () => {
  const refused: [string, string, string | readonly string[]][] = [
    ['negative', 'amount=-5', 'amount_too_small'],
    ['zero', 'amount=0', 'amount_too_small'],
    ['minus zero', 'amount=-0', 'amount_too_small'],
    ['fractional', 'amount=12.5', 'parameter_invalid_integer'],
    ['one over the maximum', 'amount=100000000', 'amount_too_large'],
    ['in exponent notation', 'amount=1e20', ['parameter_invalid_integer', 'amount_too_large']],
    ['beyond the safe integers', 'amount=9007199254740993', ['parameter_invalid_integer', 'amount_too_large']],
    ['longer than any integer', `amount=${'9'.repeat(400)}`, ['parameter_invalid_integer', 'amount_too_large']],
  ];
  for (const [what, body, code] of refused) {
    test(`a ${what} amount is refused: 400 naming amount`, async () => {
      assertStripeError(await post('/v1/payment_intents', `${body}&currency=usd`), { status: 400, param: 'amount', code });
    });
  }

  test('JSON amounts: fractional, negative, huge and non-finite are refused naming amount', async () => {
    for (const raw of ['12.5', '-1', '0', '100000000', '1e20', '1e400', '-1e400', '1.0000000000000002']) {
      const res = await postJson('/v1/payment_intents', `{"amount":${raw},"currency":"usd"}`);
      assertStripeError(res, { status: 400, param: 'amount', code: ['parameter_invalid_integer', 'amount_too_small', 'amount_too_large'] });
    }
  });

  test('99999999, the maximum, is accepted as is', async () => {
    assert.equal(assertOk(await post('/v1/payment_intents', 'amount=99999999&currency=usd')).amount, 99_999_999);
    assert.equal(assertOk(await postJson('/v1/payment_intents', { amount: 99_999_999, currency: 'usd' })).amount, 99_999_999);
  });

  test('refund amounts out of range are refused naming amount', async () => {
    assertStripeError(await post('/v1/refunds', 'payment_intent=pi_x&amount=0'), { status: 400, param: 'amount', code: 'amount_too_small' });
    assertStripeError(await post('/v1/refunds', 'payment_intent=pi_x&amount=-100'), { status: 400, param: 'amount', code: 'amount_too_small' });
    assertStripeError(await post('/v1/refunds', 'payment_intent=pi_x&amount=2.5'), { status: 400, param: 'amount', code: 'parameter_invalid_integer' });
  });
});

describe('currencies', () => {
  for (const currency of ['xyz', 'US', '', 'usdd', 'u$d', 'eu']) {
    test(`currency=${JSON.stringify(currency)} is refused: 400 parameter_invalid_currency naming currency`, async () => {
      assertStripeError(await post('/v1/payment_intents', `amount=100&currency=${pct(currency)}`), { status: 400, param: 'currency', code: 'parameter_invalid_currency' });
    });
  }

  test('a missing currency is parameter_missing', async () => {
    assertStripeError(await post('/v1/payment_intents', 'amount=100'), { status: 400, param: 'currency', code: 'parameter_missing' });
  });

  test('a zero-decimal currency (jpy) is accepted with the amount in yen, unscaled', async () => {
    const pi = assertOk(await post('/v1/payment_intents', 'amount=1234&currency=jpy'));
    assert.equal(pi.currency, 'jpy');
    assert.equal(pi.amount, 1234);
  });

  test('a three-decimal currency (kwd) is accepted with the amount in fils, unscaled', async () => {
    const pi = assertOk(await post('/v1/payment_intents', 'amount=1234&currency=kwd'));
    assert.equal(pi.currency, 'kwd');
    assert.equal(pi.amount, 1234);
  });

  test('an upper-case code is accepted and stored lower-case', async () => {
    assert.equal(assertOk(await post('/v1/payment_intents', 'amount=100&currency=USD')).currency, 'usd');
  });
});

describe('unknown and missing parameters', () => {
  test('an unknown top-level parameter is parameter_unknown naming it, on every POST endpoint', async () => {
    const pi = await newIntent();
    const cus = assertOk(await post('/v1/customers', '')).id;
    const cases: [string, string][] = [
      ['/v1/payment_intents', `${VALID_PI}&foo=1`],
      [`/v1/payment_intents/${pi}`, 'foo=1'],
      [`/v1/payment_intents/${pi}/confirm`, 'payment_method=pm_card_visa&foo=1'],
      [`/v1/payment_intents/${pi}/capture`, 'foo=1'],
      [`/v1/payment_intents/${pi}/cancel`, 'foo=1'],
      ['/v1/customers', 'foo=1'],
      [`/v1/customers/${cus}`, 'foo=1'],
      ['/v1/refunds', 'payment_intent=pi_x&foo=1'],
    ];
    for (const [path, body] of cases) {
      assertStripeError(await post(path, body), { status: 400, code: 'parameter_unknown', param: 'foo' });
      const json = Object.fromEntries(new URLSearchParams(body));
      assertStripeError(await postJson(path, json), { status: 400, code: 'parameter_unknown', param: 'foo' });
    }
    // The object is untouched by the refused update.
    assert.equal(assertOk(await get(`/v1/payment_intents/${pi}`)).status, 'requires_payment_method');
  });

  test('an unknown query parameter on GET is parameter_unknown naming it', async () => {
    const pi = await newIntent();
    for (const path of ['/v1/payment_intents?foo=1', '/v1/customers?foo=1', '/v1/charges?foo=1', '/v1/refunds?foo=1', `/v1/payment_intents/${pi}?foo=1`, '/v1/balance?foo=1']) {
      assertStripeError(await get(path), { status: 400, code: 'parameter_unknown', param: 'foo' });
    }
  });

  test('unknown nested parameters are named with their full bracket path', async () => {
    assertStripeError(await post('/v1/payment_intents', `${VALID_PI}&automatic_payment_methods[enabled]=true&automatic_payment_methods[foo]=1`),
      { status: 400, code: 'parameter_unknown', param: 'automatic_payment_methods[foo]' });
    assertStripeError(await post('/v1/payment_intents', `${VALID_PI}&automatic_payment_methods[foo]=1`),
      { status: 400, code: 'parameter_unknown', param: 'automatic_payment_methods[foo]' });
    assertStripeError(await postJson('/v1/payment_intents', { amount: 100, currency: 'usd', automatic_payment_methods: { enabled: true, foo: 1 } }),
      { status: 400, code: 'parameter_unknown', param: 'automatic_payment_methods[foo]' });
    assertStripeError(await post('/v1/customers', 'invoice_settings[foo]=1'), { status: 400, code: 'parameter_unknown', param: 'invoice_settings[foo]' });
    assertStripeError(await get('/v1/payment_intents?created[foo]=1'), { status: 400, code: 'parameter_unknown', param: 'created[foo]' });
  });

  test('arbitrary metadata keys are not unknown parameters', async () => {
    const pi = assertOk(await post('/v1/payment_intents', `${VALID_PI}&metadata[foo]=1&metadata[order id]=A-1&metadata[${pct('ключ')}]=${pct('значение')}`));
    assert.deepEqual(pi.metadata, { foo: '1', 'order id': 'A-1', ключ: 'значение' });
  });

  test('names of Object.prototype members are unknown parameters too, not silently ignored', async () => {
    for (const name of ['toString', 'valueOf', 'hasOwnProperty', 'constructor', 'isPrototypeOf']) {
      assertStripeError(await post('/v1/payment_intents', `${VALID_PI}&${name}=1`), { status: 400, code: 'parameter_unknown', param: name });
      assertStripeError(await post('/v1/customers', `${name}=1`), { status: 400, code: 'parameter_unknown', param: name });
    }
    assertStripeError(await postJson('/v1/payment_intents', { amount: 100, currency: 'usd', toString: 1 }), { status: 400, code: 'parameter_unknown', param: 'toString' });
    assertStripeError(await post('/v1/payment_intents', `${VALID_PI}&automatic_payment_methods[enabled]=true&automatic_payment_methods[valueOf]=1`),
      { status: 400, code: 'parameter_unknown', param: 'automatic_payment_methods[valueOf]' });
  });

  test('a URL parameter repeated in the body is refused as unknown', async () => {
    const pi = await newIntent();
    assertStripeError(await post(`/v1/payment_intents/${pi}/confirm`, `intent=${pi}&payment_method=pm_card_visa`), { status: 400, code: 'parameter_unknown', param: 'intent' });
    assertStripeError(await get(`/v1/payment_intents/${pi}?intent=${pi}`), { status: 400, code: 'parameter_unknown', param: 'intent' });
  });

  test('missing required parameters are parameter_missing naming them', async () => {
    assertStripeError(await post('/v1/payment_intents', 'currency=usd'), { status: 400, code: 'parameter_missing', param: 'amount' });
    assertStripeError(await post('/v1/payment_intents', 'amount=100'), { status: 400, code: 'parameter_missing', param: 'currency' });
    assertStripeError(await post('/v1/payment_intents', `${VALID_PI}&automatic_payment_methods[allow_redirects]=never`),
      { status: 400, code: 'parameter_missing', param: 'automatic_payment_methods[enabled]' });
    assertStripeError(await post('/v1/refunds', ''), { status: 400, code: 'parameter_missing', param: 'charge' });
    assertStripeError(await post('/v1/refunds', 'reason=duplicate'), { status: 400, code: 'parameter_missing', param: 'charge' });
    assertStripeError(await post('/v1/refunds', 'charge=ch_x&payment_intent=pi_x'), { status: 400, code: 'parameters_exclusive', param: 'payment_intent' });
  });

  test('an empty path id is parameter_invalid_empty, a blank one is not found', async () => {
    assertStripeError(await get('/v1/payment_intents/'), { status: 400, code: 'parameter_invalid_empty', param: 'intent' });
    assertStripeError(await post('/v1/payment_intents/%20/confirm', ''), { status: 404, code: 'resource_missing' });
  });
});

describe('absurd nesting', () => {
  test('a form body nested deeper than 5 levels answers 400', async () => {
    assertStripeError(await post('/v1/payment_intents', 'a[b][c][d][e][f][g]=1'), { status: 400 });
    assertStripeError(await post('/v1/payment_intents', `${VALID_PI}&metadata[a][b][c][d][e][f]=1`), { status: 400 });
    assertStripeError(await post('/v1/payment_intents', `${VALID_PI}&${'a'}${'[x]'.repeat(500)}=1`), { status: 400 });
  });

  test('nesting within the limit but where a value belongs answers 400 naming the parameter', async () => {
    assertStripeError(await post('/v1/payment_intents', `${VALID_PI}&metadata[a][b]=1`), { status: 400, param: 'metadata[a]' });
    assertStripeError(await post('/v1/payment_intents', `${VALID_PI}&currency[a][b][c]=1`), { status: 400, param: 'currency', code: 'parameter_invalid_currency' });
  });

  test('JSON nested deeper than the limit answers 400', async () => {
    assertStripeError(await postJson('/v1/payment_intents', { a: { b: { c: { d: { e: { f: { g: 1 } } } } } } }), { status: 400 });
    assertStripeError(await postJson('/v1/payment_intents', { amount: 100, currency: 'usd', metadata: { a: { b: { c: { d: { e: { f: 1 } } } } } } }), { status: 400 });
  });

  test('pathologically deep JSON (100 000 nested arrays or objects) answers 400, not a crash', async () => {
    const n = 100_000;
    assertStripeError(await postJson('/v1/payment_intents', '['.repeat(n) + ']'.repeat(n)), { status: 400 });
    assertStripeError(await postJson('/v1/payment_intents', '{"a":'.repeat(n) + '1' + '}'.repeat(n)), { status: 400 });
  });

  test('form arrays over 100 items and bodies over 2000 parameters answer 400', async () => {
    assertStripeError(await post('/v1/payment_intents', `${VALID_PI}&expand[101]=customer`), { status: 400 });
    assertStripeError(await post('/v1/payment_intents', `${VALID_PI}&expand[999999999]=customer`), { status: 400 });
    const many = Array.from({ length: 2001 }, (_, i) => `metadata[k${i}]=v`).join('&');
    assertStripeError(await post('/v1/payment_intents', `${VALID_PI}&${many}`), { status: 400 });
  });

  test('a query string nested deeper than 5 levels answers 400 (the connection is not dropped)', async () => {
    assertStripeError(await get('/v1/payment_intents?a[b][c][d][e][f][g]=1'), { status: 400 });
  });

  test('a query string array index over the limit answers 400 (the connection is not dropped)', async () => {
    assertStripeError(await get('/v1/payment_intents?expand[101]=data.customer'), { status: 400 });
  });

  test('a query string with over 2000 parameters answers 400 (the connection is not dropped)', async () => {
    const many = Array.from({ length: 2001 }, (_, i) => `k${i}=v`).join('&');
    assertStripeError(await get(`/v1/customers?${many}`), { status: 400 });
  });
});

describe('body size', () => {
  test('a form body over 1 MiB answers 413 in Stripe\'s error shape', async () => {
    assertStripeError(await post('/v1/payment_intents', `${VALID_PI}&description=${'x'.repeat(MiB)}`), { status: 413 });
  });

  test('a JSON body over 1 MiB answers 413 in Stripe\'s error shape', async () => {
    assertStripeError(await postJson('/v1/payment_intents', { amount: 100, currency: 'usd', description: 'x'.repeat(MiB) }), { status: 413 });
  });

  test('a body just under 1 MiB is parsed and judged on its parameters', async () => {
    const body = `${VALID_PI}&description=${'x'.repeat(MiB - 100)}`;
    assert.ok(Buffer.byteLength(body) < MiB);
    assertStripeError(await post('/v1/payment_intents', body), { status: 400, param: 'description', code: 'parameter_invalid_string' });
  });
});

describe('routes and methods', () => {
  test('unknown routes answer 404 in Stripe\'s error shape', async () => {
    for (const path of ['/', '/v1', '/v1/nope', '/v2/payment_intents', '/v1/payment_intents/pi_x/refund', '/v1/customers/cus_x/bank_accounts']) {
      assertStripeError(await get(path), { status: 404 });
      assertStripeError(await post(path, ''), { status: 404 });
    }
  });

  test('a wrong HTTP method on a known path answers 404 in Stripe\'s error shape', async () => {
    const pi = await newIntent();
    const cases: [string, string][] = [
      ['PUT', '/v1/payment_intents'], ['PATCH', '/v1/payment_intents'], ['DELETE', '/v1/payment_intents'],
      ['DELETE', `/v1/payment_intents/${pi}`], ['GET', `/v1/payment_intents/${pi}/confirm`], ['PUT', `/v1/payment_intents/${pi}`],
      ['PATCH', '/v1/customers'], ['DELETE', '/v1/refunds'], ['PUT', '/v1/charges'], ['POST', '/v1/balance'],
      ['OPTIONS', '/v1/payment_intents'],
    ];
    for (const [method, path] of cases) {
      assertStripeError(await send(server, method, path, method === 'GET' || method === 'OPTIONS' ? {} : { body: 'amount=1' }), { status: 404 });
    }
  });

  test('an unknown id in the URL is 404 resource_missing', async () => {
    assertStripeError(await get('/v1/payment_intents/pi_nope'), { status: 404, code: 'resource_missing', param: 'id' });
    assertStripeError(await post('/v1/payment_intents/pi_nope/confirm', 'payment_method=pm_card_visa'), { status: 404, code: 'resource_missing', param: 'id' });
    assertStripeError(await get('/v1/customers/cus_nope'), { status: 404, code: 'resource_missing', param: 'id' });
  });

  test('an invalid percent-encoding in the path answers 400 in Stripe\'s error shape with a Request-Id', async () => {
    for (const path of ['/v1/payment_intents/%', '/v1/payment_intents/%zz', '/v1/payment_intents/%ED%A0%80', '/v1/customers/%FF/']) {
      const res = await get(path);
      assertStripeError(res, { status: 400 });
    }
  });

  test('a long path id (150 characters, within the 255 the schema allows) is a Stripe-shaped 404', async () => {
    assertStripeError(await get(`/v1/payment_intents/pi_${'x'.repeat(147)}`), { status: 404, code: 'resource_missing' });
  });

  test('an overlong path id (300 characters) is refused in Stripe\'s error shape with a Request-Id', async () => {
    const res = await get(`/v1/payment_intents/pi_${'x'.repeat(297)}`);
    assert.ok(res.status >= 400 && res.status < 500, `expected a 4xx, got HTTP ${res.status}`);
    assertStripeError(res, { status: res.status });
  });

  test('oversized request headers (over 16 KiB) are refused in Stripe\'s error shape', async () => {
    const res = await get('/v1/payment_intents', { headers: { 'x-filler': 'x'.repeat(20_000) } });
    assertStripeError(res, { status: 431 });
  });
});

describe('authentication', () => {
  test('a missing API key answers 401 in Stripe\'s error shape', async () => {
    assertStripeError(await get('/v1/payment_intents', { key: null }), { status: 401 });
    assertStripeError(await post('/v1/payment_intents', VALID_PI, { key: null }), { status: 401 });
  });

  test('a malformed Authorization header answers 401', async () => {
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    for (const authorization of ['Token abc', 'Bearer', 'Bearer ', 'Basic', 'Basic !!!', `Basic ${b64(`:${'sk_test_x'}`)}`, 'sk_test_abc', 'Bearer\u00a0x', '   ']) {
      assertStripeError(await get('/v1/payment_intents', { key: null, headers: { authorization } }), { status: 401 });
    }
  });

  test('an unknown API key answers 401 without echoing the key back', async () => {
    // A restricted key: an unknown well-formed secret key would get its own account (any-key mode).
    const secret = 'rk_test_ThisKeyDoesNotExist0123456789';
    const error = assertStripeError(await get('/v1/payment_intents', { key: secret }), { status: 401 });
    assert.ok(!error.message.includes(secret), 'the message must not contain the whole key');
    assertStripeError(await get('/v1/payment_intents', { key: 'x'.repeat(5000) }), { status: 401 });
  });

  test('the official stripe client reports an unknown key as an authentication error', async () => {
    await assert.rejects(server.stripe({ key: 'sk_test_unknown' }).paymentIntents.list(),
      (err: any) => err.type === 'StripeAuthenticationError' && err.statusCode === 401);
  });

  test('HTTP Basic with the key as the user name works, with or without a password separator', async () => {
    for (const credentials of [`${server.key}:`, server.key, `${server.key}:ignored`]) {
      const res = await get('/v1/payment_intents?limit=1', { key: null, headers: { authorization: `Basic ${Buffer.from(credentials).toString('base64')}` } });
      assert.equal(assertOk(res).object, 'list');
    }
  });

  test('an unknown key gets 401 before any parameter is judged', async () => {
    assertStripeError(await post('/v1/payment_intents', 'amount=abc&foo=1', { key: 'sk_test_unknown' }), { status: 401 });
  });
});

describe('Idempotency-Key header', () => {
  test('a 256-character key answers 400 naming the header', async () => {
    assertStripeError(await post('/v1/payment_intents', VALID_PI, { headers: { 'idempotency-key': 'k'.repeat(256) } }), { status: 400, param: 'Idempotency-Key' });
  });

  test('an empty or blank key answers 400 naming the header', async () => {
    for (const key of ['', ' ', '   ']) {
      assertStripeError(await post('/v1/payment_intents', VALID_PI, { headers: { 'idempotency-key': key } }), { status: 400, param: 'Idempotency-Key' });
    }
  });

  test('a 255-character key is accepted, and replays', async () => {
    const key = `k${'x'.repeat(254)}`;
    const first = await post('/v1/payment_intents', VALID_PI, { headers: { 'idempotency-key': key } });
    const pi = assertOk(first);
    assert.equal(first.headers.get('idempotent-replayed'), null);
    const again = await post('/v1/payment_intents', VALID_PI, { headers: { 'idempotency-key': key } });
    assert.equal(assertOk(again).id, pi.id);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
  });

  // Each rejection happens before the request starts executing, so nothing is saved under the key.
  const rejections: [string, SendOptions, number][] = [
    ['a parameter of the wrong type', { body: 'amount=abc&currency=usd' }, 400],
    ['an unknown parameter', { body: `${VALID_PI}&foo=1` }, 400],
    ['a missing parameter', { body: 'amount=1000' }, 400],
    ['an unknown payment method', { body: `${VALID_PI}&payment_method=pm_nope` }, 400],
    ['malformed JSON', { body: '{"amount":', contentType: JSON_TYPE }, 400],
    ['an unsupported content type', { body: VALID_PI, contentType: 'text/plain' }, 400],
    ['absurd nesting', { body: `${VALID_PI}&a[b][c][d][e][f][g]=1` }, 400],
    ['a body over 1 MiB', { body: `${VALID_PI}&description=${'x'.repeat(MiB)}` }, 413],
    ['too many metadata keys', { body: `${VALID_PI}&${Array.from({ length: 51 }, (_, i) => `metadata[k${i}]=v`).join('&')}` }, 400],
  ];
  for (const [what, rejected, status] of rejections) {
    test(`a request refused for ${what} saves nothing: the same key then runs the corrected request`, async () => {
      const key = `bad-input-${what.replace(/\W+/g, '-')}-${Date.now()}`;
      const headers = { 'idempotency-key': key };
      assertStripeError(await post('/v1/payment_intents', rejected.body!, { ...rejected, headers }), { status });
      const corrected = await post('/v1/payment_intents', VALID_PI, { headers });
      const pi = assertOk(corrected);
      assert.equal(corrected.headers.get('idempotent-replayed'), null, 'the corrected request must run, not replay');
      const replay = await post('/v1/payment_intents', VALID_PI, { headers });
      assert.equal(assertOk(replay).id, pi.id);
      assert.equal(replay.headers.get('idempotent-replayed'), 'true');
    });
  }
});

describe('metadata limits', () => {
  const metadataBody = (n: number, keyLen = 4, valueLen = 1) =>
    Array.from({ length: n }, (_, i) => `metadata[${String(i).padStart(keyLen, 'k')}]=${'v'.repeat(valueLen)}`).join('&');

  for (const [path, base] of [['/v1/payment_intents', `${VALID_PI}&`], ['/v1/customers', '']] as const) {
    test(`${path}: 50 keys are accepted, 51 are refused naming metadata`, async () => {
      assert.equal(Object.keys(assertOk(await post(path, `${base}${metadataBody(50)}`)).metadata).length, 50);
      assertStripeError(await post(path, `${base}${metadataBody(51)}`), { status: 400, param: 'metadata' });
    });

    test(`${path}: a 40-character key is accepted, a 41-character key is refused naming it`, async () => {
      const k40 = 'k'.repeat(40);
      const k41 = 'k'.repeat(41);
      assert.deepEqual(assertOk(await post(path, `${base}metadata[${k40}]=v`)).metadata, { [k40]: 'v' });
      assertStripeError(await post(path, `${base}metadata[${k41}]=v`), { status: 400, param: `metadata[${k41}]` });
    });

    test(`${path}: a 500-character value is accepted, a 501-character value is refused naming its key`, async () => {
      assert.equal(assertOk(await post(path, `${base}metadata[note]=${'v'.repeat(500)}`)).metadata.note.length, 500);
      assertStripeError(await post(path, `${base}metadata[note]=${'v'.repeat(501)}`), { status: 400, param: 'metadata[note]' });
    });
  }

  test('an empty metadata key is refused', async () => {
    assertStripeError(await postJson('/v1/payment_intents', { amount: 100, currency: 'usd', metadata: { '': 'x' } }), { status: 400, param: /^metadata/ });
  });

  test('a 41-character key counts characters, not bytes: 40 non-ASCII characters are accepted', async () => {
    const k = 'é'.repeat(40);
    assert.deepEqual(assertOk(await post('/v1/payment_intents', `${VALID_PI}&metadata[${pct(k)}]=v`)).metadata, { [k]: 'v' });
  });
});

describe('control characters and invalid Unicode', () => {
  test('other control characters, emoji and astral characters are accepted and round-trip', async () => {
    const text = 'a\u0001b\u001f\u007f\t\n\r🎉𝔘ñ';
    const pi = assertOk(await postJson('/v1/payment_intents', { amount: 100, currency: 'usd', description: text, metadata: { k: text } }));
    assert.equal(pi.description, text);
    assert.equal(assertOk(await get(`/v1/payment_intents/${pi.id}`)).metadata.k, text);
  });

  test('a NUL character in a string parameter (form) is refused naming the parameter', async () => {
    assertStripeError(await post('/v1/payment_intents', `${VALID_PI}&description=a%00b`), { status: 400, param: 'description' });
    assertStripeError(await post('/v1/payment_intents', `${VALID_PI}&metadata[k]=%00`), { status: 400, param: 'metadata[k]' });
    assertStripeError(await post('/v1/payment_intents', `${VALID_PI}&metadata[%00]=v`), { status: 400, param: /^metadata/ });
    assertStripeError(await post('/v1/customers', 'name=%00'), { status: 400, param: 'name' });
  });

  test('a NUL character in a string parameter (JSON) is refused naming the parameter', async () => {
    assertStripeError(await postJson('/v1/payment_intents', { amount: 100, currency: 'usd', description: 'a\u0000b' }), { status: 400, param: 'description' });
    assertStripeError(await postJson('/v1/customers', { email: '\u0000@example.com' }), { status: 400, param: 'email' });
  });

  test('a NUL character in an id parameter is refused naming the parameter', async () => {
    const pi = await newIntent();
    assertStripeError(await post('/v1/payment_intents', `${VALID_PI}&customer=cus_%00`), { status: 400, param: 'customer' });
    assertStripeError(await post('/v1/payment_intents', `${VALID_PI}&external_id=x%00`), { status: 400, param: 'external_id' });
    assertStripeError(await post('/v1/refunds', 'charge=ch_%00'), { status: 400, param: 'charge' });
    assertStripeError(await post('/v1/refunds', 'payment_intent=pi_%00'), { status: 400, param: 'payment_intent' });
    assertStripeError(await post(`/v1/payment_intents/${pi}/confirm`, 'payment_method=pm_card_visa&receipt_email=%00'), { status: 400, param: 'receipt_email' });
  });

  test('a NUL character in a list filter or cursor is refused naming the parameter', async () => {
    for (const [path, param] of [
      ['/v1/payment_intents?customer=%00', 'customer'], ['/v1/payment_intents?starting_after=%00', 'starting_after'],
      ['/v1/charges?payment_intent=%00', 'payment_intent'], ['/v1/refunds?charge=%00', 'charge'],
      ['/v1/customers?email=%00', 'email'], ['/v1/test_helpers/acquirer_ledger?reference=%00', 'reference'],
    ]) {
      assertStripeError(await get(path), { status: 400, param });
    }
  });

  test('a NUL character in a URL id answers a 4xx in Stripe\'s error shape', async () => {
    for (const [method, path] of [
      ['GET', '/v1/payment_intents/pi_%00'], ['GET', '/v1/customers/cus_%00'], ['POST', '/v1/payment_intents/pi_%00/confirm'],
      ['POST', '/v1/customers/cus_%00'], ['DELETE', '/v1/customers/cus_%00'], ['GET', '/v1/refunds/re_%00'],
    ]) {
      const res = await send(server, method, path, method === 'POST' ? { body: '' } : {});
      assert.ok(res.status === 400 || res.status === 404, `${method} ${path}: expected 400 or 404, got HTTP ${res.status} ${res.text}`);
      assertStripeError(res, { status: res.status, param: /./ });
    }
  });

  test('an unpaired UTF-16 surrogate in JSON (\\ud800) is refused naming the parameter', async () => {
    assertStripeError(await postJson('/v1/payment_intents', '{"amount":100,"currency":"usd","description":"a\\ud800b"}'), { status: 400, param: 'description' });
    assertStripeError(await postJson('/v1/payment_intents', '{"amount":100,"currency":"usd","metadata":{"k":"\\udc00"}}'), { status: 400, param: 'metadata[k]' });
  });
});

describe('list filters', () => {
  test('filtering customers by email answers the matching customers, not a 500', async () => {
    const email = `filter-${Date.now()}@example.com`;
    const cus = assertOk(await post('/v1/customers', `email=${pct(email)}`));
    const list = assertOk(await get(`/v1/customers?email=${pct(email)}`));
    assert.deepEqual(list.data.map((c: any) => c.id), [cus.id]);
  });
});

describe('refused requests leave nothing half-written', () => {
  test('a refused create+confirm names no PaymentIntent that does not exist', async () => {
    const { key } = await server.newAccount();
    const res = await post('/v1/payment_intents', `${VALID_PI}&confirm=true`, { key });
    assertStripeError(res, { status: 400, param: 'payment_method' });
    const named = res.json.error.payment_intent?.id;
    const list = assertOk(await get('/v1/payment_intents', { key }));
    if (named) {
      assert.deepEqual(list.data.map((p: any) => p.id), [named], `the error names ${named}: it must exist`);
    } else {
      assert.deepEqual(list.data, []);
    }
  });

  test('after a batch of bad requests the account\'s objects are unchanged and the acquirer ledger is empty', async () => {
    const { key, accountId } = await server.newAccount();
    const stripe = server.stripe({ key });
    const as = { key };
    // A baseline that bad requests could touch: an intent awaiting a payment method and a customer.
    const pi = assertOk(await post('/v1/payment_intents', `${VALID_PI}&metadata[keep]=1`, as));
    const cus = assertOk(await post('/v1/customers', 'name=Baseline', as));
    const snapshot = async () => ({
      paymentIntents: (await stripe.paymentIntents.list({ limit: 100 })).data,
      customers: (await stripe.customers.list({ limit: 100 })).data,
      refunds: (await stripe.refunds.list({ limit: 100 })).data,
      charges: (await stripe.charges.list({ limit: 100 })).data,
      balanceTransactions: (await stripe.balanceTransactions.list({ limit: 100 })).data,
    });
    const before = await snapshot();

    const bad: [string, string, SendOptions][] = [
      // refused while parsing or validating
      ['POST', '/v1/payment_intents', { body: '{bad', contentType: JSON_TYPE }],
      ['POST', '/v1/payment_intents', { body: '[1]', contentType: JSON_TYPE }],
      ['POST', '/v1/payment_intents', { body: VALID_PI, contentType: 'text/plain' }],
      ['POST', '/v1/payment_intents', { body: `${VALID_PI}&description=${'x'.repeat(MiB)}` }],
      ['POST', '/v1/payment_intents', { body: 'amount=abc&currency=usd' }],
      ['POST', '/v1/payment_intents', { body: 'amount=-1&currency=usd' }],
      ['POST', '/v1/payment_intents', { body: 'amount=100&currency=xyz' }],
      ['POST', '/v1/payment_intents', { body: `${VALID_PI}&foo=1` }],
      ['POST', '/v1/payment_intents', { body: `${VALID_PI}&a[b][c][d][e][f][g]=1` }],
      ['POST', '/v1/payment_intents', { body: `${VALID_PI}&confirm=true&payment_method=pm_nope` }],
      ['POST', '/v1/payment_intents', { body: `${VALID_PI}&${Array.from({ length: 51 }, (_, i) => `metadata[k${i}]=v`).join('&')}` }],
      ['POST', '/v1/payment_intents', { body: VALID_PI, headers: { 'idempotency-key': 'k'.repeat(256) } }],
      ['POST', '/v1/customers', { body: 'email[]=x' }],
      ['POST', '/v1/customers', { body: `metadata[${'k'.repeat(41)}]=v` }],
      ['POST', '/v1/refunds', { body: '' }],
      ['POST', '/v1/refunds', { body: 'charge=ch_x&payment_intent=pi_x' }],
      // refused after the request started executing (inside a phase): must roll back entirely
      ['POST', '/v1/payment_intents', { body: `${VALID_PI}&confirm=true` }],
      ['POST', '/v1/payment_intents', { body: `${VALID_PI}&customer=cus_nope` }],
      ['POST', '/v1/payment_intents', { body: `${VALID_PI}&customer=cus_nope&confirm=true&payment_method=pm_card_visa` }],
      ['POST', `/v1/payment_intents/${pi.id}`, { body: 'amount=abc&metadata[keep]=2' }],
      ['POST', `/v1/payment_intents/${pi.id}`, { body: 'metadata[keep]=2&customer=cus_nope' }],
      ['POST', `/v1/payment_intents/${pi.id}/confirm`, { body: '' }],
      ['POST', `/v1/payment_intents/${pi.id}/confirm`, { body: 'payment_method=pm_nope' }],
      ['POST', `/v1/payment_intents/${pi.id}/confirm`, { body: 'payment_method=pm_card_visa&capture_method=later' }],
      ['POST', `/v1/payment_intents/${pi.id}/confirm`, { body: 'payment_method=pm_card_visa&foo=1' }],
      ['POST', `/v1/payment_intents/${pi.id}/capture`, { body: '' }],
      ['POST', '/v1/payment_intents/pi_nope/confirm', { body: 'payment_method=pm_card_visa' }],
      ['POST', `/v1/customers/${cus.id}`, { body: 'name=Changed&email[]=x' }],
      ['POST', '/v1/customers/cus_nope', { body: 'name=x' }],
      ['DELETE', '/v1/customers/cus_nope', {}],
      ['POST', '/v1/refunds', { body: 'charge=ch_nope' }],
      ['POST', '/v1/refunds', { body: `payment_intent=${pi.id}` }],
      ['POST', '/v1/refunds', { body: 'payment_intent=pi_nope&amount=100' }],
      // inputs the store cannot hold
      ['POST', '/v1/payment_intents', { body: `${VALID_PI}&description=%00` }],
      ['POST', '/v1/customers', { body: 'name=%00' }],
      ['POST', `/v1/payment_intents/${pi.id}`, { body: 'description=%00&metadata[keep]=2' }],
      ['POST', '/v1/payment_intents', { body: '{"amount":100,"currency":"usd","description":"\\ud800"}', contentType: JSON_TYPE }],
    ];
    const statuses: string[] = [];
    for (const [method, path, opts] of bad) {
      const res: Reply = await send(server, method, path, { ...opts, key });
      assertRequestId(res);
      statuses.push(`${res.status} ${method} ${path} ${(opts.body ?? '').slice(0, 60)}`);
      assert.ok(res.status >= 400, `expected a refusal, got ${res.status} for ${method} ${path} ${opts.body?.slice(0, 100)}`);
    }

    assert.deepEqual(await snapshot(), before, `objects changed after:\n${statuses.join('\n')}`);
    const ledger = assertOk(await get('/v1/test_helpers/acquirer_ledger', as));
    assert.deepEqual(ledger.data, [], 'the acquirer saw an operation');
    assert.deepEqual(await server.oncepay.processor.ledger(accountId), []);
  });
});
