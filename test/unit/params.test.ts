import { test } from 'node:test';
import assert from 'node:assert/strict';
import { amount, array, boolean, clearable, currency, integer, metadata, object, optional, string } from '../../src/schema/params.ts';
import { ApiError } from '../../src/errors.ts';
import { currencyExponent, formatAmount, MAX_AMOUNT } from '../../src/schema/money.ts';
import { canonicalJson, fingerprint } from '../../src/idempotency/fingerprint.ts';
import { parseDuration } from '../../src/config.ts';
import { parseForm, parseJson } from '../../src/http/body.ts';

function fails(fn: () => unknown, param: string | undefined, code?: string) {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ApiError, `expected ApiError, got ${err}`);
    assert.equal(err.status, 400);
    assert.equal(err.body.param, param);
    if (code) assert.equal(err.body.code, code);
    return;
  }
  assert.fail('expected a validation error');
}

test('integers accept form strings and JSON numbers, refuse fractions and junk', () => {
  assert.equal(integer().parse('42', 'n'), 42);
  assert.equal(integer().parse(42, 'n'), 42);
  fails(() => integer().parse('4.2', 'n'), 'n', 'parameter_invalid_integer');
  fails(() => integer().parse(4.2, 'n'), 'n', 'parameter_invalid_integer');
  fails(() => integer().parse('1e3', 'n'), 'n', 'parameter_invalid_integer');
  fails(() => integer().parse(['1'], 'n'), 'n', 'parameter_invalid_integer');
  fails(() => integer({ max: 3 }).parse('4', 'n'), 'n');
});

test('amounts are positive whole minor units up to the maximum', () => {
  assert.equal(amount().parse(String(MAX_AMOUNT), 'amount'), MAX_AMOUNT);
  fails(() => amount().parse(String(MAX_AMOUNT + 1), 'amount'), 'amount', 'amount_too_large');
  fails(() => amount().parse('0', 'amount'), 'amount', 'amount_too_small');
  fails(() => amount().parse('-5', 'amount'), 'amount', 'amount_too_small');
  fails(() => amount().parse('1e20', 'amount'), 'amount', 'parameter_invalid_integer');
});

test('currencies follow ISO 4217 with their exponents', () => {
  assert.equal(currency().parse('USD', 'currency'), 'usd');
  assert.equal(currencyExponent('jpy'), 0);
  assert.equal(currencyExponent('usd'), 2);
  assert.equal(currencyExponent('kwd'), 3);
  assert.equal(currencyExponent('xyz'), undefined);
  fails(() => currency().parse('xyz', 'currency'), 'currency');
  fails(() => currency().parse('', 'currency'), 'currency');
  assert.equal(formatAmount(1234, 'usd'), '12.34 usd');
  assert.equal(formatAmount(5, 'usd'), '0.05 usd');
  assert.equal(formatAmount(1234, 'jpy'), '1234 jpy');
  assert.equal(formatAmount(1234, 'kwd'), '1.234 kwd');
});

test('objects refuse unknown and missing parameters, naming the full bracket path', () => {
  const s = object({ a: integer(), nested: optional(object({ b: boolean() })) });
  assert.deepEqual(s.parse({ a: '1', nested: { b: 'true' } }, ''), { a: 1, nested: { b: true } });
  fails(() => s.parse({ a: '1', zz: '1' }, ''), 'zz', 'parameter_unknown');
  fails(() => s.parse({ a: '1', nested: { c: '1' } }, ''), 'nested[c]', 'parameter_unknown');
  fails(() => s.parse({}, ''), 'a', 'parameter_missing');
  fails(() => s.parse({ a: '1', nested: { b: 'yes' } }, ''), 'nested[b]');
});

test('arrays come as lists or indexed hashes; items are named by index', () => {
  const s = array(integer());
  assert.deepEqual(s.parse(['1', '2'], 'x'), [1, 2]);
  assert.deepEqual(s.parse({ 1: '2', 0: '1' }, 'x'), [1, 2]);
  fails(() => s.parse(['1', 'b'], 'x'), 'x[1]');
  fails(() => s.parse('1', 'x'), 'x');
});

test('metadata: limits, and the empty string unsets a key or all keys', () => {
  assert.deepEqual(metadata().parse({ a: '1', b: '' }, 'metadata'), { a: '1', b: null });
  assert.equal(metadata().parse('', 'metadata'), null);
  fails(() => metadata().parse({ ['k'.repeat(41)]: 'v' }, 'metadata'), `metadata[${'k'.repeat(41)}]`);
  fails(() => metadata().parse({ k: 'v'.repeat(501) }, 'metadata'), 'metadata[k]');
  fails(() => metadata().parse(Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, 'v'])), 'metadata'), 'metadata');
  fails(() => metadata().parse({ k: { deep: 'v' } }, 'metadata'), 'metadata[k]');
});

test('clearable fields turn the empty string into null', () => {
  assert.equal(clearable(string()).parse('', 'd'), null);
  assert.equal(clearable(string()).parse(undefined, 'd'), undefined);
  assert.equal(clearable(string()).parse('x', 'd'), 'x');
});

test('fingerprints ignore key order but not values', () => {
  assert.equal(canonicalJson({ b: 1, a: [{ d: 1, c: 2 }] }), '{"a":[{"c":2,"d":1}],"b":1}');
  assert.equal(fingerprint('POST', '/v1/x', { a: 1, b: 2 }), fingerprint('POST', '/v1/x', { b: 2, a: 1 }));
  assert.notEqual(fingerprint('POST', '/v1/x', { a: 1 }), fingerprint('POST', '/v1/x', { a: 2 }));
  assert.notEqual(fingerprint('POST', '/v1/x', { a: 1 }), fingerprint('POST', '/v1/y', { a: 1 }));
});

test('durations in settings', () => {
  assert.equal(parseDuration('24h', 'x'), 86_400_000);
  assert.equal(parseDuration('1.5s', 'x'), 1500);
  assert.equal(parseDuration('250', 'x'), 250);
  assert.throws(() => parseDuration('soon', 'X'), /X: expected a duration/);
});

test('bodies: Stripe form encoding nests with brackets; too deep nesting is refused', () => {
  assert.deepEqual(JSON.parse(JSON.stringify(parseForm('metadata[k]=v&payment_method_types[0]=card&amount=5'))), { metadata: { k: 'v' }, payment_method_types: ['card'], amount: '5' });
  assert.throws(() => parseForm('a[b][c][d][e][f][g]=1'), (e: ApiError) => e.status === 400);
  assert.throws(() => parseJson('{"a":'), (e: ApiError) => e.status === 400);
  assert.throws(() => parseJson('[1]'), (e: ApiError) => e.status === 400);
  assert.deepEqual(parseJson(''), {});
  const deep = JSON.stringify({ a: { b: { c: { d: { e: { f: { g: 1 } } } } } } });
  assert.throws(() => parseJson(deep), (e: ApiError) => e.status === 400);
  assert.equal(Object.getPrototypeOf(parseJson('{"__proto__":{"x":1}}')).x, undefined);
});

test('booleans: true and false in any case (Python sends True/False), JSON booleans; not 1, 0 or yes', () => {
  for (const t of [true, 'true', 'True', 'TRUE']) assert.equal(boolean().parse(t, 'b'), true, String(t));
  for (const f of [false, 'false', 'False', 'FALSE']) assert.equal(boolean().parse(f, 'b'), false, String(f));
  for (const bad of ['1', '0', 1, 'yes', '', ' true', ['true']]) fails(() => boolean().parse(bad, 'b'), 'b', 'parameter_invalid_boolean');
});
