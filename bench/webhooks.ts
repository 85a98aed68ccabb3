/**
 * Webhook delivery benchmark: how long from a change's commit to the receiver's 2xx.
 *
 * A local receiver (node:http on 127.0.0.1) answers 204 and notes when each event arrived. The
 * driver creates customers (one committed event each, customer.created) at a fixed open-loop
 * rate. The commit happens just before the API answers, so delay = arrival at the receiver -
 * arrival of the API's answer is the commit-to-2xx delay (understated by at most the answer's
 * trip over loopback); arrival - send is also reported, an upper bound that includes the API
 * request itself. A second phase sends as fast as 32 connections allow and measures delivered
 * events per second.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export interface WebhookBench {
  targetRate: number;
  sent: number;
  delivered: number;
  p50: number;
  p99: number;
  max: number;
  /** The same delays measured from when the creating request was sent (upper bound). */
  p50FromSend: number;
  p99FromSend: number;
  saturationEventsPerS: number;
}

interface Receiver {
  url: string;
  arrivals: Map<string, number>;
  close(): Promise<void>;
}

async function startReceiver(): Promise<Receiver> {
  const arrivals = new Map<string, number>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const at = performance.now();
      try {
        const event = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        const id = event?.data?.object?.id;
        if (typeof id === 'string' && !arrivals.has(id)) arrivals.set(id, at);
      } catch { /* counted as not delivered */ }
      res.writeHead(204).end();
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/hook`, arrivals, close: () => new Promise((r) => server.close(() => r())) };
}

const percentile = (sorted: number[], p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] : NaN);

export async function runWebhookBench(base: string, key: string, opts: { rate: number; durationS: number }): Promise<WebhookBench> {
  const receiver = await startReceiver();
  const auth = { authorization: `Bearer ${key}`, 'content-type': 'application/x-www-form-urlencoded' };
  try {
    const ep = await fetch(`${base}/v1/webhook_endpoints`, {
      method: 'POST', headers: auth, body: `url=${encodeURIComponent(receiver.url)}&enabled_events[0]=customer.created`,
    });
    if (ep.status !== 200) throw new Error(`creating the webhook endpoint failed: ${ep.status} ${await ep.text()}`);

    // Phase 1: a fixed rate, open loop (requests are sent on schedule whether or not earlier ones finished).
    const sentAt = new Map<string, number>();
    const answeredAt = new Map<string, number>();
    const inflight: Promise<void>[] = [];
    const total = Math.round(opts.rate * opts.durationS);
    const start = performance.now();
    for (let i = 0; i < total; i++) {
      const due = start + (i * 1000) / opts.rate;
      const wait = due - performance.now();
      if (wait > 1) await sleep(wait);
      const t = performance.now();
      inflight.push(fetch(`${base}/v1/customers`, { method: 'POST', headers: auth, body: `name=bench-${i}` })
        .then(async (r) => {
          const body = await r.json() as { id?: string };
          if (r.status === 200 && body.id) {
            answeredAt.set(body.id, performance.now());
            sentAt.set(body.id, t);
          }
        })
        .catch(() => {}));
    }
    await Promise.all(inflight);
    const deadline = performance.now() + 30_000;
    while (performance.now() < deadline && [...sentAt.keys()].some((id) => !receiver.arrivals.has(id))) await sleep(50);
    const delaysFrom = (from: Map<string, number>) =>
      [...from].filter(([id]) => receiver.arrivals.has(id)).map(([id, t]) => Math.max(0, receiver.arrivals.get(id)! - t)).sort((a, b) => a - b);
    const delays = delaysFrom(answeredAt);
    const fromSend = delaysFrom(sentAt);

    // Phase 2: saturation, 32 concurrent senders for durationS; delivered events per second.
    const before = receiver.arrivals.size;
    const satStart = performance.now();
    const stopAt = satStart + opts.durationS * 1000;
    let created = 0;
    await Promise.all(Array.from({ length: 32 }, async () => {
      while (performance.now() < stopAt) {
        const r = await fetch(`${base}/v1/customers`, { method: 'POST', headers: auth, body: 'name=sat' }).catch(() => undefined);
        if (r) { await r.arrayBuffer(); if (r.status === 200) created++; }
      }
    }));
    const drainDeadline = performance.now() + 60_000;
    while (performance.now() < drainDeadline && receiver.arrivals.size - before < created) await sleep(50);
    const satSeconds = (performance.now() - satStart) / 1000;

    return {
      targetRate: opts.rate,
      sent: sentAt.size,
      delivered: delays.length,
      p50: percentile(delays, 0.5),
      p99: percentile(delays, 0.99),
      max: delays[delays.length - 1] ?? NaN,
      p50FromSend: percentile(fromSend, 0.5),
      p99FromSend: percentile(fromSend, 0.99),
      saturationEventsPerS: (receiver.arrivals.size - before) / satSeconds,
    };
  } finally {
    await receiver.close();
  }
}
