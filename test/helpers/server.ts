/**
 * Starts a real Oncepay server in this process on a random loopback port: PostgreSQL when
 * DATABASE_URL is set, otherwise the embedded engine (ONCEPAY_EMBEDDED) in memory. Each call gets its own account, so test
 * files can share one PostgreSQL database without seeing each other.
 */
import Stripe from 'stripe';
import pino from 'pino';
import type { AddressInfo } from 'node:net';
import { after, before } from 'node:test';
import { loadConfig, type Config } from '../../src/config.ts';
import { createOncepay, type Oncepay } from '../../src/server.ts';
import { createAccount } from '../../src/accounts/keys.ts';
import type { FaultHook } from '../../src/faults.ts';
import { assertConformance, recordResponses, type RecordedResponse } from './conformance.ts';
import { assertStripeTypes } from './stripe_types.ts';

export interface TestServer {
  oncepay: Oncepay;
  port: number;
  url: string;
  key: string;
  accountId: string;
  /**
   * The official client. `neverRetry`: a client that does not retry at all (stripe-node's node
   * http client retries a reset connection once even with maxNetworkRetries 0; its fetch client
   * does not), so crash tests see the drop.
   */
  stripe(opts?: { key?: string; maxNetworkRetries?: number; neverRetry?: boolean }): Stripe;
  /** Another account on the same server. */
  newAccount(): Promise<{ key: string; accountId: string }>;
  /** Runs the completer for this test's account only. */
  complete(graceMs?: number): Promise<number>;
  /** Runs the wall-clock billing run for this test's account only (renewals, collection, reminders). */
  billing(): Promise<number>;
  /** The acquirer's ledger for one reference (payment intent id). */
  ledger(reference?: string): Promise<Awaited<ReturnType<Oncepay['processor']['ledger']>>>;
  /** Every response the server sent so far (checked against the OpenAPI document on close). */
  responses: RecordedResponse[];
  /**
   * Stops the server, then checks every JSON response it sent against the OpenAPI document
   * (test/helpers/conformance.ts): throws, listing them, when any does not conform; then against
   * the stripe package's types (test/helpers/stripe_types.ts, as ONCEPAY_STRIPE_TYPES says).
   */
  close(): Promise<void>;
}

export { usingPostgres } from './store.ts';
import { embeddedEngine } from './store.ts';

export async function startTestServer(opts: { faults?: FaultHook; config?: Partial<Config> } = {}): Promise<TestServer> {
  const config: Config = {
    ...loadConfig({}),
    databaseUrl: process.env.DATABASE_URL || undefined,
    dataDir: 'memory://',
    embedded: embeddedEngine(),
    completerIntervalMs: 3_600_000, // tests drive the completer explicitly
    billingIntervalMs: 3_600_000, // and the billing run
    logLevel: 'silent',
    poolSize: 10,
    ...opts.config,
  };
  const oncepay = await createOncepay(config, { faults: opts.faults, logger: pino({ level: process.env.ONCEPAY_TEST_LOG ?? 'silent' }) });
  const recorded = recordResponses(oncepay.app);
  await oncepay.app.listen({ port: 0, host: '127.0.0.1' });
  const port = (oncepay.app.server.address() as AddressInfo).port;
  const { key, accountId } = await createAccount(oncepay.db);
  let closed: Promise<void> | undefined;
  const close = async () => {
    await oncepay.close();
    // Both checks run (the second reports even when the first fails); both failures are thrown.
    const failures = [assertConformance, assertStripeTypes].flatMap((check) => {
      try { check(recorded); return []; } catch (e) { return [e instanceof Error ? e.message : String(e)]; }
    });
    if (failures.length > 0) throw new Error(failures.join('\n\n'));
  };
  const stripeFor = (k: string, maxNetworkRetries = 0, neverRetry = false) =>
    new Stripe(k, {
      host: '127.0.0.1', port, protocol: 'http', maxNetworkRetries, telemetry: false,
      ...(neverRetry ? { httpClient: Stripe.createFetchHttpClient() } : {}),
    });
  return {
    oncepay, port, url: `http://127.0.0.1:${port}`, key, accountId, responses: recorded,
    stripe: (o = {}) => stripeFor(o.key ?? key, o.maxNetworkRetries, o.neverRetry),
    newAccount: () => createAccount(oncepay.db),
    billing: () => oncepay.billing.run({ accountId, clock: null }),
    complete: (graceMs = 0) => oncepay.engine.completeAbandoned({ graceMs, accountId }),
    ledger: (reference) => oncepay.processor.ledger(accountId, reference),
    close: () => (closed ??= close()),
  };
}

type TestServerOptions = NonNullable<Parameters<typeof startTestServer>[0]>;

/**
 * A test server for the enclosing file or describe block: registers a node:test `before` hook
 * that starts it and an `after` hook that closes it (which checks every response it sent against
 * the OpenAPI document, see close()). Call it at the top of the file or of a describe callback.
 *
 * Returns stand-ins usable once the `before` hook ran (in tests, later hooks, functions they
 * call): `server` forwards every property to the started TestServer, `stripe` to a client with
 * the server's key (`server.stripe()`). Using either earlier throws.
 *
 * `setup` runs in the same hook once the server is up, for fixtures the tests share. (A second
 * top-level `before` could not rely on the server: Node 20 runs a file's top-level `before` hooks
 * concurrently. Hooks inside a describe block run in order.)
 */
export function useTestServer(opts: TestServerOptions & { setup?: (server: TestServer) => unknown } = {}): { server: TestServer; stripe: Stripe } {
  const { setup, ...startOpts } = opts;
  let started: TestServer | undefined;
  let client: Stripe | undefined;
  before(async () => {
    started = await startTestServer(startOpts);
    client = started.stripe();
    await setup?.(started);
  });
  after(async () => { await started?.close(); });
  return {
    server: forwardTo('the test server', () => started),
    stripe: forwardTo('the test server\'s stripe client', () => client),
  };
}

/** An object that forwards property reads to `current()` (functions bound to it). */
function forwardTo<T extends object>(what: string, current: () => T | undefined): T {
  return new Proxy({} as T, {
    get(_, prop) {
      const target = current();
      if (!target) {
        if (prop === 'then') return undefined; // not a thenable (an async function may return it)
        throw new Error(`${what} is used before useTestServer's before hook started it (property ${String(prop)})`);
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
    has: (_, prop) => prop in (current() ?? {}),
  });
}

/** A raw HTTP call (for what the official client cannot send: bad bodies, odd headers). */
export async function rawRequest(
  server: TestServer, method: string, path: string,
  opts: { body?: string; contentType?: string; headers?: Record<string, string>; key?: string | null } = {},
): Promise<{ status: number; headers: Headers; text: string; json: any }> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.key !== null) headers.authorization = `Bearer ${opts.key ?? server.key}`;
  if (opts.body !== undefined) headers['content-type'] = opts.contentType ?? 'application/x-www-form-urlencoded';
  const res = await fetch(`${server.url}${path}`, { method, headers, body: opts.body });
  const text = await res.text();
  let json: any;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, headers: res.headers, text, json };
}
