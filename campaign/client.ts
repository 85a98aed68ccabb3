/**
 * The workers' side of the wire: the official `stripe` client (maxNetworkRetries 0: the
 * campaign retries by itself) through the lossy proxies, and the journal.
 *
 * Every write has an idempotency key chosen by the worker. Before its first attempt the key,
 * operation and parameters go to the journal (a JSON-lines file in the run directory); the
 * request is then retried with the SAME key, alternating between the two proxies, until a
 * definitive answer: 2xx, 402, or a 4xx other than 409 idempotency_key_in_use / lock_timeout
 * and 429. Network errors (the proxy's drops and resets, a dead or paused server), 5xx, those
 * 409s and 429 are retried with backoff. The first definitive answer goes to the journal too;
 * after quiescing, every journaled key is sent again and must answer the same.
 */
import http from 'node:http';
import { appendFileSync } from 'node:fs';
import Stripe from 'stripe';
import { type Rng, sleep } from './prng.ts';

export type Params = Record<string, unknown>;

export interface OpArgs {
  /** The object the path names (an intent, an invoice, a clock). */
  id?: string;
  params: Params;
}

interface OpDef {
  method: 'POST' | 'DELETE';
  path(a: OpArgs): string;
  call(s: Stripe, a: OpArgs, o: Stripe.RequestOptions): Promise<unknown>;
}

// The Stripe types are stricter than what a campaign builds at run time (plain records).
const P = (a: OpArgs) => a.params as any;
export const OPS = {
  'customers.create': { method: 'POST', path: () => '/v1/customers', call: (s, a, o) => s.customers.create(P(a), o) },
  'payment_intents.create': { method: 'POST', path: () => '/v1/payment_intents', call: (s, a, o) => s.paymentIntents.create(P(a), o) },
  'payment_intents.confirm': { method: 'POST', path: (a) => `/v1/payment_intents/${a.id}/confirm`, call: (s, a, o) => s.paymentIntents.confirm(a.id!, P(a), o) },
  'payment_intents.capture': { method: 'POST', path: (a) => `/v1/payment_intents/${a.id}/capture`, call: (s, a, o) => s.paymentIntents.capture(a.id!, P(a), o) },
  'payment_intents.cancel': { method: 'POST', path: (a) => `/v1/payment_intents/${a.id}/cancel`, call: (s, a, o) => s.paymentIntents.cancel(a.id!, P(a), o) },
  'refunds.create': { method: 'POST', path: () => '/v1/refunds', call: (s, a, o) => s.refunds.create(P(a), o) },
  'invoiceitems.create': { method: 'POST', path: () => '/v1/invoiceitems', call: (s, a, o) => s.invoiceItems.create(P(a), o) },
  'invoices.create': { method: 'POST', path: () => '/v1/invoices', call: (s, a, o) => s.invoices.create(P(a), o) },
  'invoices.finalize': { method: 'POST', path: (a) => `/v1/invoices/${a.id}/finalize`, call: (s, a, o) => s.invoices.finalizeInvoice(a.id!, P(a), o) },
  'invoices.pay': { method: 'POST', path: (a) => `/v1/invoices/${a.id}/pay`, call: (s, a, o) => s.invoices.pay(a.id!, P(a), o) },
  'invoices.void': { method: 'POST', path: (a) => `/v1/invoices/${a.id}/void`, call: (s, a, o) => s.invoices.voidInvoice(a.id!, P(a), o) },
  'products.create': { method: 'POST', path: () => '/v1/products', call: (s, a, o) => s.products.create(P(a), o) },
  'prices.create': { method: 'POST', path: () => '/v1/prices', call: (s, a, o) => s.prices.create(P(a), o) },
  'test_clocks.create': { method: 'POST', path: () => '/v1/test_helpers/test_clocks', call: (s, a, o) => s.testHelpers.testClocks.create(P(a), o) },
  'test_clocks.advance': { method: 'POST', path: (a) => `/v1/test_helpers/test_clocks/${a.id}/advance`, call: (s, a, o) => s.testHelpers.testClocks.advance(a.id!, P(a), o) },
  'subscriptions.create': { method: 'POST', path: () => '/v1/subscriptions', call: (s, a, o) => s.subscriptions.create(P(a), o) },
  'webhook_endpoints.create': { method: 'POST', path: () => '/v1/webhook_endpoints', call: (s, a, o) => s.webhookEndpoints.create(P(a), o) },
} satisfies Record<string, OpDef>;
export type OpName = keyof typeof OPS;

/** One HTTP answer as the client saw it: status, the body's exact text and its JSON. */
export interface Answer {
  status: number;
  body: any;
  text: string;
  replayed: boolean;
}

/**
 * The response body's exact text, recorded by the campaign's HTTP client under this
 * (non-enumerable) property of the response's headers object, which the client hands on both to
 * results (`lastResponse.headers`) and to errors (`err.headers`).
 */
const BODY_TEXT = 'x-campaign-body-text';

/** Sends one attempt; a network failure (no complete HTTP answer) rejects with `network: true`. */
export async function attempt(s: Stripe, op: OpName, args: OpArgs, key: string): Promise<Answer> {
  try {
    const obj = await OPS[op].call(s, args, { idempotencyKey: key }) as { lastResponse?: { statusCode?: number; headers?: Record<string, string> } };
    const headers = obj.lastResponse?.headers;
    const text = headers?.[BODY_TEXT] ?? JSON.stringify(obj);
    return { status: obj.lastResponse?.statusCode ?? 200, body: JSON.parse(text), text, replayed: headers?.['idempotent-replayed'] === 'true' };
  } catch (err) {
    const e = err as { type?: string; statusCode?: number; raw?: any; headers?: Record<string, string>; message?: string };
    if (e.type === 'StripeConnectionError' || e.statusCode === undefined) {
      throw Object.assign(new Error(`network: ${e.message}`), { network: true });
    }
    let text = e.headers?.[BODY_TEXT];
    if (text === undefined) {
      const raw = { ...(e.raw ?? {}) };
      for (const k of ['headers', 'statusCode', 'requestId']) delete raw[k];
      text = JSON.stringify({ error: raw });
    }
    let body: unknown;
    try { body = JSON.parse(text); } catch { body = text; }
    return { status: e.statusCode, body, text, replayed: e.headers?.['idempotent-replayed'] === 'true' };
  }
}

/** The official client's Node HTTP client, keeping each response body's text (see BODY_TEXT). */
function recordingHttpClient(agent: http.Agent): Stripe.HttpClient {
  const inner = Stripe.createNodeHttpClient(agent);
  const makeRequest = inner.makeRequest.bind(inner);
  inner.makeRequest = async (...args: Parameters<typeof makeRequest>) => {
    const res = await makeRequest(...args);
    const toJSON = res.toJSON.bind(res);
    res.toJSON = () => {
      const parsed = toJSON(); // sets the encoding and starts reading: listen alongside it
      let text = '';
      (res.getRawResponse() as http.IncomingMessage).on('data', (chunk: string) => { text += chunk; });
      return parsed.then((json) => {
        Object.defineProperty(res.getHeaders(), BODY_TEXT, { value: text, enumerable: false, configurable: true });
        return json;
      });
    };
    return res;
  };
  return inner;
}

export function makeStripe(key: string, port: number, timeoutMs: number): Stripe {
  return new Stripe(key, {
    host: '127.0.0.1', port, protocol: 'http', maxNetworkRetries: 0, telemetry: false, timeout: timeoutMs,
    // One connection per request: each request meets the proxy's dice on its own, and a killed
    // server leaves no pooled socket behind.
    httpClient: recordingHttpClient(new http.Agent({ keepAlive: false })),
  });
}

export interface JournalEntry {
  key: string;
  worker: number;
  action: string;
  op: OpName;
  method: string;
  path: string;
  args: OpArgs;
  startedAt: number;
  /** Set once the first definitive answer came. */
  status?: number;
  body?: any;
  /** The body's exact text (the README promises replays byte for byte). */
  text?: string;
  answeredAt?: number;
  attempts?: number;
  /** The definitive answer had Idempotent-Replayed: true (the first run's answer had been lost). */
  replayed?: boolean;
}

export class Journal {
  readonly entries = new Map<string, JournalEntry>();
  constructor(readonly file: string) {}

  start(e: JournalEntry): void {
    if (this.entries.has(e.key)) throw new Error(`key used twice by the campaign: ${e.key}`);
    this.entries.set(e.key, e);
    appendFileSync(this.file, JSON.stringify({ t: 'start', key: e.key, worker: e.worker, action: e.action, op: e.op, method: e.method, path: e.path, args: e.args, at: e.startedAt }) + '\n');
  }

  answer(key: string, a: Answer, attempts: number): void {
    const e = this.entries.get(key)!;
    e.status = a.status;
    e.body = a.body;
    e.text = a.text;
    e.answeredAt = Date.now();
    e.attempts = attempts;
    e.replayed = a.replayed;
    appendFileSync(this.file, JSON.stringify({ t: 'answer', key, status: a.status, body: a.body, text: a.text, attempts, replayed: a.replayed, at: e.answeredAt }) + '\n');
  }
}

export interface ServerError {
  at: number;
  op: OpName;
  key: string;
  via: string;
  status: number;
  body: unknown;
}

export interface RequestStats {
  /** HTTP attempts made. */
  attempts: number;
  /** Requests that reached a definitive answer. */
  definitive: number;
  network: number;
  status5xx: number;
  inUse409: number;
  lockTimeout409: number;
  rateLimited429: number;
  /** Definitive answers that were replays (the first answer had been lost on the way). */
  replayedAnswers: number;
  hung: number;
  byOp: Record<string, number>;
}

export const newRequestStats = (): RequestStats => ({
  attempts: 0, definitive: 0, network: 0, status5xx: 0, inUse409: 0, lockTimeout409: 0, rateLimited429: 0, replayedAnswers: 0, hung: 0, byOp: {},
});

export class HungRequest extends Error {}

export interface Endpoint {
  name: string;
  stripe: Stripe;
}

/** One worker's connection to Oncepay: two proxied clients, the journal, the retry loop. */
export class CampaignClient {
  private n = 0;

  constructor(
    readonly worker: number,
    private readonly endpoints: Endpoint[],
    private readonly journal: Journal,
    private readonly stats: RequestStats,
    private readonly serverErrors: ServerError[],
    private readonly rng: Rng,
    private readonly opts: { runId: string; deadlineMs: number; log?: (msg: string) => void },
  ) {}

  newKey(action: string, step: string): string {
    return `${this.opts.runId}-w${this.worker}-${++this.n}-${action}-${step}`;
  }

  /** Sends until a definitive answer (journaled) and returns it. */
  async send(action: string, op: OpName, args: OpArgs, key = this.newKey(action, op)): Promise<Answer> {
    const def = OPS[op];
    const startedAt = Date.now();
    this.journal.start({ key, worker: this.worker, action, op, method: def.method, path: def.path(args), args, startedAt });
    this.stats.byOp[op] = (this.stats.byOp[op] ?? 0) + 1;
    const first = this.rng.int(0, this.endpoints.length - 1);
    for (let i = 0; ; i++) {
      if (Date.now() - startedAt > this.opts.deadlineMs) {
        this.stats.hung++;
        throw new HungRequest(`${op} ${key}: no definitive answer within ${this.opts.deadlineMs} ms (${i} attempts)`);
      }
      const ep = this.endpoints[(first + i) % this.endpoints.length];
      this.stats.attempts++;
      let a: Answer;
      try {
        a = await attempt(ep.stripe, op, args, key);
      } catch (err) {
        if (!(err as { network?: boolean }).network) throw err;
        this.stats.network++;
        await this.backoff(i);
        continue;
      }
      const code = a.body?.error?.code;
      let retry = false;
      if (a.status >= 500) {
        this.stats.status5xx++;
        this.serverErrors.push({ at: Date.now(), op, key, via: ep.name, status: a.status, body: a.body });
        this.opts.log?.(`worker ${this.worker}: ${op} ${key} via ${ep.name}: ${a.status} ${JSON.stringify(a.body).slice(0, 200)}`);
        retry = true;
      } else if (a.status === 409 && code === 'idempotency_key_in_use') {
        this.stats.inUse409++;
        retry = true;
      } else if (a.status === 409 && code === 'lock_timeout') {
        this.stats.lockTimeout409++;
        retry = true;
      } else if (a.status === 429) {
        this.stats.rateLimited429++;
        retry = true;
      }
      if (retry) {
        await this.backoff(i, a.status === 409 ? 300 : undefined);
        continue;
      }
      this.stats.definitive++;
      if (a.replayed) this.stats.replayedAnswers++;
      this.journal.answer(key, a, i + 1);
      return a;
    }
  }

  private backoff(i: number, floorMs = 0): Promise<void> {
    const base = Math.min(2000, 100 * 2 ** Math.min(i, 5));
    return sleep(Math.max(floorMs, Math.floor(base / 2 + this.rng.next() * base / 2)));
  }
}
