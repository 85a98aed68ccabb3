/**
 * Billing part of the benchmark (called by bench/run.ts against its server):
 *
 *   numbering: M drafts finalized by 32 concurrent clients. Every finalization takes the
 *     account's invoice counter row lock, so they serialize on it; the baseline measured in the
 *     same run is creating the same drafts at the same concurrency (no shared row). Checks the
 *     numbers are exactly 1..M.
 *   renewals: N monthly subscriptions on one test clock, advanced 12 months in one call: each
 *     period is a renewal transaction plus an automatic payment (three more). Reports invoices
 *     billed and paid per second, and checks there are exactly N × 12 cycle invoices, all paid.
 */
import { performance } from 'node:perf_hooks';

export interface BillingBench {
  drafts: number;
  createPerS: number;
  finalizePerS: number;
  subscriptions: number;
  renewals: number;
  advanceS: number;
  renewalsPerS: number;
}

type Json = Record<string, any>;

function form(params: Record<string, string | number>): string {
  return Object.entries(params).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`).join('&');
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  }));
  return out;
}

export async function runBillingBench(base: string, key: string, opts: { drafts: number; subscriptions: number; connections: number }): Promise<BillingBench> {
  const call = async (method: string, path: string, params?: Record<string, string | number>): Promise<Json> => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(params ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
      body: params ? form(params) : undefined,
    });
    const body = await res.json() as Json;
    if (res.status !== 200) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(body).slice(0, 300)}`);
    return body;
  };
  const listAll = async (path: string): Promise<Json[]> => {
    const all: Json[] = [];
    for (let after: string | undefined; ;) {
      const page = await call('GET', `${path}${path.includes('?') ? '&' : '?'}limit=100${after ? `&starting_after=${after}` : ''}`);
      all.push(...page.data);
      if (!page.has_more) return all;
      after = page.data[page.data.length - 1].id;
    }
  };

  // Numbering: drafts created concurrently (the baseline), then finalized concurrently.
  const customer = await call('POST', '/v1/customers', { email: 'bench@example.com', payment_method: 'pm_card_visa' });
  const indices = Array.from({ length: opts.drafts }, (_, i) => i);
  let t = performance.now();
  const drafts = await mapLimit(indices, opts.connections, () =>
    call('POST', '/v1/invoices', { customer: customer.id, collection_method: 'send_invoice', days_until_due: 30 }));
  const createS = (performance.now() - t) / 1000;
  t = performance.now();
  const finalized = await mapLimit(drafts, opts.connections, (d) => call('POST', `/v1/invoices/${d.id}/finalize`, {}));
  const finalizeS = (performance.now() - t) / 1000;
  const numbers = finalized.map((i) => Number(String(i.number).split('-').pop())).sort((a, b) => a - b);
  if (numbers.some((n, i) => n !== i + 1)) throw new Error(`invoice numbers are not 1..${opts.drafts}: ${numbers.slice(0, 20).join(',')}...`);

  // Renewals: N subscriptions on one clock, advanced 12 months.
  const start = Math.floor(Date.UTC(2030, 0, 15) / 1000);
  const clock = await call('POST', '/v1/test_helpers/test_clocks', { frozen_time: start });
  const price = await call('POST', '/v1/prices', { currency: 'usd', unit_amount: 1500, 'recurring[interval]': 'month', 'product_data[name]': 'bench' });
  await mapLimit(Array.from({ length: opts.subscriptions }, (_, i) => i), opts.connections, async (i) => {
    const c = await call('POST', '/v1/customers', { email: `sub${i}@example.com`, payment_method: 'pm_card_visa', test_clock: clock.id });
    return call('POST', '/v1/subscriptions', { customer: c.id, 'items[0][price]': price.id });
  });
  t = performance.now();
  const advanced = await call('POST', `/v1/test_helpers/test_clocks/${clock.id}/advance`, { frozen_time: Math.floor(Date.UTC(2031, 0, 15) / 1000) });
  const advanceS = (performance.now() - t) / 1000;
  if (advanced.status !== 'ready') throw new Error(`clock status after advance: ${advanced.status}`);
  const invoices = (await listAll('/v1/invoices?status=paid')).filter((i) => i.billing_reason === 'subscription_cycle');
  const renewals = opts.subscriptions * 12;
  const periods = new Set(invoices.map((i) => `${i.parent?.subscription_details?.subscription}:${i.period_start}`));
  if (invoices.length !== renewals || periods.size !== renewals) {
    throw new Error(`expected ${renewals} paid cycle invoices, one per period; got ${invoices.length} (${periods.size} distinct periods)`);
  }
  return {
    drafts: opts.drafts, createPerS: opts.drafts / createS, finalizePerS: opts.drafts / finalizeS,
    subscriptions: opts.subscriptions, renewals, advanceS, renewalsPerS: renewals / advanceS,
  };
}
