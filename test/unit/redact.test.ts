/**
 * Redaction (src/logs/redact.ts): what must be masked in request logs, key inspection and
 * process logs (card numbers, CVCs, API keys, webhook secrets) and what must be left alone
 * (ids, timestamps, amounts, phone numbers).
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { redact, redactString, REDACTED } from '../../src/logs/redact.ts';

/** Luhn check digit appended to `body`, to build valid numbers of any length. */
function withCheckDigit(body: string): string {
  for (let d = 0; d <= 9; d++) {
    const candidate = body + d;
    let sum = 0;
    for (let i = 0; i < candidate.length; i++) {
      let x = Number(candidate[candidate.length - 1 - i]);
      if (i % 2 === 1) { x *= 2; if (x > 9) x -= 9; }
      sum += x;
    }
    if (sum % 10 === 0) return candidate;
  }
  throw new Error('unreachable');
}
/** A Luhn-valid number of `length` digits. */
const luhnValid = (length: number) => withCheckDigit('4'.padEnd(length - 1, '1'));
/** The same digits with the last one changed: Luhn-invalid. */
const luhnInvalid = (length: number) => {
  const v = luhnValid(length);
  return v.slice(0, -1) + ((Number(v.at(-1)) + 1) % 10);
};
const masked = (digits: string) => `${'*'.repeat(digits.length - 4)}${digits.slice(-4)}`;

describe('card numbers in strings', () => {
  test('Luhn-valid test cards are masked to their last four digits', () => {
    assert.equal(redactString('4242424242424242'), '************4242');
    assert.equal(redactString('5555555555554444'), '************4444');
    assert.equal(redactString('378282246310005'), '***********0005'); // amex, 15 digits
    assert.equal(redactString('pay with 4242424242424242 please'), 'pay with ************4242 please');
    assert.equal(redactString('a=4242424242424242&b=5555555555554444'), 'a=************4242&b=************4444');
  });

  test('spaces and dashes between groups are allowed; the digits still never survive', () => {
    for (const [input, last4] of [['4000 0566 5566 5556', '5556'], ['5555-5555-5555-4444', '4444'], ['4242-4242 4242-4242', '4242']] as const) {
      const out = redactString(`card: ${input}.`);
      assert.equal(out, `card: ${'*'.repeat(12)}${last4}.`, input);
    }
  });

  test('Luhn-invalid digit runs are left alone', () => {
    assert.equal(redactString('4242424242424241'), '4242424242424241');
    for (const len of [13, 16, 19]) assert.equal(redactString(luhnInvalid(len)), luhnInvalid(len), `length ${len}`);
  });

  test('only 13 to 19 digits are card-like: 12 and 20 digit runs are left alone even when Luhn-valid', () => {
    const twelve = luhnValid(12);
    const twenty = luhnValid(20);
    assert.equal(redactString(twelve), twelve);
    assert.equal(redactString(twenty), twenty);
    assert.equal(redactString(`x ${twenty} y`), `x ${twenty} y`);
    for (const len of [13, 14, 15, 16, 17, 18, 19]) {
      const v = luhnValid(len);
      assert.equal(redactString(v), masked(v), `length ${len}`);
      assert.equal(redactString(`id ${v}!`), `id ${masked(v)}!`, `length ${len} inside text`);
    }
  });

  test('a card number followed by a CVC or other digits after a separator is still masked', () => {
    // Realistic free text: "4242 4242 4242 4242 123" (card then CVC), "5555-5555-5555-4444-12".
    const survived: string[] = [];
    for (const text of ['4242 4242 4242 4242 123', '4242424242424242 123', '5555-5555-5555-4444-12', 'card 4000 0566 5566 5556 04 27']) {
      const out = redactString(text);
      if (/4242424242424242|5555555555554444|4000056655665556/.test(out.replace(/\D/g, ''))) survived.push(`${JSON.stringify(text)} -> ${JSON.stringify(out)}`);
    }
    assert.deepEqual(survived, [], `card digits survived in: ${survived.join('; ')}`);
  });

  test('values that are not card numbers are not masked', () => {
    const keep = [
      'pi_3MtwBwLkdIwHu7ix28a3tqPa', 'ch_1NirD82eZvKYlo2CIvbtLWuY', 'req_a1b2c3d4e5f6g7', 'cus_NffrFeUfNV2Hib',
      '1700000000', '1700000000.123', // timestamps in seconds
      '2000', '99999999', '0123456789', '+1 415 555 0123', '(415) 555-0123', '2024-01-15T10:20:30Z',
      '123e4567-e89b-12d3-a456-426614174000', '192.168.100.200',
    ];
    for (const v of keep) assert.equal(redactString(v), v, v);
  });
});

describe('key material in strings', () => {
  test('secret and restricted keys keep only their prefix, live or test', () => {
    assert.equal(redactString('sk_test_51Habcdefghijklmnop'), `sk_test_${REDACTED}`);
    assert.equal(redactString('sk_live_51Habcdefghijklmnop'), `sk_live_${REDACTED}`);
    assert.equal(redactString('rk_test_51Habcdefghijklmnop'), `rk_test_${REDACTED}`);
    assert.equal(redactString('rk_live_51Habcdefghijklmnop'), `rk_live_${REDACTED}`);
    assert.equal(redactString('Authorization: Bearer sk_test_abcdEFGH1234.'), `Authorization: Bearer sk_test_${REDACTED}.`);
  });

  test('webhook secrets (base64, with + / =) keep only their prefix', () => {
    const secret = 'whsec_q+Z/9aBcD0eF1gH2iJ3kL4mN5oP6qR7sT8uV9wX0yZ1=';
    assert.equal(redactString(secret), `whsec_${REDACTED}`);
    assert.equal(redactString(`secret is ${secret} ok`), `secret is whsec_${REDACTED} ok`);
  });

  test('publishable keys and look-alike words are left alone', () => {
    for (const v of ['pk_test_51Habcdefghijklmnop', 'task_test_results', 'sk_test_', 'desk_live_stream']) assert.equal(redactString(v), v);
  });
});

describe('redact (objects)', () => {
  test('secret-bearing names are replaced whole, whatever their value', () => {
    const out = redact({
      cvc: '123', cvv: 123, client_secret: 'pi_123_secret_abc', secret: 'whatever', password: 'hunter2',
      card: { number: '4242424242424242', cvc: '314', exp_month: 12, exp_year: 2030 },
    });
    assert.deepEqual(out, {
      cvc: REDACTED, cvv: REDACTED, client_secret: REDACTED, secret: REDACTED, password: REDACTED,
      card: { number: REDACTED, cvc: REDACTED, exp_month: 12, exp_year: 2030 },
    });
  });

  test('a card number under `number` is replaced whole even outside `card`', () => {
    assert.deepEqual(redact({ payment_method_data: { number: '4000 0566 5566 5556' } }), { payment_method_data: { number: REDACTED } });
    assert.deepEqual(redact({ payment_method_data: { number: '4000-0566-5566-5556' } }), { payment_method_data: { number: REDACTED } });
  });

  test('a 10-digit phone number under `number` (outside `card`) is kept, with or without separators', () => {
    for (const phone of ['4155550123', '415 555 0123', '415-555-0123']) {
      assert.deepEqual(redact({ phone: { number: phone } }), { phone: { number: phone } }, phone);
    }
  });

  test('nested arrays and objects are walked; metadata keys are masked like values', () => {
    const out = redact({
      metadata: { '4242424242424242': 'key was a card', note: 'card 5555-5555-5555-4444' },
      items: [[{ description: 'sk_live_abcdefgh12345' }], '4000056655665556', { cards: [{ number: '4242424242424242' }] }],
    });
    assert.deepEqual(out, {
      metadata: { '************4242': 'key was a card', note: 'card ************4444' },
      items: [[{ description: `sk_live_${REDACTED}` }], '************5556', { cards: [{ number: REDACTED }] }],
    });
  });

  test('numbers, booleans, null, ids, timestamps and amounts are kept as they are', () => {
    const input = {
      id: 'pi_3MtwBwLkdIwHu7ix28a3tqPa', created: 1700000000, amount: 2000, amount_received: 0, livemode: false,
      latest_charge: null, phone: '0123456789', cvc_check: 'pass', description: null, card: { last4: '4242', exp_year: 2030 },
    };
    assert.deepEqual(redact(input), input);
  });

  test('empty and null secrets stay as they are (nothing to hide)', () => {
    assert.deepEqual(redact({ cvc: null, secret: '' }), { cvc: null, secret: '' });
  });

  test('a card number sent as a JSON number is masked too', () => {
    // JSON bodies are logged as sent: {"metadata": {"card": 4242424242424242}} must not keep the digits.
    const text = JSON.stringify(redact({ metadata: { card: 4242424242424242 }, description: 5555555555554444 }));
    assert.ok(!text.includes('4242424242424242'), text);
    assert.ok(!text.includes('5555555555554444'), text);
  });

  test('the input is not modified (a deep copy)', () => {
    const input = { card: { number: '4242424242424242' }, list: ['sk_test_abcdefgh'] };
    const before = JSON.stringify(input);
    redact(input);
    assert.equal(JSON.stringify(input), before);
  });
});
