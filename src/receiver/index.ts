/**
 * Receiving Oncepay webhooks in a merchant's service: verify the delivery, then process the
 * event once. Self-contained (node:crypto, and `pg` types only): nothing here depends on the
 * rest of Oncepay. See docs/webhooks-receiver.md.
 *
 *   const event = verifyWebhook({ body: rawBody, headers: req.headers, secrets: process.env.WEBHOOK_SECRET! });
 *   const outcome = await processOnceInTransaction(pool, event, async (event, client) => {
 *     await client.query('UPDATE orders SET paid = true WHERE payment_intent = $1', [event.data.object.id]);
 *   });
 */
export {
  verifyWebhook,
  verifyWebhookDetailed,
  WebhookVerificationError,
  DEFAULT_TOLERANCE_SECONDS,
  type WebhookEvent,
  type WebhookHeaders,
  type VerifyWebhookOptions,
  type VerificationFailure,
  type SignatureScheme,
} from './verify.ts';
export {
  processOnce,
  processOnceInTransaction,
  withTransaction,
  processedEventsDdl,
  InMemoryProcessedEvents,
  PostgresProcessedEvents,
  DEFAULT_PROCESSED_EVENTS_TABLE,
  type ProcessedEventStore,
  type ProcessOutcome,
  type EventRef,
  type EventHandler,
  type InMemoryProcessedEventsOptions,
  type PostgresProcessedEventsOptions,
  type SqlExecutor,
  type PoolLike,
  type TransactionRunner,
  type TransactionSource,
  type TransactionOf,
} from './stores.ts';
