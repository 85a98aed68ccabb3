/**
 * The order state machine: the status as a pure function of the money, the table of allowed
 * moves and the table of allowed actions, walked exhaustively, and checked against each other by
 * enumerating every reachable money state of small orders and every action on each.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ORDER_ALLOWED, ORDER_STATUSES, ORDER_TRANSITIONS, amountRemaining, canOrderTransition, orderAllows, orderStatus,
  type OrderAction, type OrderMoney, type OrderStatus,
} from '../../src/billing/order_payments.ts';

// The tables as the brief states them, written out independently of the implementation's.
const EXPECTED_TRANSITIONS: Record<OrderStatus, OrderStatus[]> = {
  open: ['partially_paid', 'paid', 'canceled'],
  partially_paid: ['paid', 'partially_refunded', 'refunded'],
  paid: ['partially_refunded', 'refunded'],
  partially_refunded: ['refunded'],
  refunded: ['partially_refunded'],
  canceled: [],
};

const EXPECTED_ALLOWED: Record<OrderAction, OrderStatus[]> = {
  update_metadata: ['open', 'partially_paid', 'paid', 'partially_refunded', 'refunded', 'canceled'],
  update: ['open'],
  cancel: ['open'],
  pay: ['open', 'partially_paid', 'partially_refunded', 'refunded'],
  refund: ['partially_paid', 'paid', 'partially_refunded'],
};

const money = (total: number, paid: number, refunded: number, canceled = false): OrderMoney =>
  ({ amount_total: total, amount_paid: paid, amount_refunded: refunded, canceled_at: canceled ? 1_700_000_000 : null });

test('the status follows from the money', () => {
  const cases: Array<[OrderMoney, OrderStatus]> = [
    [money(1000, 0, 0), 'open'],
    [money(1000, 1, 0), 'partially_paid'],
    [money(1000, 999, 0), 'partially_paid'],
    [money(1000, 1000, 0), 'paid'],
    [money(1000, 1200, 0), 'paid'], // an out-of-band overpayment is still paid
    [money(1000, 1000, 1), 'partially_refunded'],
    [money(1000, 1000, 999), 'partially_refunded'],
    [money(1000, 1000, 1000), 'refunded'],
    [money(1000, 400, 100), 'partially_refunded'],
    [money(1000, 400, 400), 'refunded'],
    [money(1000, 0, 0, true), 'canceled'],
    [money(1000, 500, 0, true), 'canceled'],
    [money(1000, 500, 500, true), 'canceled'],
  ];
  for (const [m, status] of cases) assert.equal(orderStatus(m), status, JSON.stringify(m));
  assert.equal(amountRemaining(money(1000, 0, 0)), 1000);
  assert.equal(amountRemaining(money(1000, 400, 400)), 600, 'refunds do not reopen what was paid');
  assert.equal(amountRemaining(money(1000, 1200, 0)), 0, 'never negative');
});

test('every (from, to) pair of statuses: allowed exactly when the table says so', () => {
  for (const from of ORDER_STATUSES) {
    for (const to of ORDER_STATUSES) {
      const expected = from === to || EXPECTED_TRANSITIONS[from].includes(to);
      assert.equal(canOrderTransition(from, to), expected, `${from} -> ${to}`);
    }
  }
  assert.deepEqual(Object.keys(ORDER_TRANSITIONS).sort(), [...ORDER_STATUSES].sort());
  assert.deepEqual(ORDER_TRANSITIONS.canceled, [], 'canceled is terminal');
});

test('every (action, status) pair: allowed exactly when the table says so', () => {
  for (const action of Object.keys(EXPECTED_ALLOWED) as OrderAction[]) {
    for (const status of ORDER_STATUSES) {
      assert.equal(orderAllows(action, status), EXPECTED_ALLOWED[action].includes(status), `${action} on ${status}`);
    }
  }
  assert.deepEqual(Object.keys(ORDER_ALLOWED).sort(), Object.keys(EXPECTED_ALLOWED).sort());
});

/**
 * Every money state reachable by the real operations, for totals 1..4: create (open), pay x
 * (0 < x <= what remains), refund y (0 < y <= paid - refunded), cancel (open only, nothing paid),
 * update (open only: a new total). Each operation from each state must be allowed by the action
 * table in the state's status, and must land in a status the transition table allows; and every
 * transition of the table must actually happen somewhere.
 */
test('the tables are exactly what the operations do, over every reachable state of small orders', () => {
  type State = { total: number; paid: number; refunded: number; canceled: boolean };
  const status = (s: State) => orderStatus(money(s.total, s.paid, s.refunded, s.canceled));
  const key = (s: State) => `${s.total}/${s.paid}/${s.refunded}/${s.canceled}`;
  const seen = new Map<string, State>();
  const queue: State[] = [];
  const visit = (s: State) => { if (!seen.has(key(s))) { seen.set(key(s), s); queue.push(s); } };
  for (let total = 1; total <= 4; total++) visit({ total, paid: 0, refunded: 0, canceled: false });

  const happened = new Set<string>();
  const actionsSeen = new Set<string>();
  while (queue.length > 0) {
    const s = queue.shift()!;
    const from = status(s);
    const moves: Array<[OrderAction, State]> = [];
    if (!s.canceled) {
      for (let x = 1; x <= s.total - s.paid; x++) moves.push(['pay', { ...s, paid: s.paid + x }]);
      for (let y = 1; y <= s.paid - s.refunded; y++) moves.push(['refund', { ...s, refunded: s.refunded + y }]);
      if (s.paid === 0) {
        moves.push(['cancel', { ...s, canceled: true }]);
        for (let total = 1; total <= 4; total++) moves.push(['update', { ...s, total }]);
      }
    }
    moves.push(['update_metadata', s]);
    for (const [action, next] of moves) {
      const to = status(next);
      actionsSeen.add(`${action}:${from}`);
      assert.ok(orderAllows(action, from), `${action} happened from ${from} (${key(s)}) but the action table refuses it`);
      assert.ok(canOrderTransition(from, to), `${action} moved ${from} -> ${to} (${key(s)} -> ${key(next)}) but the transition table refuses it`);
      if (from !== to) happened.add(`${from}->${to}`);
      visit(next);
    }
  }
  for (const from of ORDER_STATUSES) {
    for (const to of ORDER_TRANSITIONS[from]) assert.ok(happened.has(`${from}->${to}`), `${from} -> ${to} is in the table but never happens`);
  }
  // And every allowed (action, status) pair is used by some reachable state: the table is not wider than needed.
  for (const action of Object.keys(ORDER_ALLOWED) as OrderAction[]) {
    for (const st of ORDER_ALLOWED[action]) assert.ok(actionsSeen.has(`${action}:${st}`), `${action} on ${st} is allowed but never possible`);
  }
  // paid has nothing left to pay, so a payment never starts from it; refunded has nothing left to refund.
  assert.ok(!actionsSeen.has('pay:paid'));
  assert.ok(!actionsSeen.has('refund:refunded'));
  assert.ok(!actionsSeen.has('refund:open'));
});
