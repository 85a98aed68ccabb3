/**
 * A merchant's webhook handler, as an integration would write one with the project's receiver
 * helper (src/receiver): verify the signature, then process each event once. Tests read what it
 * fulfilled (the events processed, in order) and how many duplicates the store skipped.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type Stripe from 'stripe';
import { InMemoryProcessedEvents, processOnce, verifyWebhook, type WebhookEvent } from '../../src/receiver/index.ts';
import { eventsAbout } from './events.ts';
import { waitFor } from './wait.ts';

export interface WebhookSink {
  url: string;
  /** Events processed (each once), oldest first. */
  processed: WebhookEvent[];
  /** Deliveries of an event already processed. */
  duplicates: number;
  /** Deliveries refused (bad signature). */
  refused: number;
  /** The processed events of `type`, optionally about object `id`. */
  of(type: string, id?: string): WebhookEvent[];
  close(): Promise<void>;
}

/**
 * Starts the receiver on a loopback port and registers it as an endpoint for `events` with the
 * given client; the endpoint's signing secret verifies every delivery.
 */
export async function startWebhookSink(stripe: Stripe, events: string[] = ['*']): Promise<WebhookSink> {
  const store = new InMemoryProcessedEvents();
  let secret = '';
  const sink: WebhookSink = {
    url: '', processed: [], duplicates: 0, refused: 0,
    of: (type, id) => sink.processed.filter((e) => e.type === type && (id === undefined || (e.data.object as { id?: string }).id === id)),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let event: WebhookEvent;
      try {
        event = verifyWebhook({ body: Buffer.concat(chunks), headers: req.headers, secrets: secret });
      } catch {
        sink.refused++;
        res.writeHead(400).end('bad signature');
        return;
      }
      processOnce({ event, store, handler: async (e) => { sink.processed.push(e); } }).then((outcome) => {
        if (!outcome.processed) sink.duplicates++;
        res.writeHead(200).end('ok');
      }, () => res.writeHead(500).end('handler failed'));
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', () => ok()));
  sink.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks`;
  const endpoint = await stripe.webhookEndpoints.create({ url: sink.url, enabled_events: events as Stripe.WebhookEndpointCreateParams.EnabledEvent[] });
  secret = endpoint.secret!;
  return sink;
}

/**
 * The event of `type` about `id` was emitted once (read through the API) and the merchant's
 * handler processed it once (waiting for its delivery first).
 */
export async function handledOnce(sink: WebhookSink, stripe: Stripe, type: string, id: string): Promise<void> {
  await waitFor(`${type} for ${id} at the handler`, () => sink.of(type, id).length, (n) => n >= 1);
  assert.equal((await eventsAbout(stripe, type, id)).length, 1, `one ${type} event`);
  assert.equal(sink.of(type, id).length, 1, `the handler processed ${type} once`);
}
