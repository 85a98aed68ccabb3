/**
 * The workers' business actions, as the README documents the API. Each one is a short story
 * of requests through CampaignClient (every write journaled, retried with its own key until a
 * definitive answer); what it expected and what it saw goes into the Model, which the
 * invariants read after quiescing.
 */
import type { Answer, CampaignClient, OpArgs, OpName } from './client.ts';
import type { Rng } from './prng.ts';
import { findTestCard } from '../src/processor/cards.ts';

export const ACTION_KINDS = ['card_payment', 'manual_capture', 'racing_refunds', 'invoice_race', 'subscription_clock'] as const;
export type ActionKind = typeof ACTION_KINDS[number];

export const DEFAULT_WEIGHTS: Record<ActionKind, number> = {
  card_payment: 32, manual_capture: 16, racing_refunds: 20, invoice_race: 20, subscription_clock: 12,
};

export interface Unexpected {
  action: string;
  step: string;
  key?: string;
  expected: string;
  status?: number;
  body?: unknown;
}

export interface Model {
  /** Intents the campaign made, with what their final status must be. */
  payments: { pi: string; pm: string; expect: 'succeeded' | 'declined' | 'canceled'; amountReceived?: number }[];
  refundRaces: { pi: string; captured: number; refunds: { amount: number | null; status: number; id?: string; code?: string }[] }[];
  invoiceRaces: { invoice: string; pm: string; autoAdvance: boolean; pay: { status: number; invoiceStatus?: string; code?: string }; void: { status: number; invoiceStatus?: string; code?: string } }[];
  subscriptions: { id: string; clock: string; interval: 'day' | 'week' | 'month'; anchor: number; periods: number; finalTime: number }[];
  unexpected: Unexpected[];
}

export const newModel = (): Model => ({ payments: [], refundRaces: [], invoiceRaces: [], subscriptions: [], unexpected: [] });

/** An action stopped because a step answered what it must not (recorded in model.unexpected). */
export class ActionAborted extends Error {}

interface Ctx {
  client: CampaignClient;
  rng: Rng;
  model: Model;
  id: string;
}

const DECLINE_CARDS = ['pm_card_visa_chargeDeclined', 'pm_card_visa_chargeDeclinedInsufficientFunds'];
const SLOW_CARD = findTestCard('pm_card_oncepay_slow') ? 'pm_card_oncepay_slow' : undefined;

/** Sends and requires a status (and optionally an object status); records and aborts otherwise. */
async function step(c: Ctx, name: string, op: OpName, args: OpArgs, expect: { status: number; objectStatus?: string }): Promise<Answer> {
  const key = c.client.newKey(c.id, name);
  const a = await c.client.send(c.id, op, args, key);
  const objectStatus = a.body?.status;
  if (a.status !== expect.status || (expect.objectStatus !== undefined && objectStatus !== expect.objectStatus)) {
    c.model.unexpected.push({
      action: c.id, step: name, key, expected: `${expect.status}${expect.objectStatus ? ` ${expect.objectStatus}` : ''}`,
      status: a.status, body: a.body,
    });
    throw new ActionAborted(`${c.id} ${name}: expected ${expect.status} ${expect.objectStatus ?? ''}, got ${a.status} ${a.body?.status ?? a.body?.error?.code ?? ''}`);
  }
  return a;
}

function note(c: Ctx, name: string, expected: string, a: Answer): void {
  c.model.unexpected.push({ action: c.id, step: name, expected, status: a.status, body: a.body });
}

async function cardPayment(c: Ctx): Promise<void> {
  const choices: Array<readonly [string, number]> = [['pm_card_visa', 75], ['decline', 15], ...(SLOW_CARD ? [[SLOW_CARD, 10] as const] : [])];
  let pm = c.rng.weighted(choices);
  if (pm === 'decline') pm = c.rng.pick(DECLINE_CARDS);
  const declines = DECLINE_CARDS.includes(pm);
  const amount = c.rng.int(500, 20_000);
  let answer: Answer;
  if (c.rng.chance(0.3)) {
    const created = await step(c, 'create', 'payment_intents.create', { params: { amount, currency: 'usd', payment_method: pm } }, { status: 200, objectStatus: 'requires_confirmation' });
    answer = await c.client.send(c.id, 'payment_intents.confirm', { id: created.body.id, params: {} }, c.client.newKey(c.id, 'confirm'));
  } else {
    answer = await c.client.send(c.id, 'payment_intents.create', { params: { amount, currency: 'usd', payment_method: pm, confirm: true } }, c.client.newKey(c.id, 'create-confirm'));
  }
  if (declines) {
    const pi = answer.body?.error?.payment_intent?.id;
    if (answer.status !== 402 || !pi) return note(c, 'confirm', '402 with error.payment_intent', answer);
    c.model.payments.push({ pi, pm, expect: 'declined' });
  } else {
    if (answer.status !== 200 || answer.body.status !== 'succeeded') return note(c, 'confirm', '200 succeeded', answer);
    c.model.payments.push({ pi: answer.body.id, pm, expect: 'succeeded', amountReceived: amount });
  }
}

async function manualCapture(c: Ctx): Promise<void> {
  const amount = c.rng.int(1000, 30_000);
  const pi = await step(c, 'authorize', 'payment_intents.create',
    { params: { amount, currency: 'usd', payment_method: 'pm_card_visa', capture_method: 'manual', confirm: true } },
    { status: 200, objectStatus: 'requires_capture' });
  const id = pi.body.id as string;
  if (c.rng.chance(0.15)) {
    await step(c, 'cancel', 'payment_intents.cancel', { id, params: { cancellation_reason: 'requested_by_customer' } }, { status: 200, objectStatus: 'canceled' });
    c.model.payments.push({ pi: id, pm: 'pm_card_visa', expect: 'canceled' });
    return;
  }
  const partial = c.rng.chance(0.5) ? c.rng.int(1, amount) : undefined;
  const captured = await step(c, 'capture', 'payment_intents.capture', { id, params: partial === undefined ? {} : { amount_to_capture: partial } }, { status: 200, objectStatus: 'succeeded' });
  const received = partial ?? amount;
  if (captured.body.amount_received !== received) note(c, 'capture', `amount_received ${received}`, captured);
  c.model.payments.push({ pi: id, pm: 'pm_card_visa', expect: 'succeeded', amountReceived: received });
}

async function racingRefunds(c: Ctx): Promise<void> {
  const amount = c.rng.int(3000, 12_000);
  const pi = await step(c, 'charge', 'payment_intents.create',
    { params: { amount, currency: 'usd', payment_method: 'pm_card_visa', confirm: true } }, { status: 200, objectStatus: 'succeeded' });
  const id = pi.body.id as string;
  c.model.payments.push({ pi: id, pm: 'pm_card_visa', expect: 'succeeded', amountReceived: amount });
  const n = c.rng.chance(0.5) ? 2 : 3;
  // Amounts whose sum exceeds the capture, so at least one must be refused.
  const lo = n === 2 ? 0.55 : 0.36;
  const hi = n === 2 ? 0.9 : 0.6;
  const amounts: Array<number | null> = Array.from({ length: n }, () => c.rng.int(Math.ceil(amount * lo), Math.floor(amount * hi)));
  if (c.rng.chance(0.2)) amounts[0] = null; // a full refund of what is left
  const keys = amounts.map((_, i) => c.client.newKey(c.id, `refund${i}`));
  const answers = await Promise.all(amounts.map((amt, i) =>
    c.client.send(c.id, 'refunds.create', { params: amt === null ? { payment_intent: id } : { payment_intent: id, amount: amt } }, keys[i])));
  const refunds = answers.map((a, i) => ({ amount: amounts[i], status: a.status, id: a.status === 200 ? a.body.id as string : undefined, code: a.body?.error?.code as string | undefined }));
  c.model.refundRaces.push({ pi: id, captured: amount, refunds });
  answers.forEach((a, i) => {
    if (a.status === 200 && a.body.status !== 'succeeded') note(c, `refund${i}`, 'refund succeeded', a);
    // Refused: more than is left (amount_too_large), or nothing left at all (charge_already_refunded).
    if (a.status !== 200 && !(a.status === 400 && ['amount_too_large', 'charge_already_refunded'].includes(a.body?.error?.code))) {
      note(c, `refund${i}`, '200, or 400 amount_too_large / charge_already_refunded', a);
    }
  });
}

async function invoiceRace(c: Ctx): Promise<void> {
  const pm = c.rng.chance(0.1) ? c.rng.pick(DECLINE_CARDS) : 'pm_card_visa';
  const cus = await step(c, 'customer', 'customers.create', { params: { email: `${c.id}@example.com`, invoice_settings: { default_payment_method: pm } } }, { status: 200 });
  const customer = cus.body.id as string;
  const items = c.rng.int(1, 2);
  for (let i = 0; i < items; i++) {
    await step(c, `item${i}`, 'invoiceitems.create', { params: { customer, amount: c.rng.int(500, 9000), currency: 'usd', description: `campaign item ${i}` } }, { status: 200 });
  }
  // With auto_advance the wall-clock billing run may collect it first, racing pay and void too.
  const autoAdvance = c.rng.chance(0.3);
  const draft = await step(c, 'invoice', 'invoices.create', {
    params: { customer, collection_method: 'charge_automatically', pending_invoice_items_behavior: 'include', auto_advance: autoAdvance },
  }, { status: 200, objectStatus: 'draft' });
  const invoice = draft.body.id as string;
  await step(c, 'finalize', 'invoices.finalize', { id: invoice, params: {} }, { status: 200, objectStatus: 'open' });
  const payKey = c.client.newKey(c.id, 'pay');
  const voidKey = c.client.newKey(c.id, 'void');
  const payFirst = c.rng.chance(0.5);
  const stagger = c.rng.int(0, 30);
  const pay = (async () => { if (!payFirst) await new Promise((r) => setTimeout(r, stagger)); return c.client.send(c.id, 'invoices.pay', { id: invoice, params: {} }, payKey); })();
  const voided = (async () => { if (payFirst) await new Promise((r) => setTimeout(r, stagger)); return c.client.send(c.id, 'invoices.void', { id: invoice, params: {} }, voidKey); })();
  const [p, v] = await Promise.all([pay, voided]);
  const summary = (a: Answer) => ({ status: a.status, invoiceStatus: a.status === 200 ? a.body.status as string : undefined, code: a.body?.error?.code as string | undefined });
  c.model.invoiceRaces.push({ invoice, pm, autoAdvance, pay: summary(p), void: summary(v) });
  if (p.status === 200 && p.body.status !== 'paid') note(c, 'pay', '200 paid', p);
  if (v.status === 200 && v.body.status !== 'void') note(c, 'void', '200 void', v);
  if (p.status === 200 && v.status === 200) note(c, 'pay+void', 'not both pay and void succeeding', v);
  // Neither won: a decline (the invoice stays open, then the void wins... or is refused while
  // the payment is in flight), or the billing run collected an auto_advance invoice first.
  const collectedByBilling = autoAdvance && [p, v].every((a) => a.status === 400 && a.body?.error?.code === 'invoice_unexpected_state');
  const declined = pm !== 'pm_card_visa' && p.status === 402;
  if (p.status !== 200 && v.status !== 200 && !collectedByBilling && !declined) note(c, 'pay+void', 'one of pay and void succeeding', p);
}

const DAY = 86_400;

function addInterval(t: number, interval: 'day' | 'week' | 'month', n: number): number {
  if (interval === 'day') return t + n * DAY;
  if (interval === 'week') return t + n * 7 * DAY;
  const d = new Date(t * 1000); // anchors are on day 1..28: no month-end clamping
  return Math.floor(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + n, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()) / 1000);
}

async function subscriptionClock(c: Ctx): Promise<void> {
  const interval = c.rng.pick(['day', 'week', 'month'] as const);
  const frozen = Math.floor(Date.UTC(2026, c.rng.int(0, 11), c.rng.int(1, 28), 12, 0, 0) / 1000);
  const clock = await step(c, 'clock', 'test_clocks.create', { params: { frozen_time: frozen, name: c.id } }, { status: 200 });
  const clockId = clock.body.id as string;
  const cus = await step(c, 'customer', 'customers.create', { params: { email: `${c.id}@example.com`, test_clock: clockId, invoice_settings: { default_payment_method: 'pm_card_visa' } } }, { status: 200 });
  const product = await step(c, 'product', 'products.create', { params: { name: `Plan ${c.id}` } }, { status: 200 });
  const price = await step(c, 'price', 'prices.create', {
    params: { product: product.body.id, currency: 'usd', unit_amount: c.rng.int(500, 5000), recurring: { interval } },
  }, { status: 200 });
  const sub = await step(c, 'subscription', 'subscriptions.create', {
    params: { customer: cus.body.id, items: [{ price: price.body.id, quantity: c.rng.int(1, 3) }] },
  }, { status: 200, objectStatus: 'active' });
  const anchor = sub.body.billing_cycle_anchor as number;
  let periods = 0;
  let t = frozen;
  const advances = c.rng.int(1, 3);
  for (let i = 0; i < advances; i++) {
    periods += c.rng.int(1, interval === 'day' ? 4 : 2);
    t = addInterval(anchor, interval, periods) + 3600; // an hour past the boundary, never on it
    await step(c, `advance${i}`, 'test_clocks.advance', { id: clockId, params: { frozen_time: t } }, { status: 200, objectStatus: 'ready' });
  }
  c.model.subscriptions.push({ id: sub.body.id, clock: clockId, interval, anchor, periods, finalTime: t });
}

const RUNNERS: Record<ActionKind, (c: Ctx) => Promise<void>> = {
  card_payment: cardPayment,
  manual_capture: manualCapture,
  racing_refunds: racingRefunds,
  invoice_race: invoiceRace,
  subscription_clock: subscriptionClock,
};

export function runAction(kind: ActionKind, c: Ctx): Promise<void> {
  return RUNNERS[kind](c);
}

export { addInterval };
