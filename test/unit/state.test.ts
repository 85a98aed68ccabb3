import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ALLOWED, PAYMENT_INTENT_STATUSES, TRANSITIONS, allows, canTransition, type PaymentIntentAction } from '../../src/payments/state.ts';

// The table Stripe documents, written out independently of the implementation's table.
const EXPECTED_ALLOWED: Record<PaymentIntentAction, string[]> = {
  update: ['requires_payment_method', 'requires_confirmation', 'requires_action'],
  confirm: ['requires_payment_method', 'requires_confirmation', 'requires_action'],
  capture: ['requires_capture'],
  cancel: ['requires_payment_method', 'requires_confirmation', 'requires_action', 'requires_capture'],
};

test('every (action, status) pair is allowed exactly when Stripe allows it', () => {
  for (const action of Object.keys(EXPECTED_ALLOWED) as PaymentIntentAction[]) {
    for (const status of PAYMENT_INTENT_STATUSES) {
      assert.equal(allows(action, status), EXPECTED_ALLOWED[action].includes(status), `${action} from ${status}`);
    }
  }
  assert.deepEqual(Object.keys(ALLOWED).sort(), Object.keys(EXPECTED_ALLOWED).sort());
});

test('terminal statuses move nowhere; every status can stay where it is', () => {
  for (const from of PAYMENT_INTENT_STATUSES) {
    for (const to of PAYMENT_INTENT_STATUSES) {
      const expected = from === to || TRANSITIONS[from].includes(to);
      assert.equal(canTransition(from, to), expected, `${from} -> ${to}`);
    }
  }
  assert.deepEqual(TRANSITIONS.succeeded, []);
  assert.deepEqual(TRANSITIONS.canceled, []);
});

test('every action leads somewhere the transition table permits', () => {
  // confirm passes through processing; capture ends in succeeded; cancel in canceled.
  for (const s of ALLOWED.confirm) assert.ok(canTransition(s, 'processing'), `confirm from ${s}`);
  for (const s of ALLOWED.capture) assert.ok(canTransition(s, 'succeeded'), `capture from ${s}`);
  for (const s of ALLOWED.cancel) assert.ok(canTransition(s, 'canceled'), `cancel from ${s}`);
  for (const to of ['succeeded', 'requires_capture', 'requires_payment_method', 'requires_action'] as const) {
    assert.ok(canTransition('processing', to), `processing -> ${to}`);
  }
  assert.equal(canTransition('processing', 'canceled'), false);
});
