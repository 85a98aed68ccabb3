/**
 * Invoices happen once: under concurrency, across processes, across kill -9.
 *
 *  (a) Numbering, in process: 40 invoices finalized at once (some twice, under two keys) get the
 *      numbers 1..40 of the account's sequence: no gap, no duplicate; finalizations refused in the
 *      same batch (a negative total, refused before a number is drawn; an unknown expand, refused
 *      after it was drawn, in the same transaction) take none.
 *  (b) Numbering, PostgreSQL only: two server processes on one database finalize 30 invoices.
 *  (c) Paying: 20 concurrent pay requests for one invoice (one key; twenty keys; card and out of
 *      band mixed), in process and across two processes: exactly one sale in the acquirer's
 *      ledger, the others replay or are refused (409 idempotency_key_in_use / lock_timeout, 400
 *      already paid). And an invoice whose payment intent is completed directly (3-D Secure, or a
 *      new card after a decline) is not charged a second time.
 *  (d) kill -9 after each step of a card payment (invoices.pay: begin, authorize, record) and after
 *      finalize: the retry with the same Idempotency-Key, or the completer without any client,
 *      finishes it: paid once, one sale, invoice.paid once; the number drawn once.
 *  (e) Reminders: exactly once per offset, across two processes with kill -9 of one (PostgreSQL),
 *      across a kill -9 and restart (PGlite), and on a test clock advanced (and re-run) several
 *      times; reminders due before the invoice was finalized are skipped.
 *
 * The acquirer's ledger is the ground truth of money moved. Process tests use a PGlite data
 * directory per scenario, or (PostgreSQL) a private schema, as crash_kill.test.ts does.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type Stripe from 'stripe';
import pg from 'pg';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { send, type Reply } from '../helpers/stripe_errors.ts';
import { sales } from '../helpers/ledger.ts';
import { eventsAbout } from '../helpers/events.ts';
import { uniqueKey } from '../helpers/unique.ts';
import { intentOf } from '../helpers/invoices.ts';
import {
  cleanupServersAndStores, createPrivateSchema, dropPrivateSchemas, explain, mapLimit, newSecretKey, newStore, pollUntil, spawnServer,
  STORE, usingPostgres, withTimeout, type LedgerEntry, type ServerProcess, type Store,
} from '../helpers/processes.ts';
import type { Invoice, InvoiceMessage } from '../../src/billing/billing_objects.ts';
import { SHARED_DATABASE_ONLY } from '../helpers/store.ts';

const TIMEOUT = 180_000;
const PG_ONLY = SHARED_DATABASE_ONLY;
/** Crash rows run a few at a time: each spawns two servers. */
const PARALLEL = Number(process.env.CRASH_PARALLEL ?? 3);
const DAY = 86_400;

/**
 * One in-process server for the in-process tests (each on an account of its own): PGlite's start
 * costs seconds. Closed, and its responses checked against the OpenAPI document, at the end.
 */
let sharedServer: Promise<TestServer> | undefined;
const shared = () => (sharedServer ??= startTestServer());
after(async () => {
  await cleanupServersAndStores();
  if (sharedServer) await (await sharedServer).close();
});

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const nowSeconds = () => Math.floor(Date.now() / 1000);

// ---------------------------------------------------------------------------------------------
// One way to talk to an in-process server and to a child process alike

interface Target {
  stripe(opts?: { maxNetworkRetries?: number }): Stripe;
  raw(method: string, path: string, opts?: { body?: string; headers?: Record<string, string> }): Promise<Reply>;
  ledger(reference?: string): Promise<LedgerEntry[]>;
}

function inProcess(s: TestServer, account: { key: string; accountId: string }): Target {
  return {
    stripe: (o = {}) => s.stripe({ key: account.key, maxNetworkRetries: o.maxNetworkRetries }),
    raw: (method, path, o = {}) => send(s, method, path, { ...o, key: account.key, timeoutMs: 60_000 }),
    ledger: async (reference) => (await s.oncepay.processor.ledger(account.accountId, reference)) as unknown as LedgerEntry[],
  };
}

const inv = (p: Promise<unknown>) => p as Promise<Invoice>;

async function payingCustomer(stripe: Stripe, card = 'pm_card_visa'): Promise<Stripe.Customer> {
  return stripe.customers.create({ email: 'once@example.com', invoice_settings: { default_payment_method: card } });
}

async function draftFor(stripe: Stripe, customer: string, amounts: number[], extra: Record<string, unknown> = {}): Promise<Invoice> {
  const d = await inv(stripe.invoices.create({ customer, ...extra } as Stripe.InvoiceCreateParams));
  for (const amount of amounts) {
    await stripe.invoiceItems.create({ customer, amount, currency: d.currency, invoice: d.id } as Stripe.InvoiceItemCreateParams);
  }
  return inv(stripe.invoices.retrieve(d.id));
}

async function openFor(stripe: Stripe, customer: string, amount: number, extra: Record<string, unknown> = {}): Promise<Invoice> {
  return inv(stripe.invoices.finalizeInvoice((await draftFor(stripe, customer, [amount], extra)).id));
}

/** The number's sequence part (PREFIX-0042 -> 42). */
function suffix(number: string | null): number {
  assert.ok(number, 'a finalized invoice has a number');
  const m = /^([A-Z0-9]+)-(\d{4,})$/.exec(number);
  assert.ok(m, `number ${number} is PREFIX-NNNN`);
  return Number(m[2]);
}

/**
 * The invoice is paid by card exactly once: paid, its intent succeeded, and the account's whole
 * ledger holds one approved sale, of the invoice's amount, for that intent (every test of this
 * file that calls this has an account of its own, or counts only this invoice's intents).
 */
async function assertPaidOnce(t: Target, invoiceId: string, amount: number, opts: { wholeAccount?: boolean } = {}): Promise<Invoice> {
  const stripe = t.stripe();
  const paid = await inv(stripe.invoices.retrieve(invoiceId));
  assert.equal(paid.status, 'paid');
  assert.deepEqual([paid.amount_paid, paid.amount_remaining, paid.amount_paid_off_stripe], [amount, 0, 0]);
  const piId = await intentOf(stripe, paid.id);
  assert.match(piId ?? '', /^pi_/);
  const pi = await stripe.paymentIntents.retrieve(piId!);
  assert.deepEqual([pi.status, pi.amount_received], ['succeeded', amount]);
  const intents = (await stripe.paymentIntents.list({ customer: paid.customer, limit: 100 })).data.map((p) => p.id);
  const ledger = opts.wholeAccount ? await t.ledger() : (await Promise.all(intents.map((id) => t.ledger(id)))).flat();
  const sold = sales(ledger);
  assert.deepEqual(sold.map((e) => [e.reference, e.amount]), [[pi.id, amount]], `exactly one sale for the invoice: ${JSON.stringify(ledger)}`);
  if (opts.wholeAccount) assert.deepEqual(ledger.filter((e) => e.kind !== 'authorization').length, 1, `nothing else moved money: ${JSON.stringify(ledger)}`);
  assert.equal((await eventsAbout(stripe, 'invoice.paid', invoiceId)).length, 1, 'invoice.paid once');
  assert.equal((await eventsAbout(stripe, 'invoice.payment_succeeded', invoiceId)).length, 1, 'invoice.payment_succeeded once');
  return paid;
}

// ---------------------------------------------------------------------------------------------
// (a), (b) numbering

interface FinalizeRequest { invoice: string; key: string; body: string; kind: 'good' | 'duplicate' | 'negative' | 'bad_expand' }

/**
 * Sends every finalization at once (request i to targets[i % n]) and checks the outcomes: every
 * good invoice finalized exactly once (its duplicate refused as not a draft), the negative ones
 * refused before drawing a number, the bad expands refused after drawing one. Returns the numbers.
 */
async function finalizeBatch(targets: Target[], requests: FinalizeRequest[]): Promise<Map<string, string>> {
  const replies = await Promise.all(requests.map((r, i) => targets[i % targets.length].raw('POST', `/v1/invoices/${r.invoice}/finalize`, {
    body: r.body, headers: { 'Idempotency-Key': r.key },
  })));
  const numbers = new Map<string, string>();
  replies.forEach((res, i) => {
    const r = requests[i];
    const show = `${r.kind} ${r.invoice}: HTTP ${res.status} ${res.text.slice(0, 300)}`;
    if (res.status === 200) {
      assert.ok(r.kind === 'good' || r.kind === 'duplicate', show);
      assert.equal(res.json.status, 'open', show);
      assert.ok(!numbers.has(r.invoice), `finalized twice: ${show}`);
      numbers.set(r.invoice, res.json.number);
      return;
    }
    assert.equal(res.status, 400, show);
    assert.equal(res.json.error.type, 'invalid_request_error', show);
    if (r.kind === 'negative') assert.equal(res.json.error.param, 'invoice', show);
    else if (r.kind === 'bad_expand') assert.equal(res.json.error.param, 'expand', show);
    else assert.equal(res.json.error.code, 'invoice_unexpected_state', show); // the other of a pair finalized it
  });
  for (const r of requests) if (r.kind === 'good') assert.ok(numbers.has(r.invoice), `${r.invoice} was finalized by one of its requests`);
  return numbers;
}

/** The numbers are exactly 1..n, each once. */
function assertGapless(numbers: Iterable<string>, n: number): void {
  const seqs = [...numbers].map(suffix).sort((a, b) => a - b);
  assert.deepEqual(seqs, range(n).map((i) => i + 1), `numbers ${seqs.join(',')}`);
}

/** Drafts for a batch: `good` finalizable ones, half of them asked twice under another key; negatives; bad expands. */
async function batchOf(stripe: Stripe, customers: Stripe.Customer[], good: number, extra: { negative: number; badExpand: number }) {
  const goods = await mapLimit(range(good), 6, (i) => draftFor(stripe, customers[i % customers.length].id, [100 + i]));
  const negatives = await mapLimit(range(extra.negative), 6, (i) => draftFor(stripe, customers[i % customers.length].id, [100, -600]));
  const badExpands = await mapLimit(range(extra.badExpand), 6, (i) => draftFor(stripe, customers[i % customers.length].id, [250]));
  const requests: FinalizeRequest[] = [];
  goods.forEach((d, i) => {
    requests.push({ invoice: d.id, key: uniqueKey(`fin-${i}`), body: '', kind: 'good' });
    if (i % 2 === 0) requests.push({ invoice: d.id, key: uniqueKey(`fin-dup-${i}`), body: '', kind: 'duplicate' });
  });
  negatives.forEach((d, i) => requests.splice(3 * i + 1, 0, { invoice: d.id, key: uniqueKey('fin-neg'), body: '', kind: 'negative' }));
  badExpands.forEach((d, i) => requests.splice(4 * i + 2, 0, { invoice: d.id, key: uniqueKey('fin-exp'), body: 'expand[]=no_such_field', kind: 'bad_expand' }));
  return { goods, negatives, badExpands, requests };
}

describe(`invoice numbering [${STORE}]`, () => {
  test('40 invoices finalized concurrently in one process: numbers 1..40, no gap, no duplicate, even with refusals in the batch', { timeout: TIMEOUT }, async () => {
    const s = await shared();
    const account = await s.newAccount();
    const t = inProcess(s, account);
    const stripe = t.stripe();
    const customers = await Promise.all(range(4).map(() => payingCustomer(stripe)));
    const { goods, negatives, badExpands, requests } = await batchOf(stripe, customers, 40, { negative: 5, badExpand: 5 });
    const numbers = await finalizeBatch([t], requests);
    assertGapless(numbers.values(), 40);
    for (const d of goods) {
      const got = await inv(stripe.invoices.retrieve(d.id));
      assert.equal(got.number, numbers.get(d.id));
      assert.ok(got.number!.startsWith(`${customers.find((c) => c.id === got.customer)!.invoice_prefix}-`), 'the customer\'s prefix');
    }
    for (const d of [...negatives, ...badExpands]) {
      const got = await inv(stripe.invoices.retrieve(d.id));
      assert.deepEqual([got.status, got.number], ['draft', null], `${d.id} refused: still a draft without a number`);
    }
    // The sequence goes on where it stopped: the refusals took nothing.
    const later = await mapLimit(badExpands, 5, (d) => inv(stripe.invoices.finalizeInvoice(d.id)));
    assertGapless([...numbers.values(), ...later.map((x) => x.number!)], 45);
    const listed = (await stripe.invoices.list({ status: 'open', limit: 100 })).data as unknown as Invoice[];
    assert.equal(new Set(listed.map((x) => x.number)).size, 45, 'no duplicate number among the account\'s invoices');
  });

  test('two server processes on one PostgreSQL finalize 30 invoices concurrently (each asked on both): numbers 1..30', { timeout: TIMEOUT, skip: PG_ONLY }, async () => {
    const store = await newStore();
    const secret = newSecretKey();
    const servers: ServerProcess[] = [];
    try {
      servers.push(...await Promise.all([spawnServer({ store, key: secret }), spawnServer({ store, key: secret })]));
      const stripe = servers[0].stripe();
      const customers = await Promise.all(range(3).map(() => payingCustomer(stripe)));
      const { requests } = await batchOf(stripe, customers, 30, { negative: 3, badExpand: 3 });
      // Every good invoice asked on both servers: pairs sit next to each other, so i and i+1 go to different processes.
      const numbers = await finalizeBatch(servers, requests);
      assertGapless(numbers.values(), 30);
      const fromOther = (await servers[1].stripe().invoices.list({ status: 'open', limit: 100 })).data as unknown as Invoice[];
      assertGapless(fromOther.map((x) => x.number!), 30);
    } catch (err) {
      explain(err, servers);
    } finally {
      await Promise.all(servers.map((x) => x.kill()));
      store.dispose();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// (c) paying concurrently

interface Burst { first: Reply[]; final: Reply[] }

async function payBurst(targets: Target[], invoiceId: string, n: number, keyFor: (i: number) => string, bodyFor: (i: number) => string = () => ''): Promise<Burst> {
  const one = (i: number) => targets[i % targets.length].raw('POST', `/v1/invoices/${invoiceId}/pay`, { body: bodyFor(i), headers: { 'Idempotency-Key': keyFor(i) } });
  const first = await Promise.all(range(n).map(one));
  const final = [...first];
  for (const i of range(n)) {
    if (first[i].status === 409) final[i] = await pollUntil(() => one(i), (r) => r.status !== 409, { timeoutMs: 30_000, intervalMs: 200 });
  }
  return { first, final };
}

const show = (r: Reply) => `HTTP ${r.status} ${r.text.slice(0, 300)}`;

/**
 * One key: one execution; the rest replay it (byte for byte) or were told to retry (409). A twin
 * that arrives before the first request's first phase committed runs its own first phase: it
 * either collides on the key (idempotency_key_in_use) or, having waited for the invoice's row
 * lock, finds the payment in flight (lock_timeout). Either way nothing of it is saved.
 */
function assertOneKeyBurst(b: Burst, invoiceId: string): void {
  for (const r of b.first) {
    if (r.status === 409) assert.ok(['idempotency_key_in_use', 'lock_timeout'].includes(r.json?.error?.code), show(r));
    else assert.equal(r.status, 200, show(r));
  }
  for (const r of b.final) assert.equal(r.status, 200, show(r));
  const executed = b.final.filter((r) => r.headers.get('idempotent-replayed') !== 'true');
  assert.equal(executed.length, 1, 'exactly one request executed');
  for (const r of b.final) assert.equal(r.text, executed[0].text, 'every answer is the one response');
  assert.equal(executed[0].json.id, invoiceId);
  assert.equal(executed[0].json.status, 'paid');
}

/** Many keys: one payment; the others were refused as busy (409 lock_timeout) or as already paid (400). */
function assertManyKeysBurst(b: Burst): Reply {
  for (const r of b.first) {
    if (r.status === 409) assert.equal(r.json?.error?.code, 'lock_timeout', show(r));
    else if (r.status === 400) assert.equal(r.json?.error?.code, 'invoice_unexpected_state', show(r));
    else assert.equal(r.status, 200, show(r));
  }
  const ok = b.final.filter((r) => r.status === 200);
  assert.equal(ok.length, 1, `exactly one payment succeeded: ${b.final.map((r) => r.status)}`);
  for (const r of b.final) if (r.status !== 200) assert.deepEqual([r.status, r.json?.error?.code], [400, 'invoice_unexpected_state'], show(r));
  return ok[0];
}

async function paymentRaces(targets: Target[], amount: number): Promise<void> {
  const stripe = targets[0].stripe();
  // Each race bills a customer of its own, so "the customer's intents" are the invoice's.

  // One key, 20 times at once.
  const a = await openFor(stripe, (await payingCustomer(stripe)).id, amount);
  const key = uniqueKey('pay-once');
  assertOneKeyBurst(await payBurst(targets, a.id, 20, () => key), a.id);
  await assertPaidOnce(targets[0], a.id, amount);

  // Twenty keys at once.
  const b = await openFor(stripe, (await payingCustomer(stripe)).id, amount + 1);
  const won = assertManyKeysBurst(await payBurst(targets, b.id, 20, (i) => uniqueKey(`pay-${i}`)));
  assert.equal(won.json.id, b.id);
  await assertPaidOnce(targets[0], b.id, amount + 1);

  // Card and out of band mixed, twenty keys: one of them pays it; money moves at most once.
  const cus = await payingCustomer(stripe);
  const c = await openFor(stripe, cus.id, amount + 2);
  const mixed = assertManyKeysBurst(await payBurst(targets, c.id, 20, (i) => uniqueKey(`mix-${i}`), (i) => (i % 2 ? 'paid_out_of_band=true' : '')));
  const paid = await inv(stripe.invoices.retrieve(c.id));
  assert.equal(paid.status, 'paid');
  assert.equal(mixed.json.amount_paid_off_stripe, paid.amount_paid_off_stripe);
  const intents = (await stripe.paymentIntents.list({ customer: cus.id, limit: 100 })).data.map((p) => p.id);
  const sold = sales((await Promise.all(intents.map((id) => targets[0].ledger(id)))).flat());
  assert.deepEqual(sold.map((e) => e.reference), paid.amount_paid_off_stripe > 0 ? [] : [await intentOf(stripe, paid.id)], 'one sale if a card paid it, none if out of band');
  assert.equal((await eventsAbout(stripe, 'invoice.paid', c.id)).length, 1);
}

describe(`paying an invoice concurrently [${STORE}]`, () => {
  test('20 concurrent pay requests in one process (one key; twenty keys; card and out of band mixed): one payment, one sale', { timeout: TIMEOUT }, async () => {
    const s = await shared();
    await paymentRaces([inProcess(s, await s.newAccount())], 3100);
  });

  test('20 concurrent pay requests split across two server processes on one PostgreSQL: one payment, one sale', { timeout: TIMEOUT, skip: PG_ONLY }, async () => {
    const store = await newStore();
    const secret = newSecretKey();
    const servers: ServerProcess[] = [];
    try {
      servers.push(...await Promise.all([spawnServer({ store, key: secret }), spawnServer({ store, key: secret })]));
      await paymentRaces(servers, 4100);
    } catch (err) {
      explain(err, servers);
    } finally {
      await Promise.all(servers.map((x) => x.kill()));
      store.dispose();
    }
  });

  test('while a payment is being authorized (a slow card): another payment, out of band, void and mark_uncollectible are 409 lock_timeout; a description change is kept', { timeout: TIMEOUT }, async () => {
    const s = await shared();
    const t = inProcess(s, await s.newAccount());
    const stripe = t.stripe();
    const cus = await payingCustomer(stripe, 'pm_card_oncepay_slow'); // approves after 3 s
    const open = await openFor(stripe, cus.id, 2700);
    const paying = t.raw('POST', `/v1/invoices/${open.id}/pay`, { body: '', headers: { 'Idempotency-Key': uniqueKey('slow') } });
    const inFlight = await pollUntil(() => intentOf(stripe, open.id), (pi) => pi !== null, { timeoutMs: 10_000, intervalMs: 20 });
    assert.equal((await stripe.paymentIntents.retrieve(inFlight!)).status, 'processing');
    for (const [path, body] of [['/pay', ''], ['/pay', 'paid_out_of_band=true'], ['/pay', 'payment_method=pm_card_visa'], ['/void', ''], ['/mark_uncollectible', '']]) {
      const r = await t.raw('POST', `/v1/invoices/${open.id}${path}`, { body, headers: { 'Idempotency-Key': uniqueKey('busy') } });
      assert.deepEqual([r.status, r.json?.error?.code, r.headers.get('retry-after')], [409, 'lock_timeout', '1'], `${path} ${body} during the payment: ${show(r)}`);
    }
    const described = await t.raw('POST', `/v1/invoices/${open.id}`, { body: 'description=changed%20meanwhile' });
    assert.equal(described.status, 200, show(described));
    const done = await paying;
    assert.equal(done.status, 200, show(done));
    const paid = await assertPaidOnce(t, open.id, 2700);
    assert.equal(paid.description, 'changed meanwhile', 'the payment\'s record phase re-read the invoice: the change made meanwhile is kept');
    assert.equal(paid.amount_paid_off_stripe, 0);
  });

  describe('an invoice whose payment intent the customer completes directly is paid, and never charged a second time', () => {
    let s: TestServer;
    let t: Target;
    before(async () => {
      s = await shared();
      t = inProcess(s, await s.newAccount());
    });

    for (const how of ['3-D Secure: the intent needing authentication is confirmed', 'a decline: the intent is confirmed with another card'] as const) {
      const threeDs = how.startsWith('3-D');
      test(how, { timeout: TIMEOUT }, async () => {
        const stripe = t.stripe();
        const cus = await payingCustomer(stripe, threeDs ? 'pm_card_authenticationRequired' : 'pm_card_visa_chargeDeclined');
        const open = await openFor(stripe, cus.id, 3000);
        const err = await stripe.invoices.pay(open.id).then(() => assert.fail('the first attempt must not pay'), (e) => e);
        assert.equal(err.statusCode, 402);
        const pi = err.raw.payment_intent as Stripe.PaymentIntent;
        // What the 402 tells the client to do (and what Stripe's invoice integrations do): complete the intent.
        if (threeDs) assert.match(err.raw.message, new RegExp(`confirm payment intent ${pi.id}`));
        const done = await stripe.paymentIntents.confirm(pi.id, threeDs ? {} : { payment_method: 'pm_card_visa' });
        assert.equal(done.status, 'succeeded', 'the customer paid');
        const afterConfirm = await inv(stripe.invoices.retrieve(open.id));
        const retry = await stripe.invoices.pay(open.id, { payment_method: 'pm_card_visa' }).then((v) => v as unknown as Invoice, (e) => e as Error);
        const sold = sales((await Promise.all(
          (await stripe.paymentIntents.list({ customer: cus.id, limit: 100 })).data.map((p) => t.ledger(p.id)))).flat());
        assert.deepEqual(sold.map((e) => e.reference), [pi.id],
          `one sale for the invoice; got ${sold.length} (${sold.map((e) => e.reference)}): the invoice was still ${afterConfirm.status} after its intent succeeded, and paying it again ${retry instanceof Error ? `was refused (${retry.message})` : `charged it again (invoice ${retry.id} ${retry.status})`}`);
        assert.equal(afterConfirm.status, 'paid', 'an invoice whose payment intent succeeded is paid');
      });
    }
  });
});

describe(`the billing run finalizes and collects once [${STORE}]`, () => {
  test('drafts with auto_advance on a test clock: finalized an hour after creation and charged once however often the run repeats; a decline is not retried by the run', { timeout: TIMEOUT }, async () => {
    const s = await shared();
    const account = await s.newAccount();
    const t = inProcess(s, account);
    const stripe = t.stripe();
    const FROZEN = 1_767_225_600;
    const clock = await stripe.testHelpers.testClocks.create({ frozen_time: FROZEN });
    const onClock = (card: string) => stripe.customers.create({ email: 'auto@example.com', test_clock: clock.id, invoice_settings: { default_payment_method: card } });
    const good = await onClock('pm_card_visa');
    const bad = await onClock('pm_card_visa_chargeDeclined');
    const d1 = await draftFor(stripe, good.id, [5000], { auto_advance: true });
    const d2 = await draftFor(stripe, bad.id, [6000], { auto_advance: true });
    assert.deepEqual([d1.created, d1.automatically_finalizes_at], [FROZEN, FROZEN + 3600]);
    const runAgain = () => s.oncepay.billing.run({ accountId: account.accountId, clock: clock.id });

    await stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: FROZEN + 1800 });
    assert.equal((await inv(stripe.invoices.retrieve(d1.id))).status, 'draft', 'not yet an hour old');
    await stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: FROZEN + 3600 + 60 });
    await runAgain();
    await runAgain();
    await stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: FROZEN + 2 * DAY });
    await runAgain();

    const paid = await assertPaidOnce(t, d1.id, 5000);
    assert.equal(paid.attempt_count, 1);
    const failed = await inv(stripe.invoices.retrieve(d2.id));
    assert.deepEqual([failed.status, failed.attempt_count, failed.attempted, failed.next_payment_attempt], ['open', 1, true, null]);
    const badIntents = (await stripe.paymentIntents.list({ customer: bad.id, limit: 100 })).data.map((p) => p.id);
    const attempts = (await Promise.all(badIntents.map((id) => t.ledger(id)))).flat();
    assert.equal(attempts.length, 1, `one (declined) attempt at the acquirer: ${JSON.stringify(attempts)}`);
    assert.deepEqual(sales(attempts), []);
    for (const [type, id, n] of [['invoice.finalized', d1.id, 1], ['invoice.finalized', d2.id, 1], ['invoice.payment_failed', d2.id, 1], ['invoice.paid', d2.id, 0]] as const) {
      assert.equal((await eventsAbout(stripe, type, id)).length, n, `${type} about ${id}`);
    }
    assertGapless([paid.number!, failed.number!], 2);
  });
});

// ---------------------------------------------------------------------------------------------
// (d) kill -9

async function expectKilled(srv: ServerProcess, pending: Promise<unknown>, fault: string): Promise<void> {
  const settled = await withTimeout(pending.then((value) => ({ ok: true as const, value }), (error) => ({ ok: false as const, error })), 30_000, `request to the server armed with ${fault}`);
  if (settled.ok) assert.fail(`fault ${fault} did not fire: answered ${JSON.stringify(settled.value).slice(0, 300)}\n${srv.output()}`);
  const exit = await withTimeout(srv.exited, 10_000, `exit of the server armed with ${fault}`);
  assert.equal(exit.signal, 'SIGKILL', `server armed with ${fault} should die by SIGKILL, got ${JSON.stringify(exit)}`);
  assert.equal((settled.error as { type?: string })?.type, 'StripeConnectionError', `the client sees the connection die: ${settled.error}`);
}

const PAY_AMOUNT = 2600;
const PAY_STEPS = ['begin', 'authorize', 'record'] as const;

/** A faulted server makes an open invoice, then dies paying it under `key`. */
async function crashPaying(step: string, store: Store, key: string): Promise<{ secret: string; invoice: Invoice }> {
  const fault = `kill:invoices.pay:${step}`;
  const secret = newSecretKey();
  const faulted = await spawnServer({ store, key: secret, faults: fault });
  try {
    const stripe = faulted.stripe();
    const cus = await payingCustomer(stripe);
    const invoice = await openFor(stripe, cus.id, PAY_AMOUNT);
    await expectKilled(faulted, stripe.invoices.pay(invoice.id, {}, { idempotencyKey: key }), fault);
    return { secret, invoice };
  } catch (err) {
    explain(err, [faulted]);
  } finally {
    await faulted.kill();
  }
}

/** After a kill after the processor answered: the resume asked again with the same downstream key. */
async function assertProcessorAskedAgain(srv: ServerProcess, step: string, intent: string): Promise<void> {
  if (step !== 'authorize') return;
  const sale = sales(await srv.ledger(intent), { outcome: 'any' });
  assert.equal(sale.length, 1);
  assert.ok(sale[0].attempts >= 2, `the sale recorded before the kill was asked again with the same downstream key: ${JSON.stringify(sale[0])}`);
}

describe(`kill -9 while paying an invoice, then a retry with the same Idempotency-Key [${STORE}]`, { concurrency: PARALLEL }, () => {
  for (const step of PAY_STEPS) {
    const last = step === 'record';
    test(`invoices.pay killed after ${step} -> the retry ${last ? 'replays' : 'resumes'}: paid once, one sale, invoice.paid once`, { timeout: TIMEOUT }, async () => {
      const store = await newStore();
      const key = uniqueKey(`inv-crash-${step}`);
      let restarted: ServerProcess | undefined;
      try {
        const { secret, invoice } = await crashPaying(step, store, key);
        restarted = await spawnServer({ store, key: secret }); // completer out of the way
        const stripe = restarted.stripe({ maxNetworkRetries: 5 });
        // Meanwhile, a payment under another key never charges again: the invoice is busy or paid.
        const other = await restarted.raw('POST', `/v1/invoices/${invoice.id}/pay`, { body: '', headers: { 'Idempotency-Key': uniqueKey('other') } });
        assert.ok((other.status === 409 && other.json.error.code === 'lock_timeout') || (other.status === 400 && other.json.error.code === 'invoice_unexpected_state'),
          `a pay under another key: ${show(other)}`);
        if (!last) assert.equal(other.status, 409, 'the dead request\'s intent is still processing: busy');
        const retry = await stripe.invoices.pay(invoice.id, {}, { idempotencyKey: key });
        if (last) assert.equal(retry.lastResponse.headers['idempotent-replayed'], 'true', 'the response was stored before the kill');
        assert.equal(retry.status, 'paid');
        const paid = await assertPaidOnce(restarted, invoice.id, PAY_AMOUNT, { wholeAccount: true });
        assert.equal(paid.attempt_count, 1);
        await assertProcessorAskedAgain(restarted, step, (await intentOf(stripe, paid.id))!);
        const again = await stripe.invoices.pay(invoice.id, {}, { idempotencyKey: key });
        assert.equal(again.lastResponse.headers['idempotent-replayed'], 'true');
        await assertPaidOnce(restarted, invoice.id, PAY_AMOUNT, { wholeAccount: true });
      } catch (err) {
        explain(err, [restarted]);
      } finally {
        await restarted?.kill();
        store.dispose();
      }
    });
  }

  test('invoices.finalize killed after its phase -> the retry replays the same number; the next invoice takes the next one', { timeout: TIMEOUT }, async () => {
    const store = await newStore();
    const secret = newSecretKey();
    const key = uniqueKey('fin-crash');
    let restarted: ServerProcess | undefined;
    try {
      const fault = 'kill:invoices.finalize:finalize';
      const faulted = await spawnServer({ store, key: secret, faults: fault });
      let draft: Invoice;
      let cus: Stripe.Customer;
      try {
        cus = await payingCustomer(faulted.stripe());
        draft = await draftFor(faulted.stripe(), cus.id, [900]);
        await expectKilled(faulted, faulted.stripe().invoices.finalizeInvoice(draft.id, {}, { idempotencyKey: key }), fault);
      } catch (err) {
        explain(err, [faulted]);
      } finally {
        await faulted.kill();
      }
      restarted = await spawnServer({ store, key: secret });
      const stripe = restarted.stripe({ maxNetworkRetries: 5 });
      const response = await stripe.invoices.finalizeInvoice(draft.id, {}, { idempotencyKey: key });
      assert.equal(response.lastResponse.headers['idempotent-replayed'], 'true');
      const retry = response as unknown as Invoice;
      assert.deepEqual([retry.status, retry.number], ['open', `${cus.invoice_prefix}-0001`]);
      const next = await openFor(stripe, cus.id, 300);
      assert.equal(next.number, `${cus.invoice_prefix}-0002`, 'no gap, no duplicate');
      assert.equal((await eventsAbout(stripe, 'invoice.finalized', draft.id)).length, 1);
    } catch (err) {
      explain(err, [restarted]);
    } finally {
      await restarted?.kill();
      store.dispose();
    }
  });
});

describe(`kill -9 while paying an invoice, nobody retries: the completer finishes it [${STORE}]`, { concurrency: PARALLEL }, () => {
  for (const step of PAY_STEPS) {
    const last = step === 'record';
    test(`invoices.pay killed after ${step} -> ${last ? 'already final' : 'the completer finishes it'}: paid once, one sale, invoice.paid once`, { timeout: TIMEOUT }, async () => {
      const store = await newStore();
      const key = uniqueKey(`inv-converge-${step}`);
      let restarted: ServerProcess | undefined;
      try {
        const { secret, invoice } = await crashPaying(step, store, key);
        restarted = await spawnServer({ store, key: secret, completerInterval: '200ms', lockTimeout: '1s' });
        const stripe = restarted.stripe();
        const got = await pollUntil(() => inv(stripe.invoices.retrieve(invoice.id)), (x) => x.status === 'paid', { timeoutMs: 20_000 });
        assert.equal(got.status, 'paid', `no client retried: the completer should have paid it within 20 s\n${restarted.output()}`);
        const paid = await assertPaidOnce(restarted, invoice.id, PAY_AMOUNT, { wholeAccount: true });
        await assertProcessorAskedAgain(restarted, step, (await intentOf(stripe, paid.id))!);
        // The completer stored the response under the key: a late retry replays it.
        const late = await restarted.stripe({ maxNetworkRetries: 5 }).invoices.pay(invoice.id, {}, { idempotencyKey: key });
        assert.equal(late.lastResponse.headers['idempotent-replayed'], 'true');
        assert.equal(late.status, 'paid');
        await assertPaidOnce(restarted, invoice.id, PAY_AMOUNT, { wholeAccount: true });
      } catch (err) {
        explain(err, [restarted]);
      } finally {
        await restarted?.kill();
        store.dispose();
      }
    });
  }
});

// ---------------------------------------------------------------------------------------------
// (e) reminders

const REMINDER_ENV = { ONCEPAY_BILLING_INTERVAL: '200ms', ONCEPAY_INVOICE_REMINDERS: '0s,1s,2s' };
/** How far ahead of now the due date is set: time enough to finalize before the first reminder. */
const DUE_IN = 4;

const messagesOf = async (stripe: Stripe, id: string): Promise<InvoiceMessage[]> =>
  ((await stripe.rawRequest('GET', `/v1/invoices/${id}/messages?limit=100`)) as unknown as { data: InvoiceMessage[] }).data;
const reminders = async (stripe: Stripe, id: string) => (await messagesOf(stripe, id)).filter((m) => m.type === 'reminder');

/** A send_invoice invoice due DUE_IN seconds from now, finalized now. */
async function dueSoon(stripe: Stripe): Promise<Invoice> {
  const cus = await stripe.customers.create({ email: 'remind@example.com' });
  const open = await openFor(stripe, cus.id, 1500, { collection_method: 'send_invoice', due_date: nowSeconds() + DUE_IN });
  assert.ok(open.status_transitions.finalized_at! <= open.due_date!, 'finalized before its first reminder is due');
  return open;
}

/**
 * Exactly the configured reminders, once each: one message per offset (to the customer, with the
 * invoice.reminder event recorded with it), and one invoice.reminder event per message.
 */
async function assertRemindedOnce(stripe: Stripe, invoice: Invoice, offsets: number[]): Promise<void> {
  const msgs = await reminders(stripe, invoice.id);
  assert.deepEqual(msgs.map((m) => m.reminder_offset).sort((a, b) => a! - b!), offsets, `one reminder per offset: ${JSON.stringify(msgs)}`);
  for (const m of msgs) {
    assert.equal(m.to, 'remind@example.com');
    assert.equal(m.created, invoice.due_date! + m.reminder_offset!);
    assert.match(m.subject, new RegExp(invoice.number!));
  }
  const events = await eventsAbout(stripe, 'invoice.reminder', invoice.id);
  assert.equal(events.length, offsets.length, `one invoice.reminder event per reminder: ${events.map((e) => e.id)}`);
  assert.deepEqual(events.map((e) => e.id).sort(), msgs.map((m) => m.event).sort(), 'each message names its event');
}

/** Waits until every reminder is due and sent, then a few more billing passes, so a duplicate would show. */
async function waitForReminders(stripe: Stripe, invoice: Invoice, n: number, servers: ServerProcess[]): Promise<void> {
  const got = await pollUntil(() => reminders(stripe, invoice.id), (m) => m.length >= n, { timeoutMs: 30_000, intervalMs: 200 });
  assert.ok(got.length >= n, `${n} reminders within 30 s, got ${got.length}\n${servers.map((x) => x.output().slice(-2000)).join('\n')}`);
  // Past the last offset, every process ran several more passes (200 ms each) over the invoice.
  const lastAt = (invoice.due_date! + 2 + 1) * 1000;
  await pollUntil(async () => Date.now(), (t) => t >= lastAt, { timeoutMs: 30_000, intervalMs: 100 });
}

describe(`invoice reminders exactly once [${STORE}]`, () => {
  test('two server processes (billing every 200 ms, reminders at 0s,1s,2s), one killed with kill -9 and restarted midway: each reminder once', { timeout: TIMEOUT, skip: PG_ONLY }, async () => {
    const { schema, url } = await createPrivateSchema('inv_reminders');
    const store: Store = { databaseUrl: url, dispose() {} };
    const secret = newSecretKey();
    const servers: ServerProcess[] = [];
    try {
      servers.push(await spawnServer({ store, key: secret, env: REMINDER_ENV }));
      servers.push(await spawnServer({ store, key: secret, env: REMINDER_ENV }));
      const stripe = servers[1].stripe();
      const invoice = await dueSoon(stripe);
      await pollUntil(() => reminders(stripe, invoice.id), (m) => m.length >= 1, { timeoutMs: 30_000, intervalMs: 100 });
      assert.equal((await servers[0].kill()).signal, 'SIGKILL');
      servers[0] = await spawnServer({ store, key: secret, env: REMINDER_ENV });
      await waitForReminders(stripe, invoice, 3, servers);
      await assertRemindedOnce(stripe, invoice, [0, 1, 2]);
      await assertRemindedOnce(servers[0].stripe(), invoice, [0, 1, 2]);
      // The bookkeeping behind it: one row per offset, all sent.
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        const { rows } = await client.query('SELECT offset_seconds, sent FROM invoice_reminders WHERE invoice_id = $1 ORDER BY offset_seconds', [invoice.id]);
        assert.deepEqual(rows.map((r) => [Number(r.offset_seconds), r.sent]), [[0, true], [1, true], [2, true]]);
      } finally {
        await client.end();
      }
    } catch (err) {
      explain(err, servers);
    } finally {
      await Promise.all(servers.map((x) => x.kill()));
      await dropPrivateSchemas([schema]);
    }
  });

  test('one server on a PGlite data directory, killed with kill -9 and restarted during the reminder window: each reminder once', {
    timeout: TIMEOUT, skip: usingPostgres() ? 'DATABASE_URL is set: the two-process test above covers PostgreSQL; this is about one PGlite directory' : false,
  }, async () => {
    const store = await newStore();
    const secret = newSecretKey();
    const servers: ServerProcess[] = [];
    try {
      servers.push(await spawnServer({ store, key: secret, env: REMINDER_ENV }));
      const invoice = await dueSoon(servers[0].stripe());
      await pollUntil(() => reminders(servers[0].stripe(), invoice.id), (m) => m.length >= 1, { timeoutMs: 30_000, intervalMs: 100 });
      assert.equal((await servers[0].kill()).signal, 'SIGKILL');
      servers[0] = await spawnServer({ store, key: secret, env: REMINDER_ENV });
      const stripe = servers[0].stripe();
      await waitForReminders(stripe, invoice, 3, servers);
      await assertRemindedOnce(stripe, invoice, [0, 1, 2]);
    } catch (err) {
      explain(err, servers);
    } finally {
      await Promise.all(servers.map((x) => x.kill()));
      store.dispose();
    }
  });

  /** One in-process server with reminders 3 days before, 1 and 7 days after the due date; each test has its own account. */
  let clockServerStarted: Promise<TestServer> | undefined;
  const clockServer = () => (clockServerStarted ??= startTestServer({ config: { invoiceReminderOffsets: [-3 * DAY, DAY, 7 * DAY] } }));
  after(async () => { if (clockServerStarted) await (await clockServerStarted).close(); });

  test('on a test clock: advancing past due date + offsets (the same advance again, the billing run again, further advances) reminds once per offset; reminders due before finalization are skipped', { timeout: TIMEOUT }, async () => {
    const s = await clockServer();
    const account = await s.newAccount();
    const stripe = s.stripe({ key: account.key });
    const FROZEN = 1_767_225_600; // 2026-01-01T00:00:00Z
    const clock = await stripe.testHelpers.testClocks.create({ frozen_time: FROZEN });
    const cus = await stripe.customers.create({ email: 'remind@example.com', test_clock: clock.id });
    const invoice = await openFor(stripe, cus.id, 4000, { collection_method: 'send_invoice', days_until_due: 1 });
    assert.deepEqual([invoice.status_transitions.finalized_at, invoice.due_date], [FROZEN, FROZEN + DAY]);
    const settled = await openFor(stripe, cus.id, 100, { collection_method: 'send_invoice', days_until_due: 1 });
    await stripe.invoices.pay(settled.id, { paid_out_of_band: true });
    const drafted = await draftFor(stripe, cus.id, [100], { collection_method: 'send_invoice', days_until_due: 1 });

    const advance = (to: number, key: string) => stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: to }, { idempotencyKey: key });
    const k1 = uniqueKey('advance');
    const a1 = await advance(FROZEN + 2 * DAY + 60, k1); // past due + 1d
    assert.equal(a1.status, 'ready');
    await assertRemindedOnce(stripe, invoice, [DAY]);
    const r1 = await advance(FROZEN + 2 * DAY + 60, k1);
    assert.equal(r1.lastResponse.headers['idempotent-replayed'], 'true', 'the same advance again: replayed');
    await s.oncepay.billing.run({ accountId: account.accountId, clock: clock.id });
    await s.oncepay.billing.run({ accountId: account.accountId, clock: clock.id });
    await assertRemindedOnce(stripe, invoice, [DAY]);

    await advance(FROZEN + 3 * DAY, uniqueKey('advance'));
    await assertRemindedOnce(stripe, invoice, [DAY]);
    await advance(FROZEN + 8 * DAY + 60, uniqueKey('advance')); // past due + 7d
    await assertRemindedOnce(stripe, invoice, [DAY, 7 * DAY]);
    await advance(FROZEN + 30 * DAY, uniqueKey('advance'));
    await s.oncepay.billing.run({ accountId: account.accountId, clock: clock.id });
    await assertRemindedOnce(stripe, invoice, [DAY, 7 * DAY]);

    // The reminder due 3 days before the due date fell before the finalization: recorded as skipped, never sent.
    const { rows } = await s.oncepay.db.query<{ offset_seconds: number | string; sent: boolean }>(
      'SELECT offset_seconds, sent FROM invoice_reminders WHERE account_id = $1 AND invoice_id = $2 ORDER BY offset_seconds', [account.accountId, invoice.id]);
    assert.deepEqual(rows.map((r) => [Number(r.offset_seconds), r.sent]), [[-3 * DAY, false], [DAY, true], [7 * DAY, true]]);
    // Paid and draft invoices are not reminded.
    assert.deepEqual(await messagesOf(stripe, settled.id), []);
    assert.deepEqual(await messagesOf(stripe, drafted.id), []);
    assert.deepEqual((await eventsAbout(stripe, 'invoice.reminder', settled.id)).length, 0);
  });

  test('on a test clock with more than 500 open invoices still waiting for a later reminder: a newer invoice\'s due reminder is sent all the same', { timeout: TIMEOUT }, async () => {
    const s = await clockServer();
    const account = await s.newAccount();
    const stripe = s.stripe({ key: account.key });
    const FROZEN = 1_767_225_600;
    const clock = await stripe.testHelpers.testClocks.create({ frozen_time: FROZEN });
    const cus = await stripe.customers.create({ email: 'remind@example.com', test_clock: clock.id });
    const terms = { collection_method: 'send_invoice', days_until_due: 5 }; // due FROZEN + 5d; first reminder (-3d) at FROZEN + 2d
    const older = await openFor(stripe, cus.id, 100, terms);
    // 500 more open invoices like it, older than the one watched below. Made in SQL (the API would
    // take minutes on PGlite): the same row under new ids, all open on the same clock.
    await s.oncepay.db.query(
      `INSERT INTO invoices (account_id, id, created, data, customer, status, deleted, subscription, period_start, order_id, test_clock)
       SELECT account_id, 'in_bulk' || g || 'x' || substr(id, 4, 6), created,
              jsonb_set(data::jsonb, '{id}', to_jsonb('in_bulk' || g || 'x' || substr(id, 4, 6)))::json,
              customer, status, deleted, subscription, period_start, order_id, test_clock
         FROM invoices, generate_series(1, 500) g WHERE account_id = $1 AND id = $2`, [account.accountId, older.id]);
    const newer = await openFor(stripe, cus.id, 200, terms);
    assert.equal(newer.due_date, older.due_date);
    await stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: FROZEN + 2 * DAY + 60 });
    await stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: FROZEN + 2 * DAY + 120 });
    await stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: FROZEN + 3 * DAY });
    assert.deepEqual((await reminders(stripe, older.id)).map((m) => m.reminder_offset), [-3 * DAY]);
    const got = (await reminders(stripe, newer.id)).map((m) => m.reminder_offset);
    assert.deepEqual(got, [-3 * DAY],
      'the invoice\'s reminder 3 days before its due date was due a day ago, over three billing runs, and was not sent: each run takes the 500 oldest open invoices with fewer reminder rows than offsets, which are the same 500 until their last reminder (7 days after the due date)');
  });
});
