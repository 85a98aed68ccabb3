/**
 * Webhook endpoints (Stripe's /v1/webhook_endpoints) and redelivery, as idempotent commands.
 * The signing secret is returned on create (and on rotation) only; it is stored for signing.
 */
import type { Command } from '../idempotency/engine.ts';
import type { Queryable, Tx } from '../store/db.ts';
import type { ListFilter } from '../store/object_table.ts';
import { invalidRequest, resourceMissing } from '../errors.ts';
import { newId, nowSeconds } from '../ids.ts';
import { array, boolean, clearable, expandParam, integer, metadata, nonEmptyString, object, optional, string, unsupported, type ParsedObject, type Schema } from '../schema/params.ts';
import { applyMetadata } from '../schema/metadata.ts';
import { API_VERSION, events, webhookEndpoints, type EndpointSecret, type WebhookEndpoint } from './event_objects.ts';
import { ENDPOINT_EVENT_TYPES, isEndpointEventType } from './types.ts';
import { newWebhookSecret } from './signing.ts';
import { urlRefusal, type UrlPolicy } from './url_safety.ts';
import { noteDeliveries, noteEndpointsChanged } from './commit_notes.ts';

const eventTypeList = (): Schema<string[]> => {
  const list = array(string({ max: 100 }), { max: 100 });
  return {
    required: true,
    parse(v, path) {
      const types = list.parse(v, path);
      if (types.length === 0) throw invalidRequest('enabled_events must name at least one event type, or \'*\' for all.', path);
      types.forEach((t, i) => {
        if (t !== '*' && !isEndpointEventType(t)) {
          throw invalidRequest(`Invalid ${path}[${i}]: '${t}' is not a Stripe event type. Use '*' or an event type such as payment_intent.succeeded (see Stripe's list of event types).`, `${path}[${i}]`);
        }
      });
      return [...new Set(types)];
    },
    jsonSchema: () => ({ type: 'array', items: { type: 'string', enum: ['*', ...ENDPOINT_EVENT_TYPES] }, minItems: 1 }),
  };
};

export const createEndpointParams = object({
  url: nonEmptyString(2048),
  enabled_events: eventTypeList(),
  description: optional(string({ max: 5000 })),
  metadata: optional(metadata()),
  api_version: optional(string({ max: 64 })),
  connect: unsupported('Connect endpoints (events of connected accounts) need Connect, which Oncepay does not have.', { noop: (v) => String(v).toLowerCase() === 'false' }),
  expand: expandParam(),
});

export const updateEndpointParams = object({
  webhook_endpoint: nonEmptyString(255),
  url: optional(nonEmptyString(2048)),
  enabled_events: optional(eventTypeList()),
  description: clearable(string({ max: 5000 })),
  metadata: optional(metadata()),
  disabled: optional(boolean()),
  expand: expandParam(),
});

export const deleteEndpointParams = object({ webhook_endpoint: nonEmptyString(255) });

export const rotateSecretParams = object({
  webhook_endpoint: nonEmptyString(255),
  /** Seconds the previous secret keeps signing (both are sent meanwhile); default 24 h, 0 ends it now. */
  previous_secret_expires_in: optional(integer({ min: 0, max: 7 * 24 * 3600 })),
});

export const redeliverParams = object({
  event: nonEmptyString(255),
  webhook_endpoint: optional(nonEmptyString(255)),
  expand: expandParam(),
});

export function checkEndpointUrl(policy: UrlPolicy) {
  return (p: { url?: string }) => {
    if (p.url === undefined) return;
    const why = urlRefusal(p.url, policy);
    if (why) throw invalidRequest(`Invalid URL: ${why}.`, 'url', 'url_invalid');
  };
}

/** The stored signing secrets still valid now: the current one first. */
export function activeSecrets(secrets: EndpointSecret[], now = nowSeconds()): string[] {
  return secrets.filter((s) => s.expires_at === null || s.expires_at > now).map((s) => s.secret);
}

/** An endpoint that exists and is not deleted, or resource_missing naming `param`. */
export async function liveEndpoint(q: Queryable, accountId: string, id: string, opts: { forUpdate?: boolean; param?: string } = {}) {
  const e = await webhookEndpoints.find(q, accountId, id, opts);
  if (!e || e.deleted) throw resourceMissing('webhook_endpoint', id, opts.param ?? 'id');
  return e;
}

async function readSecrets(q: Queryable, accountId: string, id: string): Promise<EndpointSecret[]> {
  const { rows } = await q.query<{ secrets: EndpointSecret[] }>('SELECT secrets FROM webhook_endpoints WHERE account_id = $1 AND id = $2', [accountId, id]);
  return rows[0]?.secrets ?? [];
}

/** Narrows the endpoint list (`status`); deleted endpoints are never listed. */
export function endpointListFilter(p: { status?: WebhookEndpoint['status'] }): ListFilter {
  return { where: { deleted: false, ...(p.status ? { status: p.status } : {}) } };
}

const strip = ({ deleted: _d, ...e }: WebhookEndpoint & { deleted?: boolean }): WebhookEndpoint => e;

export const createEndpoint: Command<ParsedObject<typeof createEndpointParams.shape>> = {
  name: 'webhook_endpoints.create',
  run: (ctx, p) => ctx.finish('create', async (q: Tx) => {
    const endpoint: WebhookEndpoint = {
      id: newId('we'), object: 'webhook_endpoint', api_version: p.api_version ?? null, application: null,
      created: nowSeconds(), description: p.description ?? null, enabled_events: p.enabled_events, livemode: false,
      metadata: applyMetadata({}, p.metadata ?? {}), status: 'enabled', url: p.url,
    };
    const secret = newWebhookSecret();
    webhookEndpoints.insert(q, ctx.accountId, endpoint, { secrets: JSON.stringify([{ secret, expires_at: null }]) });
    noteEndpointsChanged(q, ctx.accountId);
    return { status: 200, body: { ...endpoint, secret } };
  }),
};

export const updateEndpoint: Command<ParsedObject<typeof updateEndpointParams.shape>> = {
  name: 'webhook_endpoints.update',
  run: (ctx, p) => ctx.finish('update', async (q) => {
    const e = strip(await liveEndpoint(q, ctx.accountId, p.webhook_endpoint, { forUpdate: true }));
    if (p.url !== undefined) e.url = p.url;
    if (p.enabled_events !== undefined) e.enabled_events = p.enabled_events;
    if (p.description !== undefined) e.description = p.description;
    if (p.metadata !== undefined) e.metadata = applyMetadata(e.metadata, p.metadata);
    if (p.disabled !== undefined) e.status = p.disabled ? 'disabled' : 'enabled';
    webhookEndpoints.update(q, ctx.accountId, e, p.disabled === false ? { failing_since: null } : {});
    noteEndpointsChanged(q, ctx.accountId);
    return { status: 200, body: e };
  }),
};

export const deleteEndpoint: Command<ParsedObject<typeof deleteEndpointParams.shape>> = {
  name: 'webhook_endpoints.delete',
  run: (ctx, p) => ctx.finish('delete', async (q) => {
    const e = await liveEndpoint(q, ctx.accountId, p.webhook_endpoint, { forUpdate: true });
    webhookEndpoints.update(q, ctx.accountId, { ...e, deleted: true });
    noteEndpointsChanged(q, ctx.accountId);
    q.write(`UPDATE webhook_deliveries SET status = 'canceled' WHERE account_id = $1 AND endpoint_id = $2 AND status = 'pending'`, [ctx.accountId, e.id]);
    return { status: 200, body: { id: e.id, object: 'webhook_endpoint', deleted: true } };
  }),
};

export const rotateEndpointSecret: Command<ParsedObject<typeof rotateSecretParams.shape>> = {
  name: 'webhook_endpoints.rotate_secret',
  run: (ctx, p) => ctx.finish('rotate', async (q) => {
    const e = strip(await liveEndpoint(q, ctx.accountId, p.webhook_endpoint, { forUpdate: true }));
    const now = nowSeconds();
    const grace = p.previous_secret_expires_in ?? 24 * 3600;
    const previous = (await readSecrets(q, ctx.accountId, e.id)).find((s) => s.expires_at === null);
    const secret = newWebhookSecret();
    // Keep only the new secret and the one it replaces (for its grace period).
    const secrets: EndpointSecret[] = [{ secret, expires_at: null }, ...(previous && grace > 0 ? [{ secret: previous.secret, expires_at: now + grace }] : [])];
    webhookEndpoints.update(q, ctx.accountId, e, { secrets: JSON.stringify(secrets) });
    return { status: 200, body: { ...e, secret, previous_secret_expires_at: previous && grace > 0 ? now + grace : null } };
  }),
};

export const redeliverEvent: Command<ParsedObject<typeof redeliverParams.shape>> = {
  name: 'events.redeliver',
  run: (ctx, p) => ctx.finish('redeliver', async (q) => {
    const event = await events.get(q, ctx.accountId, p.event);
    let endpointIds: string[];
    if (p.webhook_endpoint) {
      const e = await liveEndpoint(q, ctx.accountId, p.webhook_endpoint, { param: 'webhook_endpoint' });
      if (e.status !== 'enabled') throw invalidRequest(`Webhook endpoint ${e.id} is disabled: enable it before redelivering to it.`, 'webhook_endpoint');
      endpointIds = [e.id];
    } else {
      // Every enabled endpoint that wants this type now, plus those it was delivered to before.
      const { rows } = await q.query<{ id: string }>(
        `SELECT id FROM webhook_endpoints WHERE account_id = $1 AND status = 'enabled' AND NOT deleted
            AND (enabled_events ? '*' OR enabled_events ? $2 OR id IN (SELECT endpoint_id FROM webhook_deliveries WHERE account_id = $1 AND event_id = $3))`,
        [ctx.accountId, event.type, event.id]);
      endpointIds = rows.map((r) => r.id);
    }
    // Clearing the lease fences off an attempt still in flight: its outcome is recorded in the
    // history, but it cannot mark the delivery delivered (or schedule a retry) over this request.
    for (const endpointId of endpointIds) {
      q.write(
        `INSERT INTO webhook_deliveries (account_id, event_id, endpoint_id) VALUES ($1, $2, $3)
         ON CONFLICT (account_id, event_id, endpoint_id) DO UPDATE SET status = 'pending', next_attempt_at = now(), lease_token = NULL`,
        [ctx.accountId, event.id, endpointId]);
    }
    if (endpointIds.length > 0) noteDeliveries(q);
    return { status: 200, body: { ...event, pending_webhooks: endpointIds.length } };
  }),
};


export { API_VERSION };
