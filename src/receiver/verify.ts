/**
 * Verifying an Oncepay webhook delivery. Every delivery carries two signatures made with the
 * endpoint's secret (`whsec_` + base64 of 32 bytes); either one is enough:
 * - Stripe's `Stripe-Signature: t=<unix>,v1=<hex>` where the hex is HMAC-SHA256 keyed with the
 *   secret string as given, over `<t>.<body>` (one v1= per active secret);
 * - Standard Webhooks' `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64>` where
 *   the base64 is HMAC-SHA256 keyed with the base64-decoded part after `whsec_`, over
 *   `<id>.<t>.<body>` (space separated, one per active secret).
 *
 * This module is self-contained (node:crypto only) so a merchant's service can use it as is.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** A Stripe-shaped event as Oncepay sends it. */
export interface WebhookEvent<TObject extends Record<string, unknown> = Record<string, unknown>> {
  id: string;
  object: 'event';
  type: string;
  created: number;
  data: { object: TObject; previous_attributes?: Record<string, unknown> };
  api_version?: string | null;
  livemode?: boolean;
  pending_webhooks?: number;
  request?: { id: string | null; idempotency_key: string | null } | null;
  [field: string]: unknown;
}

export type VerificationFailure =
  | 'missing_signature'
  | 'malformed_header'
  | 'bad_signature'
  | 'timestamp_out_of_tolerance'
  | 'malformed_body'
  | 'id_mismatch';

/** The delivery is not an authentic, fresh Oncepay event. Answer it with a 4xx (400 is usual). */
export class WebhookVerificationError extends Error {
  override readonly name = 'WebhookVerificationError';
  constructor(readonly reason: VerificationFailure, message: string) {
    super(message);
  }
}

/** Node's `req.headers`, a plain record in any letter case, or a Fetch API `Headers`. */
export type WebhookHeaders = Record<string, string | string[] | undefined> | { get(name: string): string | null };

export interface VerifyWebhookOptions {
  /** The raw request body, byte for byte as received: not a parsed and re-serialized object. */
  body: string | Uint8Array;
  headers: WebhookHeaders;
  /** The endpoint's secret; during a rotation, the new and the old one (either may match). */
  secrets: string | readonly string[];
  /** How far the signed timestamp may be from now, in either direction. Default 300. */
  toleranceSeconds?: number;
  /** The current time (tests). Default: the clock. */
  now?: Date;
}

export type SignatureScheme = 'standard-webhooks' | 'stripe';

export const DEFAULT_TOLERANCE_SECONDS = 300;

/**
 * Checks the signature and the timestamp, then parses the body. Returns the event, or throws
 * WebhookVerificationError. When the three `webhook-*` headers are present they are used (they
 * sign the event id too); otherwise `Stripe-Signature`.
 */
export function verifyWebhook<E extends WebhookEvent = WebhookEvent>(opts: VerifyWebhookOptions): E {
  return verifyWebhookDetailed<E>(opts).event;
}

/** verifyWebhook, also saying which scheme was checked and the signed timestamp. */
export function verifyWebhookDetailed<E extends WebhookEvent = WebhookEvent>(
  opts: VerifyWebhookOptions,
): { event: E; scheme: SignatureScheme; timestamp: number } {
  const secrets = normalizeSecrets(opts.secrets);
  const tolerance = opts.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  if (!(tolerance >= 0)) throw new TypeError('toleranceSeconds must be a non-negative number');
  const body = rawBytes(opts.body);
  const header = headerReader(opts.headers);

  const id = header('webhook-id');
  const ts = header('webhook-timestamp');
  const sig = header('webhook-signature');
  const stripe = header('stripe-signature');

  let scheme: SignatureScheme;
  let timestamp: number;
  if (id !== undefined && ts !== undefined && sig !== undefined) {
    scheme = 'standard-webhooks';
    timestamp = checkStandard(secrets, id, ts, sig, body);
  } else if (stripe !== undefined) {
    scheme = 'stripe';
    timestamp = checkStripe(secrets, stripe, body);
  } else if (id !== undefined || ts !== undefined || sig !== undefined) {
    throw new WebhookVerificationError('malformed_header', 'webhook-id, webhook-timestamp and webhook-signature must all be present');
  } else {
    throw new WebhookVerificationError('missing_signature', 'no Stripe-Signature or webhook-signature header');
  }

  const nowSeconds = Math.floor((opts.now ?? new Date()).getTime() / 1000);
  if (Math.abs(nowSeconds - timestamp) > tolerance) {
    throw new WebhookVerificationError('timestamp_out_of_tolerance',
      `signed timestamp ${timestamp} is ${nowSeconds - timestamp}s from now (tolerance ${tolerance}s)`);
  }

  const event = parseEvent(body) as E;
  if (scheme === 'standard-webhooks' && event.id !== id) {
    throw new WebhookVerificationError('id_mismatch', `webhook-id ${id} does not match the event id ${event.id}`);
  }
  return { event, scheme, timestamp };
}

function normalizeSecrets(secrets: string | readonly string[]): string[] {
  const list = typeof secrets === 'string' ? [secrets] : [...secrets];
  if (list.length === 0) throw new TypeError('no webhook secret given');
  for (const s of list) {
    if (typeof s !== 'string' || s.length === 0) throw new TypeError('a webhook secret must be a non-empty string');
  }
  return list;
}

function rawBytes(body: unknown): Buffer {
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  throw new WebhookVerificationError('malformed_body',
    'the body must be the raw request body (string or Buffer), not a parsed object: configure your framework to keep it');
}

function headerReader(headers: WebhookHeaders): (name: string) => string | undefined {
  if (typeof (headers as { get?: unknown }).get === 'function') {
    const h = headers as { get(name: string): string | null };
    return (name) => h.get(name) ?? undefined;
  }
  const record = headers as Record<string, string | string[] | undefined>;
  return (name) => {
    let value = record[name];
    if (value === undefined) {
      const key = Object.keys(record).find((k) => k.toLowerCase() === name);
      value = key === undefined ? undefined : record[key];
    }
    if (Array.isArray(value)) {
      const distinct = [...new Set(value)];
      if (distinct.length > 1) throw new WebhookVerificationError('malformed_header', `several different ${name} headers`);
      value = distinct[0];
    }
    return value;
  };
}

const parseTimestamp = (value: string, header: string): number => {
  const v = value.trim();
  if (!/^\d{1,12}$/.test(v)) throw new WebhookVerificationError('malformed_header', `${header} has no valid timestamp`);
  return Number(v);
};

/** Whether `expected` equals one of `candidates`, comparing in constant time for equal lengths. */
function matchesAny(expected: Buffer, candidates: Buffer[]): boolean {
  let found = false;
  for (const c of candidates) {
    // No early exit: every candidate is compared.
    if (c.length === expected.length && timingSafeEqual(c, expected)) found = true;
  }
  return found;
}

function checkStripe(secrets: string[], header: string, body: Buffer): number {
  let t: string | undefined;
  const signatures: Buffer[] = [];
  for (const item of header.split(',')) {
    const eq = item.indexOf('=');
    if (eq < 0) continue;
    const key = item.slice(0, eq).trim();
    const value = item.slice(eq + 1).trim();
    if (key === 't') t = value;
    else if (key === 'v1' && /^[0-9a-fA-F]{64}$/.test(value)) signatures.push(Buffer.from(value, 'hex'));
  }
  if (t === undefined) throw new WebhookVerificationError('malformed_header', 'Stripe-Signature has no t=');
  const timestamp = parseTimestamp(t, 'Stripe-Signature');
  if (signatures.length === 0) throw new WebhookVerificationError('malformed_header', 'Stripe-Signature has no v1= signature');
  let ok = false;
  for (const secret of secrets) {
    const expected = createHmac('sha256', secret).update(`${t}.`).update(body).digest();
    if (matchesAny(expected, signatures)) ok = true;
  }
  if (!ok) throw new WebhookVerificationError('bad_signature', 'no Stripe-Signature v1 signature matches the body and secret');
  return timestamp;
}

function checkStandard(secrets: string[], id: string, ts: string, header: string, body: Buffer): number {
  const timestamp = parseTimestamp(ts, 'webhook-timestamp');
  if (id.length === 0) throw new WebhookVerificationError('malformed_header', 'webhook-id is empty');
  const signatures: Buffer[] = [];
  let any = false;
  for (const entry of header.split(/\s+/)) {
    if (!entry) continue;
    any = true;
    const comma = entry.indexOf(',');
    if (comma < 0) continue;
    if (entry.slice(0, comma) !== 'v1') continue; // other versions (v1a: asymmetric) are not ours
    const value = entry.slice(comma + 1);
    if (/^[A-Za-z0-9+/]{43}=$/.test(value)) signatures.push(Buffer.from(value, 'base64'));
  }
  if (!any) throw new WebhookVerificationError('malformed_header', 'webhook-signature is empty');
  if (signatures.length === 0) throw new WebhookVerificationError('malformed_header', 'webhook-signature has no v1 signature');
  let ok = false;
  for (const secret of secrets) {
    const key = Buffer.from(secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret, 'base64');
    const expected = createHmac('sha256', key).update(`${id}.${ts.trim()}.`).update(body).digest();
    if (matchesAny(expected, signatures)) ok = true;
  }
  if (!ok) throw new WebhookVerificationError('bad_signature', 'no webhook-signature v1 signature matches the body and secret');
  return timestamp;
}

function parseEvent(body: Buffer): WebhookEvent {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
  } catch {
    throw new WebhookVerificationError('malformed_body', 'the body is not UTF-8 JSON');
  }
  const e = parsed as Partial<WebhookEvent> | null;
  if (
    typeof e !== 'object' || e === null || Array.isArray(e)
    || typeof e.id !== 'string' || e.id.length === 0
    || e.object !== 'event' || typeof e.type !== 'string'
    || typeof e.data !== 'object' || e.data === null
  ) {
    throw new WebhookVerificationError('malformed_body', 'the body is not an event (id, object: "event", type, data)');
  }
  return e as WebhookEvent;
}
