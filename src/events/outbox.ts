/**
 * The transactional outbox. A command emits events inside the phase that makes the change, as
 * deferred writes of that same transaction: the event row, and one delivery row per enabled
 * endpoint that wants its type. Either the change, its events and their deliveries all commit,
 * or none does. A replayed request runs no phase, so it emits nothing.
 */
import type { Tx } from '../store/db.ts';
import { newId, nowSeconds } from '../ids.ts';
import { API_VERSION, events, type StripeEvent } from './event_objects.ts';
import type { ObjectTable, StoredObject } from '../store/object_table.ts';
import { noteEvent } from './commit_notes.ts';

/** Who caused an event: a request (its id and, when the client sent one, its key) or the system (nulls). */
export interface EventSource {
  accountId: string;
  requestId: string | null;
  idempotencyKey: string | null;
  clientSupplied: boolean;
}

export const systemSource = (accountId: string): EventSource => ({ accountId, requestId: null, idempotencyKey: null, clientSupplied: false });

/** Top-level fields whose values differ, with their previous values (Stripe's previous_attributes). */
export function previousAttributes(before: object, after: object): Record<string, unknown> {
  const prev: Record<string, unknown> = {};
  const b = before as Record<string, unknown>;
  const a = after as Record<string, unknown>;
  for (const k of new Set([...Object.keys(b), ...Object.keys(a)])) {
    if (JSON.stringify(b[k]) !== JSON.stringify(a[k])) prev[k] = b[k] ?? null;
  }
  return prev;
}

export function emitEvent(
  q: Tx, source: EventSource, type: string, object: object, previous?: Record<string, unknown>,
): StripeEvent {
  // Stripe's Event: previous_attributes is "only included in events of type *.updated"; state
  // events (finalized, paid, canceled, deleted, ...) carry the object alone.
  if (!type.endsWith('.updated')) previous = undefined;
  const event: StripeEvent = {
    id: newId('evt'),
    object: 'event',
    api_version: API_VERSION,
    created: nowSeconds(),
    data: { object: structuredClone(object) as Record<string, unknown>, ...(previous ? { previous_attributes: previous } : {}) },
    livemode: false,
    pending_webhooks: 0,
    request: { id: source.requestId, idempotency_key: source.clientSupplied ? source.idempotencyKey : null },
    type,
  };
  events.insert(q, source.accountId, event);
  q.write(
    `INSERT INTO webhook_deliveries (account_id, event_id, endpoint_id, object_id)
     SELECT account_id, $2, id, $4 FROM webhook_endpoints
      WHERE account_id = $1 AND status = 'enabled' AND NOT deleted
        AND (enabled_events ? '*' OR enabled_events ? $3)`,
    [source.accountId, event.id, type, objectId(object)],
  );
  noteEvent(q, source.accountId, type);
  return event;
}

/** The id of the object an event is about: the unit of delivery order. */
function objectId(object: object): string | null {
  const id = (object as { id?: unknown }).id;
  return typeof id === 'string' ? id : null;
}

/**
 * An update command's ending: when anything changed, saves the object and emits `type` with the
 * previous values of what changed. Returns whether anything did.
 */
export function saveIfChanged<T extends StoredObject>(q: Tx, source: EventSource, table: ObjectTable<T>, before: T, after: T, type: string): boolean {
  const previous = previousAttributes(before, after);
  if (Object.keys(previous).length === 0) return false;
  table.update(q, source.accountId, after);
  emitEvent(q, source, type, after, previous);
  return true;
}
