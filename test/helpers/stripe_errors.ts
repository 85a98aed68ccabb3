/**
 * Helpers for tests that send bad input: a raw HTTP call that never hangs a test (a request
 * the server drops or never answers fails fast with a clear message), and assertions for
 * Stripe's error shape `{"error":{"type","code"?,"message","param"?}}` plus the Request-Id header;
 * and the error an official-client call must end with.
 */
import assert from 'node:assert/strict';
import type Stripe from 'stripe';
import type { TestServer } from './server.ts';

export interface Reply {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

export interface SendOptions {
  body?: string;
  /** Defaults to application/x-www-form-urlencoded when a body is sent. */
  contentType?: string;
  headers?: Record<string, string>;
  /** The API key to send as Bearer; null sends no Authorization header. Defaults to the server's key. */
  key?: string | null;
  timeoutMs?: number;
}

export const REQUEST_ID = /^req_[A-Za-z0-9]+$/;

/**
 * One raw HTTP request. `path` is used as is (percent-encode it yourself). A dropped connection
 * or no answer within the timeout throws an error saying so, instead of hanging the test.
 */
export async function send(server: TestServer, method: string, path: string, opts: SendOptions = {}): Promise<Reply> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.key !== null && !Object.keys(headers).some((h) => h.toLowerCase() === 'authorization')) {
    headers.authorization = `Bearer ${opts.key ?? server.key}`;
  }
  if (opts.body !== undefined) headers['content-type'] = opts.contentType ?? 'application/x-www-form-urlencoded';
  const timeoutMs = opts.timeoutMs ?? 5_000;
  let res: Response;
  let text: string;
  try {
    res = await fetch(`${server.url}${path}`, { method, headers, body: opts.body, signal: AbortSignal.timeout(timeoutMs) });
    text = await res.text();
  } catch (err) {
    const why = (err as Error).name === 'TimeoutError'
      ? `no response within ${timeoutMs} ms (the server hung or dropped the request)`
      : `the connection failed (${(err as Error).message}${(err as any).cause ? `: ${(err as any).cause.message ?? (err as any).cause}` : ''})`;
    throw new Error(`${method} ${path.slice(0, 200)}: ${why}`);
  }
  let json: any;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, headers: res.headers, text, json };
}

const show = (res: Reply) => `HTTP ${res.status} ${res.text.slice(0, 400)}`;

export function assertRequestId(res: Reply): void {
  const id = res.headers.get('request-id');
  assert.ok(id && REQUEST_ID.test(id), `expected a Request-Id: req_... header, got ${JSON.stringify(id)} (${show(res)})`);
}

export interface ExpectedError {
  status: number;
  /** Defaults to invalid_request_error. */
  type?: string;
  /** Checked when given. */
  code?: string | readonly string[];
  /** Checked when given: an exact name, or a pattern. */
  param?: string | RegExp;
}

/**
 * The response is Stripe's error: the given status, a JSON body `{"error":{...}}` with a type,
 * a non-empty message, and the expected code and param; and a Request-Id header.
 */
export function assertStripeError(res: Reply, expected: ExpectedError): any {
  assertRequestId(res);
  assert.equal(res.status, expected.status, `expected HTTP ${expected.status}, got ${show(res)}`);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/, `expected a JSON error, got content-type ${res.headers.get('content-type')} (${show(res)})`);
  assert.ok(res.json && typeof res.json === 'object' && !Array.isArray(res.json), `body is not a JSON object: ${show(res)}`);
  assert.deepEqual(Object.keys(res.json), ['error'], `body must be {"error":{...}}: ${show(res)}`);
  const error = res.json.error;
  assert.ok(error && typeof error === 'object', `error is not an object: ${show(res)}`);
  assert.equal(error.type, expected.type ?? 'invalid_request_error', `wrong error.type: ${show(res)}`);
  assert.equal(typeof error.message, 'string', `error.message must be a string: ${show(res)}`);
  assert.ok(error.message.length > 0, `error.message is empty: ${show(res)}`);
  if (expected.code !== undefined) {
    const codes = typeof expected.code === 'string' ? [expected.code] : expected.code;
    assert.ok(codes.includes(error.code), `expected error.code ${codes.join(' or ')}, got ${JSON.stringify(error.code)} (${show(res)})`);
  }
  if (expected.param !== undefined) {
    if (typeof expected.param === 'string') assert.equal(error.param, expected.param, `wrong error.param: ${show(res)}`);
    else assert.match(String(error.param), expected.param, `wrong error.param: ${show(res)}`);
  }
  return error;
}

/** A successful JSON response with a Request-Id. */
export function assertOk(res: Reply): any {
  assertRequestId(res);
  assert.equal(res.status, 200, `expected HTTP 200, got ${show(res)}`);
  assert.ok(res.json && typeof res.json === 'object', `body is not JSON: ${show(res)}`);
  return res.json;
}

/** A form body (application/x-www-form-urlencoded) of flat fields. */
export const form = (fields: Record<string, string | number>): string =>
  new URLSearchParams(Object.entries(fields).map(([k, v]): [string, string] => [k, String(v)])).toString();

/** The error an official-client call rejects with; fails the test, showing the value, when it resolves. */
export async function stripeError(p: Promise<unknown>): Promise<Stripe.errors.StripeError> {
  return p.then((v) => assert.fail(`expected an error, got ${JSON.stringify(v)?.slice(0, 300)}`), (e) => e);
}

/** Percent-encodes every byte of the UTF-8 form of `s` that is not unreserved (lone surrogates become U+FFFD). */
export function pct(s: string): string {
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-._~]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}
