/**
 * The read side of events and deliveries: how the event list is filtered by type, the
 * pending_webhooks count every event answer carries, and which delivery attempts belong to an
 * event or an endpoint. The route table (src/api/event_routes.ts) calls these.
 */
import type { Queryable } from '../store/db.ts';
import type { ListFilter } from '../store/object_table.ts';
import { invalidRequest, resourceMissing } from '../errors.ts';
import { events, webhookEndpoints, type StripeEvent } from './event_objects.ts';

/**
 * `type` or `types`: exact event types, or patterns ending in a wildcard as in Stripe
 * (`payment_intent.*`). One exact type uses the indexed column; patterns match with LIKE.
 */
export function eventTypeFilter(p: { type?: string; types?: string[] }): ListFilter {
  if (p.type && p.types) throw invalidRequest('You may pass only one of type and types.', 'types');
  const types = p.types ?? (p.type ? [p.type] : undefined);
  if (!types) return {};
  if (types.length === 1 && !types[0].includes('*')) return { where: { type: types[0] } };
  return { whereSql: { sql: 'type LIKE ANY($::text[])', value: types.map((t) => t.replace(/[%_\\]/g, '\\$&').replace(/\*/g, '%')) } };
}

/**
 * The event list's filters: `type`/`types`, and `delivery_success` — true: events every delivery
 * of which succeeded (or that had none to make); false: events with a delivery still pending or
 * failed for good, as Stripe describes the filter.
 */
export function eventListFilter(p: { type?: string; types?: string[]; delivery_success?: boolean }): ListFilter {
  const byType = eventTypeFilter(p);
  if (p.delivery_success === undefined) return byType;
  const undelivered = {
    sql: `$::boolean <> EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.account_id = events.account_id AND d.event_id = events.id AND d.status IN ('pending', 'failed'))`,
    value: p.delivery_success,
  };
  return { ...byType, whereSql: [byType.whereSql ?? [], undelivered].flat() };
}

/** Stripe's pending_webhooks on each event: how many of its deliveries are still pending. */
export async function withPendingWebhooks(q: Queryable, accountId: string, list: StripeEvent[]): Promise<StripeEvent[]> {
  if (list.length === 0) return list;
  const { rows } = await q.query<{ event_id: string; n: number }>(
    `SELECT event_id, count(*)::int AS n FROM webhook_deliveries
      WHERE account_id = $1 AND event_id = ANY($2::text[]) AND status = 'pending' GROUP BY event_id`, [accountId, list.map((e) => e.id)]);
  const pending = new Map(rows.map((r) => [r.event_id, r.n]));
  return list.map((e) => ({ ...e, pending_webhooks: pending.get(e.id) ?? 0 }));
}

/**
 * The delivery attempts of one event or to one endpoint; resource_missing if it does not exist.
 * An attempt still being sent is not listed until its outcome is known (or, if its sender
 * stopped, until it is found unknown by the next claim).
 */
export async function attemptsFilter(q: Queryable, accountId: string, owner: 'event' | 'webhook_endpoint', id: string): Promise<ListFilter> {
  const table = owner === 'event' ? events : webhookEndpoints;
  if (!(await table.find(q, accountId, id))) throw resourceMissing(owner, id);
  return { where: { [owner === 'event' ? 'event_id' : 'endpoint_id']: id }, whereSql: { sql: 'outcome <> $', value: 'pending' } };
}
