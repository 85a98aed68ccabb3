/** Routes for events, webhook endpoints, delivery history and redelivery (src/events/). */
import { array, boolean, enumOf, expandParam, nonEmptyString, object, optional, string } from '../schema/params.ts';
import { command, listPage, listParams, read, type ReadRoute, type Route } from './route_kit.ts';
import { deliveryAttempts, events, webhookEndpoints } from '../events/event_objects.ts';
import {
  checkEndpointUrl, createEndpoint, createEndpointParams, deleteEndpoint, deleteEndpointParams, endpointListFilter, liveEndpoint,
  redeliverEvent, redeliverParams, rotateEndpointSecret, rotateSecretParams, updateEndpoint, updateEndpointParams,
} from '../events/endpoints.ts';
import { attemptsFilter, eventListFilter, withPendingWebhooks } from '../events/event_reads.ts';
import type { UrlPolicy } from '../events/url_safety.ts';

const eventType = () => string({ max: 100 });
const id = () => nonEmptyString(255);

/** Delivery attempts are answered as stored: nothing in them is expandable. */
const asStored = async <T>(items: T[]) => items;

function attemptsRoute(owner: 'event' | 'webhook_endpoint'): ReadRoute {
  const idParam = owner === 'event' ? 'id' : 'webhook_endpoint';
  const base = owner === 'event' ? '/v1/events' : '/v1/webhook_endpoints';
  return read({
    path: `${base}/:${idParam}/deliveries`, params: listParams({ [idParam]: id() }), response: 'list:webhook_delivery_attempt',
    summary: owner === 'event' ? 'List the delivery attempts of an event (Oncepay extension)' : 'List the delivery attempts to a webhook endpoint (Oncepay extension)',
    async read(ctx, p) {
      const ownerId = p[idParam] as string;
      const filter = await attemptsFilter(ctx.q, ctx.accountId, owner, ownerId);
      return listPage(ctx, p, deliveryAttempts, `${base}/${ownerId}/deliveries`, { ...filter, render: asStored });
    },
  });
}

export function eventRoutes(policy: UrlPolicy): Route[] {
  const checkUrl = checkEndpointUrl(policy);
  return [
    read({
      path: '/v1/events', summary: 'List events', response: 'list:event',
      params: listParams({ type: optional(eventType()), types: optional(array(eventType(), { max: 20 })), delivery_success: optional(boolean()) }),
      read: (ctx, p) => listPage(ctx, p, events, '/v1/events', {
        ...eventListFilter(p), render: (list) => withPendingWebhooks(ctx.q, ctx.accountId, list),
      }),
    }),
    read({
      path: '/v1/events/:id', summary: 'Retrieve an event', response: 'event',
      params: object({ id: id(), expand: expandParam() }),
      async read(ctx, p) {
        const [e] = await withPendingWebhooks(ctx.q, ctx.accountId, [await events.get(ctx.q, ctx.accountId, p.id)]);
        return e;
      },
    }),
    attemptsRoute('event'),
    command({
      method: 'POST', path: '/v1/events/:event/redeliver', params: redeliverParams, command: redeliverEvent, response: 'event',
      summary: 'Send an event again now, to one endpoint or to all that want it (Oncepay extension)',
    }),

    command({
      method: 'POST', path: '/v1/webhook_endpoints', summary: 'Create a webhook endpoint', params: createEndpointParams,
      command: createEndpoint, response: 'webhook_endpoint_with_secret', check: checkUrl,
    }),
    read({
      path: '/v1/webhook_endpoints/:webhook_endpoint', summary: 'Retrieve a webhook endpoint', response: 'webhook_endpoint',
      params: object({ webhook_endpoint: id(), expand: expandParam() }),
      read: (ctx, p) => liveEndpoint(ctx.q, ctx.accountId, p.webhook_endpoint),
    }),
    command({
      method: 'POST', path: '/v1/webhook_endpoints/:webhook_endpoint', summary: 'Update a webhook endpoint', params: updateEndpointParams,
      command: updateEndpoint, response: 'webhook_endpoint', check: checkUrl,
    }),
    command({
      method: 'DELETE', path: '/v1/webhook_endpoints/:webhook_endpoint', summary: 'Delete a webhook endpoint', params: deleteEndpointParams,
      command: deleteEndpoint, response: 'deleted_webhook_endpoint',
    }),
    command({
      method: 'POST', path: '/v1/webhook_endpoints/:webhook_endpoint/rotate_secret', params: rotateSecretParams,
      command: rotateEndpointSecret, response: 'webhook_endpoint_rotated',
      summary: 'Replace the signing secret; the previous one keeps signing for previous_secret_expires_in seconds (Oncepay extension)',
    }),
    read({
      path: '/v1/webhook_endpoints', summary: 'List webhook endpoints', response: 'list:webhook_endpoint',
      params: listParams({ status: optional(enumOf(['enabled', 'disabled'] as const)) }),
      read: (ctx, p) => listPage(ctx, p, webhookEndpoints, '/v1/webhook_endpoints', { ...endpointListFilter(p), render: asStored }),
    }),
    attemptsRoute('webhook_endpoint'),
  ];
}
