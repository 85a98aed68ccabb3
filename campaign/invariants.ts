/**
 * What must hold once the campaign has quiesced. Each check returns its violations (one line
 * each, with the evidence); the summary counts them per invariant.
 *
 * Ground truth is the test acquirer's ledger (GET /v1/test_helpers/acquirer_ledger), the API's
 * own objects, the journal of first answers, the Oncepay database (read directly) and the
 * receiver's table.
 */
import type pg from 'pg';
import type Stripe from 'stripe';
import { attempt, type Journal, type JournalEntry, type ServerError } from './client.ts';
import type { Model } from './actions.ts';
import type { Outage } from './pg_cluster.ts';
import { RECEIVED_TABLE, PROCESSED_TABLE, type ReceiverCounts } from './receiver.ts';
import { sleep } from './prng.ts';

export interface InvariantResult {
  name: string;
  description: string;
  checked: number;
  violations: string[];
  /** Extra figures (not violations). */
  notes?: Record<string, unknown>;
}

export interface Direct {
  /** Unproxied clients, one per server. */
  stripes: Stripe[];
  urls: string[];
  key: string;
}

interface LedgerEntry {
  downstream_key: string;
  kind: 'sale' | 'authorization' | 'capture' | 'void' | 'refund';
  reference: string;
  amount: number;
  outcome: string;
}

/** GET with retries (a server may still be catching up after the faults). */
async function getJson(d: Direct, path: string): Promise<any> {
  let lastErr: unknown;
  for (let i = 0; i < 20; i++) {
    const url = d.urls[i % d.urls.length];
    try {
      const res = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${d.key}` }, signal: AbortSignal.timeout(15_000) });
      const text = await res.text();
      if (res.status === 200) return JSON.parse(text);
      lastErr = new Error(`GET ${path}: ${res.status} ${text.slice(0, 300)}`);
      if (res.status < 500 && res.status !== 429) throw lastErr;
    } catch (err) {
      lastErr = err;
    }
    await sleep(250 * (i + 1));
  }
  throw lastErr;
}

/** Every object of a list route (Stripe pagination). */
async function listAll(d: Direct, path: string, params = ''): Promise<any[]> {
  const out: any[] = [];
  let after: string | undefined;
  for (;;) {
    const q = `limit=100${params ? `&${params}` : ''}${after ? `&starting_after=${after}` : ''}`;
    const page = await getJson(d, `${path}?${q}`);
    out.push(...page.data);
    if (!page.has_more || page.data.length === 0) return out;
    after = page.data[page.data.length - 1].id;
  }
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  }));
  return results;
}

const approvedCharge = (e: LedgerEntry) => (e.kind === 'sale' || e.kind === 'authorization') && e.outcome === 'approved';
const capturedAmount = (entries: LedgerEntry[]) =>
  entries.filter((e) => (e.kind === 'sale' && e.outcome === 'approved') || e.kind === 'capture').reduce((s, e) => s + Number(e.amount), 0);
const successfulCharges = (entries: LedgerEntry[]) => entries.filter((e) => (e.kind === 'sale' && e.outcome === 'approved') || e.kind === 'capture').length;
const refunded = (entries: LedgerEntry[]) => entries.filter((e) => e.kind === 'refund');

export interface World {
  intents: any[];
  ledger: Map<string, LedgerEntry[]>;
  refunds: any[];
  charges: any[];
  invoices: any[];
}

/** Reads every intent (and its ledger), refund, charge and invoice through the API. */
export async function loadWorld(d: Direct): Promise<World> {
  const [intents, refunds, charges, listed, payments] = [
    await listAll(d, '/v1/payment_intents'), await listAll(d, '/v1/refunds'), await listAll(d, '/v1/charges'), await listAll(d, '/v1/invoices'),
    await listAll(d, '/v1/invoice_payments'),
  ];
  // Since 2025-03-31 an invoice names neither its intent nor its subscription: its payments (newest
  // first, so the first seen is the current one) and parent do. The checks read them as before.
  const intentOf = new Map<string, string>();
  for (const p of payments) if (!intentOf.has(p.invoice)) intentOf.set(p.invoice, p.payment.payment_intent);
  const invoices = listed.map((i) => ({
    ...i, payment_intent: intentOf.get(i.id) ?? null, paid_out_of_band: i.amount_paid_off_stripe > 0,
    subscription: i.parent?.subscription_details?.subscription ?? null,
  }));
  const ledger = new Map<string, LedgerEntry[]>();
  await mapLimit(intents, 6, async (pi) => {
    const r = await getJson(d, `/v1/test_helpers/acquirer_ledger?reference=${encodeURIComponent(pi.id)}`);
    ledger.set(pi.id, r.data);
  });
  return { intents, ledger, refunds, charges, invoices };
}

const cap = (list: string[], n = 50) => (list.length > n ? [...list.slice(0, n), `... and ${list.length - n} more`] : list);

export function checkExactlyOnce(w: World, journal: Journal, model: Model, subInvoices: Map<string, any[]>): InvariantResult {
  const v: string[] = [];
  let checked = 0;
  for (const pi of w.intents) {
    checked++;
    const entries = w.ledger.get(pi.id) ?? [];
    const byKey = new Map<string, number>();
    for (const e of entries) byKey.set(e.downstream_key, (byKey.get(e.downstream_key) ?? 0) + 1);
    for (const [k, n] of byKey) if (n > 1) v.push(`${pi.id}: downstream key ${k} appears ${n} times in the ledger`);
    const charges = entries.filter(approvedCharge);
    if (charges.length > 1) v.push(`${pi.id}: charged ${charges.length} times: ${charges.map((e) => `${e.kind} ${e.downstream_key} ${e.amount}`).join(', ')}`);
    if (successfulCharges(entries) > 1) v.push(`${pi.id}: ${successfulCharges(entries)} successful charges (sales + captures)`);
  }
  // Every journaled answer that says "succeeded" has exactly one successful charge behind it.
  const invoicePi = new Map(w.invoices.map((i) => [i.id, i.payment_intent as string | null]));
  for (const e of journal.entries.values()) {
    if (e.status !== 200) continue;
    let pi: string | null | undefined;
    if (e.body?.object === 'payment_intent' && e.body.status === 'succeeded') pi = e.body.id;
    else if (e.op === 'invoices.pay' && e.body?.status === 'paid') pi = e.body.payment_intent ?? invoicePi.get(e.body.id);
    else if (e.op === 'subscriptions.create' && e.body?.status === 'active') {
      const inv = typeof e.body.latest_invoice === 'string' ? e.body.latest_invoice : e.body.latest_invoice?.id;
      pi = inv ? invoicePi.get(inv) : undefined;
      if (!pi) { v.push(`${e.key}: subscription ${e.body.id} answered active, but its first invoice has no payment intent`); continue; }
    } else continue;
    checked++;
    if (!pi) { v.push(`${e.key}: ${e.op} answered succeeded without a payment intent`); continue; }
    const n = successfulCharges(w.ledger.get(pi) ?? []);
    if (n !== 1) v.push(`${e.key}: ${e.op} answered succeeded for ${pi}, which has ${n} successful charges in the ledger`);
  }
  // Subscriptions: one invoice per period, each paid, once.
  for (const s of model.subscriptions) {
    checked++;
    const invs = subInvoices.get(s.id) ?? [];
    const expected = s.periods + 1;
    if (invs.length !== expected) v.push(`${s.id} (${s.interval}, ${s.periods} periods passed): ${invs.length} invoices, expected ${expected}`);
    const starts = new Set(invs.map((i) => i.period_start));
    if (starts.size !== invs.length) v.push(`${s.id}: two invoices for one period`);
    for (const inv of invs) {
      if (inv.status !== 'paid') v.push(`${s.id}: invoice ${inv.id} is ${inv.status}, expected paid`);
      else if (inv.amount_due > 0) {
        const n = inv.payment_intent ? successfulCharges(w.ledger.get(inv.payment_intent) ?? []) : 0;
        if (n !== 1) v.push(`${s.id}: paid invoice ${inv.id} has ${n} successful charges`);
      }
    }
  }
  return { name: 'exactly_once', description: 'at most one charge per intent and downstream key; every "succeeded" answer has exactly one; one invoice per subscription period', checked, violations: cap(v) };
}

export function checkLedgerAgrees(w: World, model: Model): InvariantResult {
  const v: string[] = [];
  let checked = 0;
  const refundsByPi = new Map<string, any[]>();
  for (const r of w.refunds) {
    if (r.status !== 'succeeded') continue;
    const list = refundsByPi.get(r.payment_intent) ?? [];
    list.push(r);
    refundsByPi.set(r.payment_intent, list);
  }
  for (const pi of w.intents) {
    checked++;
    const entries = w.ledger.get(pi.id) ?? [];
    const captured = capturedAmount(entries);
    if (captured !== pi.amount_received) v.push(`${pi.id}: ledger captured ${captured}, API amount_received ${pi.amount_received} (status ${pi.status})`);
    if (pi.status === 'succeeded' && successfulCharges(entries) !== 1) v.push(`${pi.id}: succeeded with ${successfulCharges(entries)} successful charges in the ledger`);
    if (pi.status !== 'succeeded' && captured > 0) v.push(`${pi.id}: status ${pi.status} but the ledger captured ${captured}`);
    const ledgerRefunds = refunded(entries);
    const apiRefunds = refundsByPi.get(pi.id) ?? [];
    const lr = ledgerRefunds.map((e) => e.downstream_key).sort().join(',');
    const ar = apiRefunds.map((r) => r.id).sort().join(',');
    if (lr !== ar) v.push(`${pi.id}: ledger refunds [${lr}] differ from succeeded API refunds [${ar}]`);
    const lsum = ledgerRefunds.reduce((s, e) => s + Number(e.amount), 0);
    const asum = apiRefunds.reduce((s, r) => s + r.amount, 0);
    if (lsum !== asum) v.push(`${pi.id}: ledger refunded ${lsum}, API refunds sum to ${asum}`);
    if (lsum > captured) v.push(`${pi.id}: refunded ${lsum} > captured ${captured}`);
  }
  // A charge's amount_refunded is, as on Stripe, its refunds plus the part of the authorization
  // that was never captured once it is released (by a partial capture, or canceling the intent).
  const refundedOfCharge = new Map<string, number>();
  for (const r of w.refunds) if (r.status === 'succeeded') refundedOfCharge.set(r.charge, (refundedOfCharge.get(r.charge) ?? 0) + r.amount);
  for (const ch of w.charges) {
    checked++;
    const explicit = refundedOfCharge.get(ch.id) ?? 0;
    const released = ch.amount_refunded - explicit;
    if (explicit > ch.amount_captured) v.push(`${ch.id}: refunds of ${explicit} > amount_captured ${ch.amount_captured}`);
    if (released !== 0 && released !== ch.amount - ch.amount_captured) {
      v.push(`${ch.id}: amount_refunded ${ch.amount_refunded} is neither its refunds (${explicit}) nor those plus the uncaptured ${ch.amount - ch.amount_captured}`);
    }
  }
  const intents = new Map(w.intents.map((p) => [p.id, p]));
  for (const p of model.payments) {
    checked++;
    const pi = intents.get(p.pi);
    if (!pi) { v.push(`${p.pi}: answered to the campaign but not listed by the API`); continue; }
    const want = p.expect === 'declined' ? 'requires_payment_method' : p.expect;
    if (pi.status !== want) v.push(`${p.pi} (${p.pm}): status ${pi.status}, expected ${want}`);
    if (p.amountReceived !== undefined && pi.amount_received !== p.amountReceived) v.push(`${p.pi}: amount_received ${pi.amount_received}, expected ${p.amountReceived}`);
  }
  for (const r of model.refundRaces) {
    checked++;
    const ok = r.refunds.filter((x) => x.status === 200);
    const sum = ok.reduce((s, x) => s + (x.amount ?? 0), 0);
    const ledgerSum = refunded(w.ledger.get(r.pi) ?? []).reduce((s, e) => s + Number(e.amount), 0);
    if (ok.length === 0) v.push(`${r.pi}: no refund of the race succeeded`);
    if (ok.every((x) => x.amount !== null) && ledgerSum !== sum) v.push(`${r.pi}: the race's succeeded refunds sum to ${sum}, the ledger refunded ${ledgerSum}`);
    if (ledgerSum > r.captured) v.push(`${r.pi}: refunded ${ledgerSum} of ${r.captured}`);
  }
  const invoices = new Map(w.invoices.map((i) => [i.id, i]));
  for (const inv of w.invoices) {
    checked++;
    const pi = inv.payment_intent ? intents.get(inv.payment_intent) : undefined;
    const captured = inv.payment_intent ? capturedAmount(w.ledger.get(inv.payment_intent) ?? []) : 0;
    if (inv.status === 'paid' && inv.amount_due > 0 && !inv.paid_out_of_band) {
      if (!pi) v.push(`${inv.id}: paid without a payment intent`);
      else if (pi.amount_received !== inv.amount_paid || captured !== inv.amount_paid) v.push(`${inv.id}: paid ${inv.amount_paid}, intent received ${pi.amount_received}, ledger captured ${captured}`);
    }
    if (inv.status !== 'paid' && captured > 0) v.push(`${inv.id}: ${inv.status}, but its intent ${inv.payment_intent} captured ${captured}`);
  }
  for (const r of model.invoiceRaces) {
    checked++;
    const inv = invoices.get(r.invoice);
    if (!inv) { v.push(`${r.invoice}: not listed`); continue; }
    if (r.pay.status === 200 && inv.status !== 'paid') v.push(`${r.invoice}: pay answered paid, the invoice is ${inv.status}`);
    if (r.void.status === 200 && inv.status !== 'void') v.push(`${r.invoice}: void answered void, the invoice is ${inv.status}`);
  }
  return { name: 'ledger_agrees', description: 'captures = amount_received, ledger refunds = succeeded refunds, refunds <= captures, final states as answered', checked, violations: cap(v) };
}

/** Canonical JSON (sorted keys) for deep comparison. */
function canonical(x: unknown): string {
  if (Array.isArray(x)) return `[${x.map(canonical).join(',')}]`;
  if (x && typeof x === 'object') return `{${Object.keys(x).sort().map((k) => `${JSON.stringify(k)}:${canonical((x as Record<string, unknown>)[k])}`).join(',')}}`;
  return JSON.stringify(x);
}

function firstDifference(a: unknown, b: unknown, path = ''): string {
  if (canonical(a) === canonical(b)) return '';
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) === !Array.isArray(b)) {
    const keys = new Set([...Object.keys(a as object), ...Object.keys(b as object)]);
    for (const k of keys) {
      const d = firstDifference((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`);
      if (d) return d;
    }
  }
  return `${path || '(body)'}: ${JSON.stringify(a)?.slice(0, 120)} vs ${JSON.stringify(b)?.slice(0, 120)}`;
}

export async function checkReplays(d: Direct, journal: Journal): Promise<InvariantResult> {
  const v: string[] = [];
  const entries = [...journal.entries.values()].filter((e): e is JournalEntry & { status: number } => e.status !== undefined);
  let notReplayed = 0;
  let i = 0;
  await mapLimit(entries, 6, async (e) => {
    const s = d.stripes[i++ % d.stripes.length];
    let a;
    for (let n = 0; ; n++) {
      try {
        a = await attempt(s, e.op, e.args, e.key);
        if (a.status < 500 && !(a.status === 409 && ['idempotency_key_in_use', 'lock_timeout'].includes(a.body?.error?.code)) && a.status !== 429) break;
      } catch (err) {
        if (!(err as { network?: boolean }).network) throw err;
      }
      if (n >= 30) { v.push(`${e.key} (${e.op}): no definitive answer to the replay`); return; }
      await sleep(300);
    }
    if (a.status !== e.status || canonical(a.body) !== canonical(e.body)) {
      v.push(`${e.key} (${e.op}): first ${e.status}, replay ${a.status}; ${firstDifference(e.body, a.body)}`);
    } else {
      if (e.text !== undefined && a.text !== e.text) v.push(`${e.key} (${e.op}): the replay is equal as JSON but not byte-identical (README: "byte-identical body")`);
      if (!a.replayed && (e.status < 400 || e.status === 402)) notReplayed++;
    }
    if (e.status === 400 && e.body?.error?.type === 'idempotency_error') v.push(`${e.key} (${e.op}): the campaign's own retry was refused as a different request: ${e.body.error.message}`);
  });
  return {
    name: 'replays_equal', description: 're-sending every journaled key (same method, path, params) answers the first definitive answer',
    checked: entries.length, violations: cap(v), notes: { successes_answered_without_Idempotent_Replayed: notReplayed },
  };
}

export async function checkUnfinishedKeys(db: pg.Client): Promise<InvariantResult> {
  const { rows } = await db.query<{ key: string; command: string; recovery_point: string; locked: boolean; updated_at: Date }>(
    `SELECT key, command, recovery_point, locked_at IS NOT NULL AS locked, updated_at FROM idempotency_keys WHERE finished_at IS NULL ORDER BY updated_at LIMIT 50`);
  const { rows: [{ n }] } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM idempotency_keys WHERE finished_at IS NULL');
  const { rows: [{ total }] } = await db.query<{ total: number }>('SELECT count(*)::int AS total FROM idempotency_keys');
  const v = rows.map((r) => `${r.key}: ${r.command} at ${r.recovery_point}${r.locked ? ', locked' : ''}, last updated ${r.updated_at.toISOString()}`);
  if (n > rows.length) v.push(`... ${n - rows.length} more`);
  return { name: 'no_unfinished_keys', description: 'SELECT count(*) FROM idempotency_keys WHERE finished_at IS NULL is 0 after quiescing', checked: total, violations: v };
}

export async function checkInvoiceNumbers(db: pg.Client): Promise<InvariantResult> {
  const { rows } = await db.query<{ account_id: string; seqs: string[]; last_number: string | null; numbers: string[] }>(
    `SELECT i.account_id, array_agg(i.number_seq ORDER BY i.number_seq) AS seqs, array_agg(i.data->>'number' ORDER BY i.number_seq) AS numbers,
            (SELECT last_number FROM invoice_counters c WHERE c.account_id = i.account_id) AS last_number
       FROM invoices i WHERE i.number_seq IS NOT NULL GROUP BY i.account_id`);
  const v: string[] = [];
  let checked = 0;
  for (const r of rows) {
    const seqs = r.seqs.map(Number);
    checked += seqs.length;
    const gaps: number[] = [];
    const dups: number[] = [];
    for (let i = 0; i < seqs.length; i++) {
      if (i > 0 && seqs[i] === seqs[i - 1]) dups.push(seqs[i]);
    }
    const set = new Set(seqs);
    const max = Math.max(...seqs);
    for (let n = 1; n <= max; n++) if (!set.has(n)) gaps.push(n);
    if (gaps.length) v.push(`${r.account_id}: numbers missing: ${gaps.slice(0, 20).join(', ')}${gaps.length > 20 ? ' ...' : ''} (max ${max})`);
    if (dups.length) v.push(`${r.account_id}: numbers given twice: ${dups.slice(0, 20).join(', ')}`);
    if (r.last_number !== null && Number(r.last_number) !== max) v.push(`${r.account_id}: counter at ${r.last_number}, highest number ${max}`);
    const texts = new Set(r.numbers);
    if (texts.size !== r.numbers.length) v.push(`${r.account_id}: duplicate invoice number strings`);
    for (const [i, num] of r.numbers.entries()) {
      if (!num?.endsWith(`-${String(seqs[i]).padStart(4, '0')}`)) { v.push(`${r.account_id}: invoice number ${num} does not carry its sequence ${seqs[i]}`); break; }
    }
  }
  return { name: 'gapless_invoice_numbers', description: 'finalized invoice numbers are 1..N per account, no gap, no duplicate, counter = N', checked, violations: v };
}

export async function checkWebhooks(db: pg.Client, receiverDb: pg.Client, endpointId: string, counts: ReceiverCounts): Promise<InvariantResult> {
  const v: string[] = [];
  const { rows: events } = await db.query<{ id: string; type: string }>('SELECT id, type FROM events ORDER BY seq');
  const { rows: deliveries } = await db.query<{ event_id: string; endpoint_id: string; status: string; attempts: number; sent: number }>(
    'SELECT event_id, endpoint_id, status, attempts, sent FROM webhook_deliveries');
  const { rows: received } = await receiverDb.query<{ event_id: string; n: number }>(
    `SELECT event_id, count(*)::int AS n FROM ${RECEIVED_TABLE} GROUP BY event_id`);
  const { rows: processed } = await receiverDb.query<{ event_id: string }>(`SELECT event_id FROM ${PROCESSED_TABLE}`);
  const eventIds = new Set(events.map((e) => e.id));
  const byEvent = new Map<string, typeof deliveries>();
  for (const d of deliveries) {
    const list = byEvent.get(d.event_id) ?? [];
    list.push(d);
    byEvent.set(d.event_id, list);
  }
  const notDelivered = deliveries.filter((d) => d.status !== 'delivered');
  for (const d of notDelivered.slice(0, 30)) v.push(`delivery of ${d.event_id} to ${d.endpoint_id}: ${d.status} after ${d.attempts} attempts (${d.sent} sent)`);
  if (notDelivered.length > 30) v.push(`... ${notDelivered.length - 30} more deliveries not delivered`);
  const withoutDelivery = events.filter((e) => !(byEvent.get(e.id) ?? []).some((d) => d.endpoint_id === endpointId));
  for (const e of withoutDelivery.slice(0, 20)) v.push(`event ${e.id} (${e.type}) has no delivery to the campaign's endpoint`);
  if (withoutDelivery.length > 20) v.push(`... ${withoutDelivery.length - 20} more events without a delivery`);
  const receivedIds = new Map(received.map((r) => [r.event_id, r.n]));
  const twice = received.filter((r) => r.n > 1);
  for (const r of twice.slice(0, 20)) v.push(`event ${r.event_id} processed ${r.n} times by the receiver`);
  const missing = events.filter((e) => !receivedIds.has(e.id));
  for (const e of missing.slice(0, 20)) v.push(`event ${e.id} (${e.type}) never processed by the receiver`);
  if (missing.length > 20) v.push(`... ${missing.length - 20} more events never processed`);
  const extra = received.filter((r) => !eventIds.has(r.event_id));
  for (const r of extra.slice(0, 20)) v.push(`the receiver processed ${r.event_id}, which is not an event of Oncepay's`);
  const processedIds = new Set(processed.map((p) => p.event_id));
  const inconsistent = received.filter((r) => !processedIds.has(r.event_id)).length + processed.filter((p) => !receivedIds.has(p.event_id)).length;
  if (inconsistent) v.push(`${inconsistent} ids differ between ${PROCESSED_TABLE} and ${RECEIVED_TABLE} (they are written in one transaction)`);
  if (counts.verificationFailures) v.push(`${counts.verificationFailures} deliveries failed signature verification: ${JSON.stringify(counts.verificationReasons)}`);
  const retried = deliveries.filter((d) => d.sent > 1).length;
  return {
    name: 'webhooks_once', description: 'every event delivered (none pending or failed) and processed by the receiver exactly once, nothing else',
    checked: events.length, violations: v,
    notes: { events: events.length, deliveries: deliveries.length, deliveries_sent_more_than_once: retried, receiver_rows: received.reduce((s, r) => s + r.n, 0) },
  };
}

/**
 * 5xx answers Oncepay documents: 503 database_unavailable (the database restarting or
 * unreachable: retry with the same key) and 503 shutting_down while a server shuts down. A 500 api_error is
 * an unexpected failure, and so a violation, whenever it happens.
 */
export function check5xx(errors: ServerError[], outages: Outage[], graceMs: number): InvariantResult {
  const v: string[] = [];
  const groups = new Map<string, { n: number; kind: string; sample: ServerError }>();
  let documented = 0;
  let duringOutage = 0;
  for (const e of errors) {
    const inOutage = outages.some((o) => e.at >= o.startedAt - 500 && e.at <= (o.endedAt ?? Date.now()) + graceMs);
    if (inOutage) duringOutage++;
    let kind: string;
    const code = (e.body as { error?: { code?: string } } | null)?.error?.code;
    if (e.status === 503 && (code === 'database_unavailable' || code === 'shutting_down')) {
      kind = `documented: 503 ${code}`;
      documented++;
    } else kind = `undocumented${inOutage ? ', within a PostgreSQL restart' : ''}`;
    const body = JSON.stringify(e.body);
    const g = groups.get(`${kind}|${e.status}|${body}`) ?? { n: 0, kind, sample: e };
    g.n++;
    groups.set(`${kind}|${e.status}|${body}`, g);
  }
  const listing: string[] = [];
  for (const g of groups.values()) {
    const line = `${g.n}x ${g.sample.status} ${JSON.stringify(g.sample.body).slice(0, 300)} (e.g. ${g.sample.op} ${g.sample.key} via ${g.sample.via}) [${g.kind}]`;
    listing.push(line);
    if (g.kind.startsWith('undocumented')) v.push(line);
  }
  return {
    name: 'no_undocumented_5xx',
    description: '5xx answered by Oncepay itself (the proxies never answer): 503 database_unavailable and 503 shutting_down are documented, nothing else',
    checked: errors.length, violations: v,
    notes: { total_5xx: errors.length, documented_503: documented, within_pg_restart: duringOutage, bodies: listing },
  };
}

export function checkNoHang(actions: { kind: string; ms: number; outcome: string; error?: string }[], deadlineMs: number, unfinishedWorkers: number, journal: Journal): InvariantResult {
  const v: string[] = [];
  for (const a of actions) {
    if (a.outcome === 'hung' || a.ms > deadlineMs) v.push(`${a.kind} took ${a.ms} ms (${a.outcome}${a.error ? `: ${a.error}` : ''})`);
  }
  if (unfinishedWorkers) v.push(`${unfinishedWorkers} workers had not finished their last action when quiescing ended`);
  const unanswered = [...journal.entries.values()].filter((e) => e.status === undefined);
  for (const e of unanswered.slice(0, 20)) v.push(`${e.key} (${e.op}) never got a definitive answer`);
  if (unanswered.length > 20) v.push(`... ${unanswered.length - 20} more unanswered`);
  return { name: 'no_hang', description: `every worker action finished, within ${deadlineMs / 1000} s per request`, checked: actions.length, violations: cap(v) };
}

export function checkOutcomes(model: Model): InvariantResult {
  const v = model.unexpected.map((u) => `${u.action} ${u.step}${u.key ? ` (${u.key})` : ''}: expected ${u.expected}, got ${u.status} ${(JSON.stringify(u.body) ?? "").slice(0, 300)}`);
  return { name: 'documented_outcomes', description: 'each step answered as the README documents (visa succeeds, declines are 402, one of pay/void wins, ...)', checked: model.payments.length + model.refundRaces.length + model.invoiceRaces.length + model.subscriptions.length, violations: cap(v) };
}

export function checkServerExits(exits: { server: string; at: number; exit: { code: number | null; signal: string | null }; rule?: string; signature: string }[], campaignErrors: string[], starts: number): InvariantResult {
  const v = exits.map((e) => `server ${e.server} exited by itself at ${new Date(e.at).toISOString()} (code ${e.exit.code}, signal ${e.exit.signal}${e.rule ? `, armed with ${e.rule}` : ''}): ${e.signature}`);
  v.push(...campaignErrors.map((m) => `campaign error: ${m}`));
  const bySignature: Record<string, number> = {};
  for (const e of exits) bySignature[e.signature] = (bySignature[e.signature] ?? 0) + 1;
  return {
    name: 'no_unexpected_exit', description: 'no server died unless the campaign killed it or it was armed to kill itself (and the campaign itself did not fail)',
    checked: starts, violations: cap(v), notes: { exits_by_signature: bySignature },
  };
}
