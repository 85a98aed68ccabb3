/**
 * Hosted pages part of the benchmark (called by bench/run.ts against its PostgreSQL server):
 *
 *   page GET: the Checkout page of open sessions (HTML: the session found by its URL token, its
 *     line items, the form), at 1 and at 32 connections, against the baseline measured in the
 *     same run on the same sessions: GET /v1/checkout/sessions/:id (the JSON retrieve, one read
 *     of the same row, no HTML).
 *   payment: a customer's whole submission, POST of the card form (payment_methods.create, the
 *     session's completion, the payment intent's confirmation at the acquirer) to its 303, one
 *     session at a time.
 */
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';

export interface PagesBench {
  sessions: number;
  pageP50: number; pageP99: number; pageRps: number; pageP50At1: number;
  apiP50: number; apiP99: number; apiRps: number; apiP50At1: number;
  payP50: number; payP99: number; payments: number;
}

const form = (params: Record<string, string | number>) =>
  Object.entries(params).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`).join('&');

async function createSession(base: string, key: string): Promise<{ id: string; path: string }> {
  const res = await fetch(`${base}/v1/checkout/sessions`, {
    method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: form({
      mode: 'payment', success_url: 'https://shop.example/thanks?session_id={CHECKOUT_SESSION_ID}',
      'line_items[0][price_data][currency]': 'usd', 'line_items[0][price_data][unit_amount]': 1500,
      'line_items[0][price_data][product_data][name]': 'T-shirt', 'line_items[0][quantity]': 2,
    }),
  });
  const s = await res.json() as { id: string; url: string };
  if (!res.ok) throw new Error(`checkout.sessions.create: HTTP ${res.status} ${JSON.stringify(s)}`);
  return { id: s.id, path: new URL(s.url).pathname };
}

async function load(base: string, paths: string[], connections: number, durationS: number, headers: Record<string, string> = {}) {
  let i = 0;
  const r = await autocannon({
    url: base, connections, duration: durationS, headers,
    requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: paths[i++ % paths.length]! }) }],
  });
  if (r.non2xx > 0 || r.errors > 0) throw new Error(`GET ${paths[0]}...: ${r.non2xx} non-2xx, ${r.errors} errors`);
  return { p50: r.latency.p50, p99: r.latency.p99, rps: r.requests.average };
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;

/** One customer paying: GET the page (its cookie and hidden fields), POST the card, to the 303. */
async function pay(base: string, path: string): Promise<number> {
  const page = await fetch(`${base}${path}`);
  const html = await page.text();
  const cookie = (page.headers.get('set-cookie') ?? '').split(';')[0]!;
  const hidden = (n: string) => new RegExp(`name="${n}" value="([^"]*)"`).exec(html)![1]!;
  const t0 = performance.now();
  const res = await fetch(`${base}${path}`, {
    method: 'POST', redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie, origin: base },
    body: form({
      csrf: hidden('csrf'), attempt: hidden('attempt'), submission: hidden('submission'), email: 'bench@example.com',
      cardNumber: '4242 4242 4242 4242', cardExpiry: `12 / ${(new Date().getUTCFullYear() + 2) % 100}`, cardCvc: '123', billingName: 'Bench',
    }),
  });
  const ms = performance.now() - t0;
  if (res.status !== 303 || !res.headers.get('location')?.startsWith('https://shop.example/thanks')) throw new Error(`payment: HTTP ${res.status} ${res.headers.get('location')}`);
  return ms;
}

export async function runPagesBench(base: string, key: string, opts: { durationS: number; connections: number; sessions?: number; payments?: number }): Promise<PagesBench> {
  const n = opts.sessions ?? 200;
  const sessions = [];
  for (let i = 0; i < n; i++) sessions.push(await createSession(base, key));
  const pages = sessions.map((s) => s.path);
  const api = sessions.map((s) => `/v1/checkout/sessions/${s.id}`);
  const auth = { authorization: `Bearer ${key}` };
  await load(base, pages, 4, 1);
  await load(base, api, 4, 1, auth);
  const page1 = await load(base, pages, 1, opts.durationS);
  const api1 = await load(base, api, 1, opts.durationS, auth);
  const page = await load(base, pages, opts.connections, opts.durationS);
  const apiN = await load(base, api, opts.connections, opts.durationS, auth);
  const payments = opts.payments ?? 100;
  const times: number[] = [];
  for (const s of sessions.slice(0, payments)) times.push(await pay(base, s.path));
  return {
    sessions: n,
    pageP50: page.p50, pageP99: page.p99, pageRps: page.rps, pageP50At1: page1.p50,
    apiP50: apiN.p50, apiP99: apiN.p99, apiRps: apiN.rps, apiP50At1: api1.p50,
    payP50: pct(times, 0.5), payP99: pct(times, 0.99), payments: times.length,
  };
}
