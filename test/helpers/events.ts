/**
 * Finding the events about one object: through the API (what a client sees), or straight from
 * the database (every stored event, whatever its object's schema).
 */
import type Stripe from 'stripe';
import type { TestServer } from './server.ts';

/**
 * The events of the client's account whose type matches `type` (a wildcard such as `invoice.*`
 * allowed; `*` for every type) about object `id`, oldest first, read through GET /v1/events.
 */
export async function eventsAbout(client: Stripe, type: string, id: string): Promise<Stripe.Event[]> {
  const out: Stripe.Event[] = [];
  for await (const e of client.events.list({ limit: 100, ...(type === '*' ? {} : { type }) } as Stripe.EventListParams)) {
    if ((e.data.object as { id?: string }).id === id) out.push(e);
  }
  return out.reverse();
}

/** An event as stored (its `data` column). */
export interface StoredEvent { id: string; type: string; data: { object: any; previous_attributes?: any } }

/**
 * The stored events of exactly `type` about object `id` (every object when `id` is null), oldest
 * first, read from the server's database: by default of the server's own account.
 */
export async function storedEvents(server: TestServer, type: string, id: string | null, accountId = server.accountId): Promise<StoredEvent[]> {
  const { rows } = await server.oncepay.db.query<{ data: StoredEvent }>(
    `SELECT data FROM events WHERE account_id = $1 AND type = $2 AND ($3::text IS NULL OR data->'data'->'object'->>'id' = $3) ORDER BY seq`,
    [accountId, type, id]);
  return rows.map((r) => r.data);
}
