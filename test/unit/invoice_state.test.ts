/**
 * The invoice state machine as a pure table: which status each action may start from
 * (INVOICE_ACTIONS), where it leads, the refusal requireInvoiceAction gives otherwise, and the
 * transition table (INVOICE_TRANSITIONS) checked against the moves the actions make. The same
 * table is walked end to end, on real invoices, in test/e2e/invoices.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  INVOICE_ACTIONS, INVOICE_TRANSITIONS, buildInvoice, requireInvoiceAction, type InvoiceAction,
} from '../../src/billing/invoice_core.ts';
import { INVOICE_STATUSES, type Invoice, type InvoiceStatus } from '../../src/billing/billing_objects.ts';
import { ApiError } from '../../src/errors.ts';
import type { Customer } from '../../src/payments/payment_objects.ts';

// Stripe's invoice lifecycle, written out independently of the implementation's table.
const EXPECTED: Record<InvoiceAction, { from: InvoiceStatus[]; to: InvoiceStatus | null }> = {
  update: { from: ['draft'], to: 'draft' },
  delete: { from: ['draft'], to: null },
  finalize: { from: ['draft'], to: 'open' },
  send: { from: ['open'], to: 'open' },
  pay: { from: ['open', 'uncollectible'], to: 'paid' },
  void: { from: ['open', 'uncollectible'], to: 'void' },
  mark_uncollectible: { from: ['open'], to: 'uncollectible' },
};
const ACTIONS = Object.keys(EXPECTED) as InvoiceAction[];

/** Every status move the API can make, as Stripe documents the lifecycle. */
const EXPECTED_TRANSITIONS: Record<InvoiceStatus, InvoiceStatus[]> = {
  draft: ['open'],
  open: ['paid', 'void', 'uncollectible'],
  uncollectible: ['paid', 'void'],
  paid: [],
  void: [],
};

function invoiceIn(status: InvoiceStatus): Invoice {
  const customer = { id: 'cus_unit', email: null, name: null, test_clock: null } as unknown as Customer;
  const inv = buildInvoice({
    customer, currency: 'usd', collectionMethod: 'charge_automatically', daysUntilDue: null, dueDate: null, autoAdvance: false,
    billingReason: 'manual', description: null, metadata: {}, defaultPaymentMethod: null, externalId: null, order: null,
    subscription: null, period: { start: 1_700_000_000, end: 1_700_000_000 }, now: 1_700_000_000,
  });
  inv.status = status;
  return inv;
}

/** The words a refusal must use to name the status (paid: "already paid", void: "voided"). */
const NAMES: Record<InvoiceStatus, RegExp> = {
  draft: /\bdraft\b/, open: /\bopen\b/, paid: /\bpaid\b/, uncollectible: /\buncollectible\b/, void: /\bvoid(ed)?\b/,
};

test('INVOICE_ACTIONS is exactly Stripe\'s lifecycle: every action, the statuses it starts from, where it leads', () => {
  assert.deepEqual(Object.keys(INVOICE_ACTIONS).sort(), [...ACTIONS].sort());
  for (const action of ACTIONS) {
    assert.deepEqual([...INVOICE_ACTIONS[action].from].sort(), [...EXPECTED[action].from].sort(), `${action}: from`);
    assert.equal(INVOICE_ACTIONS[action].to, EXPECTED[action].to, `${action}: to`);
  }
  assert.deepEqual(Object.keys(INVOICE_TRANSITIONS).sort(), [...INVOICE_STATUSES].sort());
  for (const s of INVOICE_STATUSES) assert.deepEqual([...INVOICE_TRANSITIONS[s]].sort(), [...EXPECTED_TRANSITIONS[s]].sort(), `transitions from ${s}`);
});

test('every status x every action: requireInvoiceAction accepts exactly the allowed pairs, and refuses the others in Stripe\'s shape naming the status', () => {
  let accepted = 0;
  let refused = 0;
  for (const status of INVOICE_STATUSES) {
    for (const action of ACTIONS) {
      const inv = invoiceIn(status);
      const allowed = EXPECTED[action].from.includes(status);
      let err: unknown;
      try {
        requireInvoiceAction(inv, action);
      } catch (e) {
        err = e;
      }
      if (allowed) {
        assert.equal(err, undefined, `${action} on ${status} must be accepted`);
        accepted++;
        continue;
      }
      refused++;
      assert.ok(err instanceof ApiError, `${action} on ${status} must be refused with an ApiError, got ${err}`);
      assert.equal(err.status, 400, `${action} on ${status}`);
      assert.equal(err.body.type, 'invalid_request_error');
      assert.equal(err.body.code, action === 'update' || action === 'delete' ? 'invoice_not_editable' : 'invoice_unexpected_state', `${action} on ${status}`);
      assert.match(err.body.message, NAMES[status], `${action} on ${status}: the message names the status: ${err.body.message}`);
      assert.match(err.body.message, new RegExp(inv.id), 'the message names the invoice');
      for (const s of EXPECTED[action].from) assert.match(err.body.message, new RegExp(`\\b${s}\\b`), `${action}: the message names the allowed status ${s}`);
      assert.equal(err.transient, false, 'a wrong state is a final answer, saved under the key');
    }
  }
  assert.equal(accepted + refused, INVOICE_STATUSES.length * ACTIONS.length);
  assert.equal(accepted, Object.values(EXPECTED).reduce((n, a) => n + a.from.length, 0));
});

test('INVOICE_TRANSITIONS covers every move an action makes, and holds no move that no action makes', () => {
  const made = new Set<string>();
  for (const action of ACTIONS) {
    const { from, to } = INVOICE_ACTIONS[action];
    for (const s of from) {
      if (to === null || to === s) continue; // delete removes the draft; update and send stay put
      assert.ok(INVOICE_TRANSITIONS[s].includes(to), `${action} moves ${s} -> ${to}, which INVOICE_TRANSITIONS does not list`);
      made.add(`${s}->${to}`);
    }
  }
  // Finalizing a zero-total invoice goes draft -> open -> paid in one call: both moves are listed.
  assert.ok(INVOICE_TRANSITIONS.draft.includes('open') && INVOICE_TRANSITIONS.open.includes('paid'));
  for (const s of INVOICE_STATUSES) {
    for (const to of INVOICE_TRANSITIONS[s]) assert.ok(made.has(`${s}->${to}`), `${s} -> ${to} is in INVOICE_TRANSITIONS but no action makes it`);
  }
  // paid and void are terminal: no action starts from them.
  for (const terminal of ['paid', 'void'] as const) {
    assert.deepEqual(INVOICE_TRANSITIONS[terminal], []);
    assert.deepEqual(ACTIONS.filter((a) => INVOICE_ACTIONS[a].from.includes(terminal)), []);
  }
});
