/** The CLI finds the server where `oncepay serve` listens with the same settings (HOST, PORT), unless told. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultApiBase } from '../../src/cli/api_options.ts';

test('the default API address follows HOST and PORT as serve uses them', () => {
  assert.equal(defaultApiBase({}), 'http://127.0.0.1:4242');
  assert.equal(defaultApiBase({ PORT: '5000' }), 'http://127.0.0.1:5000');
  assert.equal(defaultApiBase({ HOST: '0.0.0.0', PORT: '5000' }), 'http://127.0.0.1:5000', 'a wildcard address is reached on loopback');
  assert.equal(defaultApiBase({ HOST: '::' }), 'http://[::1]:4242');
  assert.equal(defaultApiBase({ HOST: '::1' }), 'http://[::1]:4242');
  assert.equal(defaultApiBase({ HOST: 'oncepay.internal', PORT: '80' }), 'http://oncepay.internal:80');
  assert.equal(defaultApiBase({ HOST: '10.0.0.5', ONCEPAY_API_BASE: 'https://pay.example.com' }), 'https://pay.example.com', 'ONCEPAY_API_BASE wins');
});
