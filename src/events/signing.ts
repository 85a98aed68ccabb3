/**
 * Webhook signatures, two schemes over one secret:
 * - Stripe's `Stripe-Signature: t=<unix>,v1=<hex hmac-sha256(secret, "<t>.<body>")>` (one v1 per
 *   active secret), which `stripe.webhooks.constructEvent` verifies;
 * - Standard Webhooks' `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64
 *   hmac-sha256(base64-decoded secret, "<id>.<t>.<body>")>` (space separated per secret).
 * A secret is `whsec_` + base64 of 32 random bytes, so both schemes can use it as they expect.
 */
import { createHmac, randomBytes } from 'node:crypto';

export const newWebhookSecret = () => `whsec_${randomBytes(32).toString('base64')}`;

export function stripeSignatureHeader(secrets: string[], timestamp: number, body: string): string {
  const sigs = secrets.map((s) => `v1=${createHmac('sha256', s).update(`${timestamp}.${body}`).digest('hex')}`);
  return [`t=${timestamp}`, ...sigs].join(',');
}

export function standardWebhooksSignature(secrets: string[], id: string, timestamp: number, body: string): string {
  return secrets
    .map((s) => `v1,${createHmac('sha256', Buffer.from(s.replace(/^whsec_/, ''), 'base64')).update(`${id}.${timestamp}.${body}`).digest('base64')}`)
    .join(' ');
}

export function signedHeaders(secrets: string[], eventId: string, body: string, now = Math.floor(Date.now() / 1000)): Record<string, string> {
  return {
    'content-type': 'application/json; charset=utf-8',
    'user-agent': 'Oncepay/1.0 (+webhooks)',
    'stripe-signature': stripeSignatureHeader(secrets, now, body),
    'webhook-id': eventId,
    'webhook-timestamp': String(now),
    'webhook-signature': standardWebhooksSignature(secrets, eventId, now, body),
  };
}
