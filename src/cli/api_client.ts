/**
 * A tiny client for the Oncepay API: `Authorization: Bearer`, Stripe-style form bodies (qs with
 * bracket nesting), and failures turned into one clear line (ApiRequestError, Unreachable).
 *
 * POST and DELETE with an Idempotency-Key are retried on what is worth retrying (a dropped
 * connection, 409 idempotency_key_in_use, 429, 5xx) with the same key, so a retry never runs
 * a write twice.
 */
import { readFileSync } from 'node:fs';
import qs from 'qs';
import { CliError, describeNetworkError } from './errors.ts';

export const CLI_VERSION: string = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version;
export const USER_AGENT = `oncepay-cli/${CLI_VERSION}`;
/** Sent by the polling loops (`logs tail`, `listen`), whose requests `logs tail` does not show. */
export const POLL_USER_AGENT = `${USER_AGENT} (poll)`;

export interface StripeErrorBody {
  type?: string;
  code?: string;
  decline_code?: string;
  message?: string;
  param?: string;
}

/** The API answered with an error (Stripe's envelope `{ error: { type, code, message, param } }`). */
export class ApiRequestError extends CliError {
  constructor(
    readonly status: number,
    readonly error: StripeErrorBody,
    readonly requestId: string | null,
  ) {
    const detail = [`HTTP ${status}`, error.code, error.decline_code && error.decline_code !== error.code ? error.decline_code : undefined]
      .filter(Boolean).join(', ');
    super(`${error.message ?? 'the API refused the request'} (${detail})`);
    this.name = 'ApiRequestError';
  }
}

/** No HTTP answer at all: the server is down, the address is wrong, the connection dropped. */
export class Unreachable extends CliError {
  constructor(readonly apiBase: string, readonly reason: string, readonly code?: string) {
    super(`cannot reach Oncepay at ${apiBase}: ${reason}`);
    this.name = 'Unreachable';
  }
}

export interface ApiClientOptions {
  apiBase: string;
  apiKey: string;
  userAgent?: string;
  /** Per attempt. Default 30 s. */
  timeoutMs?: number;
  /** Delay before the first retry (doubled each time). Default 500 ms. */
  retryDelayMs?: number;
  fetch?: typeof fetch;
}

export interface RequestOptions {
  query?: Record<string, unknown>;
  body?: Record<string, unknown>;
  idempotencyKey?: string;
  /** Retries after a retryable failure. Default: 2 for writes with an Idempotency-Key, else 0. */
  retries?: number;
  userAgent?: string;
}

export interface ApiResponse<T> {
  status: number;
  body: T;
  requestId: string | null;
  headers: Headers;
}

/** Stripe's form encoding: `a[b]=1&items[0][x]=2`, brackets left readable as the clients send them. */
export function formEncode(params: Record<string, unknown>): string {
  return qs.stringify(params, { arrayFormat: 'indices', skipNulls: true }).replace(/%5B/gi, '[').replace(/%5D/gi, ']');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class ApiClient {
  readonly apiBase: string;
  readonly apiKey: string;
  private readonly fetchImpl: typeof fetch;

  constructor(private readonly opts: ApiClientOptions) {
    this.apiBase = opts.apiBase.replace(/\/+$/, '');
    this.apiKey = opts.apiKey;
    this.fetchImpl = opts.fetch ?? fetch;
  }

  get<T = any>(path: string, query?: Record<string, unknown>, opts: Omit<RequestOptions, 'query' | 'body'> = {}): Promise<T> {
    return this.request<T>('GET', path, { ...opts, query }).then((r) => r.body);
  }

  post<T = any>(path: string, body: Record<string, unknown> = {}, opts: Omit<RequestOptions, 'body'> = {}): Promise<T> {
    return this.request<T>('POST', path, { ...opts, body }).then((r) => r.body);
  }

  del<T = any>(path: string, opts: Omit<RequestOptions, 'body'> = {}): Promise<T> {
    return this.request<T>('DELETE', path, opts).then((r) => r.body);
  }

  /** One API call; resolves with 2xx answers, rejects with ApiRequestError or Unreachable. */
  async request<T = any>(method: string, path: string, opts: RequestOptions = {}): Promise<ApiResponse<T>> {
    const query = opts.query && Object.keys(opts.query).length > 0 ? `?${formEncode(opts.query)}` : '';
    const url = `${this.apiBase}${path}${query}`;
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.opts.apiKey}`,
      'user-agent': opts.userAgent ?? this.opts.userAgent ?? USER_AGENT,
      accept: 'application/json',
    };
    let body: string | undefined;
    if (opts.body !== undefined && method !== 'GET') {
      body = formEncode(opts.body);
      headers['content-type'] = 'application/x-www-form-urlencoded';
    }
    if (opts.idempotencyKey) headers['idempotency-key'] = opts.idempotencyKey;
    const retries = opts.retries ?? (opts.idempotencyKey && method !== 'GET' ? 2 : 0);
    let delay = this.opts.retryDelayMs ?? 500;
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        res = await this.fetchImpl(url, { method, headers, body, signal: AbortSignal.timeout(this.opts.timeoutMs ?? 30_000) });
      } catch (err) {
        const code = (err as { cause?: { code?: string } }).cause?.code;
        // Refused: nothing listens there, retrying at once will not help (and was never sent).
        if (attempt < retries && code !== 'ECONNREFUSED' && code !== 'ENOTFOUND') { await sleep(delay); delay *= 2; continue; }
        throw new Unreachable(this.apiBase, describeNetworkError(err), code);
      }
      const text = await res.text().catch(() => '');
      const requestId = res.headers.get('request-id');
      let json: any;
      try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
      if (res.ok) {
        if (json === undefined) throw unexpected(url, res, text);
        return { status: res.status, body: json as T, requestId, headers: res.headers };
      }
      const retryable = res.status === 409 && json?.error?.code === 'idempotency_key_in_use' || res.status === 429 || res.status >= 500;
      if (retryable && attempt < retries) {
        const after = Number(res.headers.get('retry-after'));
        await sleep(Number.isFinite(after) && after > 0 ? Math.min(after * 1000, 10_000) : delay);
        delay *= 2;
        continue;
      }
      if (json && typeof json.error === 'object' && json.error !== null) throw new ApiRequestError(res.status, json.error, requestId);
      throw unexpected(url, res, text);
    }
  }
}

function unexpected(url: string, res: Response, text: string): CliError {
  const type = res.headers.get('content-type')?.split(';')[0] ?? 'no content type';
  const excerpt = text.replace(/\s+/g, ' ').trim().slice(0, 120);
  return new CliError(`unexpected answer from ${url}: HTTP ${res.status} (${type})${excerpt ? `: ${excerpt}` : ''}; is this an Oncepay server?`);
}

/** Every item of a list endpoint, newest first, following `has_more` (at most `max` items). */
export async function listAll<T extends { id: string }>(
  client: ApiClient, path: string, query: Record<string, unknown>, max: number, opts: { userAgent?: string } = {},
): Promise<T[]> {
  const out: T[] = [];
  let startingAfter: string | undefined;
  while (out.length < max) {
    const page = await client.get<{ data: T[]; has_more: boolean }>(path,
      { ...query, limit: Math.min(100, max - out.length), ...(startingAfter ? { starting_after: startingAfter } : {}) }, opts);
    out.push(...page.data);
    if (!page.has_more || page.data.length === 0) break;
    startingAfter = page.data[page.data.length - 1].id;
  }
  return out;
}
