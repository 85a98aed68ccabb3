/** Routes for events, webhook endpoints, delivery history and redelivery. */
import { enumOf, expandParam, nonEmptyString, object, optional, array, string } from '../schema/params.ts';
import { invalidRequest, resourceMissing } from '../errors.ts';
import { command, listParams, type ReadRoute, type Route } from './routes.ts';
import { deliveryAttempts, events, webhookEndpoints } from '../events/event_objects.ts';
import {
  checkEndpointUrl, createEndpointParams, deleteEndpointParams, pendingWebhooks, redeliverParams, rotateSecretParams, updateEndpointParams,
} from '../events/endpoints.ts';
import { EVENT_TYPES } from '../events/types.ts';
import type { UrlPolicy } from '../events/url_safety.ts';
import type { Queryable } from '../store/db.ts';
import type { StripeEvent } from '../events/event_objects.ts';

async function withPending(q: Queryable, accountId: string, list: StripeEvent[]): Promise<StripeEvent[]> {
  const pending = await pendingWebhooks(q, accountId, list.map((e) => e.id));
  return list.map((e) => ({ ...e, pending_webhooks: pending.get(e.id) ?? 0 }));
}

const eventType = () => string({ max: 100 });

function attemptsRoute(path: string, idParam: 'id' | 'webhook_endpoint', column: 'event_id' | 'endpoint_id', owner: 'event' | 'webhook_endpoint'): ReadRoute {
  const params = listParams({ [idParam]: nonEmptyString(255) });
  return {
    kind: 'read', method: 'GET', path, params, response: 'list:webhook_delivery_attempt',
    summary: owner === 'event' ? 'List the delivery attempts of an event (Oncepay extension)' : 'List the delivery attempts to a webhook endpoint (Oncepay extension)',
    async read(ctx, p) {
      const table = owner === 'event' ? events : webhookEndpoints;
      const found = await table.find(ctx.q, ctx.accountId, p[idParam]);
      if (!found) throw resourceMissing(owner, p[idParam]);
      const page = await deliveryAttempts.list(ctx.q, ctx.accountId, {
        limit: p.limit ?? 10, startingAfter: p.starting_after, endingBefore: p.ending_before, created: p.created,
        where: { [column]: p[idParam] },
      });
      return { object: 'list', data: page.data, has_more: page.hasMore, url: path.replace(`:${idParam}`, p[idParam]) };
    },
  };
}

export function eventRoutes(policy: UrlPolicy): Route[] {
  const checkUrl = checkEndpointUrl(policy);
  return [
    {
      kind: 'read', method: 'GET', path: '/v1/events', summary: 'List events', response: 'list:event',
      params: listParams({ type: optional(eventType()), types: optional(array(eventType(), { max: 20 })) }),
      async read(ctx, p) {
        if (p.type && p.types) throw invalidRequest('You may pass only one of type and types.', 'types');
        const types: string[] | undefined = p.types ?? (p.type ? [p.type] : undefined);
        // `type` may end with a wildcard, as in Stripe: payment_intent.*
        const where: Record<string, string> = {};
        let page;
        if (types && types.length === 1 && !types[0].includes('*')) where.type = types[0];
        if (!types || Object.keys(where).length > 0) {
          page = await events.list(ctx.q, ctx.accountId, { limit: p.limit ?? 10, startingAfter: p.starting_after, endingBefore: p.ending_before, created: p.created, where });
        } else {
          page = await events.list(ctx.q, ctx.accountId, {
            limit: p.limit ?? 10, startingAfter: p.starting_after, endingBefore: p.ending_before, created: p.created,
            whereSql: { sql: 'type LIKE ANY($::text[])', value: types.map((t) => t.replace(/[%_\\]/g, '\\$&').replace(/\*/g, '%')) },
          });
        }
        return { object: 'list', data: await withPending(ctx.q, ctx.accountId, page.data), has_more: page.hasMore, url: '/v1/events' };
      },
    },
    {
      kind: 'read', method: 'GET', path: '/v1/events/:id', summary: 'Retrieve an event', response: 'event',
      params: object({ id: nonEmptyString(255), expand: expandParam() }),
      async read(ctx, p) {
        const [e] = await withPending(ctx.q, ctx.accountId, [await events.get(ctx.q, ctx.accountId, p.id)]);
        return e;
      },
    },
    attemptsRoute('/v1/events/:id/deliveries', 'id', 'event_id', 'event'),
    command('POST', '/v1/events/:event/redeliver', 'events.redeliver', 'Send an event again now, to one endpoint or to all that want it (Oncepay extension)', redeliverParams, 'event'),

    command('POST', '/v1/webhook_endpoints', 'webhook_endpoints.create', 'Create a webhook endpoint', createEndpointParams, 'webhook_endpoint_with_secret', checkUrl),
    {
      kind: 'read', method: 'GET', path: '/v1/webhook_endpoints/:webhook_endpoint', summary: 'Retrieve a webhook endpoint', response: 'webhook_endpoint',
      params: object({ webhook_endpoint: nonEmptyString(255), expand: expandParam() }),
      async read(ctx, p) {
        const e = await webhookEndpoints.find(ctx.q, ctx.accountId, p.webhook_endpoint);
        if (!e || e.deleted) throw resourceMissing('webhook_endpoint', p.webhook_endpoint);
        return e;
      },
    },
    command('POST', '/v1/webhook_endpoints/:webhook_endpoint', 'webhook_endpoints.update', 'Update a webhook endpoint', updateEndpointParams, 'webhook_endpoint', checkUrl),
    command('DELETE', '/v1/webhook_endpoints/:webhook_endpoint', 'webhook_endpoints.delete', 'Delete a webhook endpoint', deleteEndpointParams, 'deleted_webhook_endpoint'),
    command('POST', '/v1/webhook_endpoints/:webhook_endpoint/rotate_secret', 'webhook_endpoints.rotate_secret',
      'Replace the signing secret; the previous one keeps signing for previous_secret_expires_in seconds (Oncepay extension)', rotateSecretParams, 'webhook_endpoint_rotated'),
    {
      kind: 'read', method: 'GET', path: '/v1/webhook_endpoints', summary: 'List webhook endpoints', response: 'list:webhook_endpoint',
      params: listParams({ status: optional(enumOf(['enabled', 'disabled'] as const)) }),
      async read(ctx, p) {
        const page = await webhookEndpoints.list(ctx.q, ctx.accountId, {
          limit: p.limit ?? 10, startingAfter: p.starting_after, endingBefore: p.ending_before, created: p.created,
          where: { deleted: false, ...(p.status ? { status: p.status } : {}) },
        });
        return { object: 'list', data: page.data, has_more: page.hasMore, url: '/v1/webhook_endpoints' };
      },
    },
    attemptsRoute('/v1/webhook_endpoints/:webhook_endpoint/deliveries', 'webhook_endpoint', 'endpoint_id', 'webhook_endpoint'),
  ];
}

export { EVENT_TYPES };
