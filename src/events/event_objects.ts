/** Events, webhook endpoints and delivery attempts: shapes and tables. */
import { ObjectTable } from '../store/object_table.ts';

/** The API version events and endpoints report (the one the official clients of this era send). */
export const API_VERSION = '2026-10-28.endive';

export interface StripeEvent {
  id: string;
  object: 'event';
  api_version: string;
  created: number;
  data: { object: Record<string, unknown>; previous_attributes?: Record<string, unknown> };
  livemode: false;
  pending_webhooks: number;
  request: { id: string | null; idempotency_key: string | null };
  type: string;
}

export interface WebhookEndpoint {
  id: string;
  object: 'webhook_endpoint';
  api_version: string | null;
  application: null;
  created: number;
  description: string | null;
  enabled_events: string[];
  livemode: false;
  metadata: Record<string, string>;
  status: 'enabled' | 'disabled';
  url: string;
}

/** Signing secrets of an endpoint: the current one, and the previous one while its grace period lasts. */
export interface EndpointSecret {
  secret: string;
  /** Unix seconds after which this (previous) secret stops signing; null for the current one. */
  expires_at: number | null;
}

/** One delivery attempt (Oncepay extension: Stripe shows these only in its dashboard). */
export interface DeliveryAttempt {
  id: string;
  object: 'webhook_delivery_attempt';
  created: number;
  event: string;
  event_type: string;
  webhook_endpoint: string;
  url: string;
  /** Its number among the attempts made for this delivery (1, 2, ...), including one cut off by a crash. */
  attempt: number;
  /**
   * delivered (2xx), failed (another status, a timeout or a connection error), refused (unsafe
   * URL); pending while it is being sent; unknown when the process sending it stopped before the
   * answer was recorded (it may have reached the receiver; it is retried and not counted).
   */
  outcome: 'pending' | 'delivered' | 'failed' | 'refused' | 'unknown';
  status_code: number | null;
  latency_ms: number;
  response_body_excerpt: string | null;
  error: string | null;
  /** When the next attempt is due; null once delivered or given up. */
  next_retry_at: number | null;
}

export const events = new ObjectTable<StripeEvent>('events', 'event', { type: (e) => e.type });
export const webhookEndpoints = new ObjectTable<WebhookEndpoint & { deleted?: boolean }>('webhook_endpoints', 'webhook_endpoint', {
  status: (e) => e.status,
  deleted: (e) => e.deleted === true,
  enabled_events: (e) => JSON.stringify(e.enabled_events),
});
export const deliveryAttempts = new ObjectTable<DeliveryAttempt>('webhook_attempts', 'webhook_delivery_attempt', {
  event_id: (a) => a.event,
  endpoint_id: (a) => a.webhook_endpoint,
  outcome: (a) => a.outcome,
});
