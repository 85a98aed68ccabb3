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

/** One event as a sequence test reads it. */
export interface SeenEvent { type: string; object: Record<string, any>; previous: Record<string, any> | undefined; created: number }

/**
 * A client on a fresh account of `server`, and a reader of the events since its last read, oldest
 * first (each read is handed to `check` first, when given).
 */
export async function freshEventReader(server: TestServer, check?: (events: Stripe.Event[]) => void): Promise<{ stripe: Stripe; next: () => Promise<SeenEvent[]> }> {
  const acct = await server.newAccount();
  const stripe = server.stripe({ key: acct.key });
  const seen = new Set<string>();
  return {
    stripe,
    async next() {
      const all: Stripe.Event[] = [];
      for await (const e of stripe.events.list({ limit: 100 })) all.push(e);
      const out = all.reverse().filter((e) => !seen.has(e.id));
      for (const e of out) seen.add(e.id);
      check?.(out);
      return out.map((e) => ({ type: e.type, object: e.data.object as Record<string, any>, previous: e.data.previous_attributes as Record<string, any> | undefined, created: e.created }));
    },
  };
}
