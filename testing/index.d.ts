// Types of `oncepay/testing`, self-contained so a TypeScript project checks them with its own
// settings (guide: the README's "Use it in your test suite"). The implementation, src/testing.ts,
// uses these types; test/unit/testing_types.test.ts checks its startOncepay against the declared one.
import type Stripe from 'stripe';

export interface StartOncepayOptions {
  /** `'same'` (default): in this process. `'child'`: in a child process of its own, killed by stop(). */
  process?: 'same' | 'child';
  /** Listening port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  /** The server's pino log level (JSON lines on stdout); default `silent`. */
  logLevel?: string;
  /** A PostgreSQL URL to use instead of the in-memory database (each start still gets a fresh account). */
  databaseUrl?: string;
  /** Other settings, by their environment names (`{ ONCEPAY_RATE_LIMIT: '0' }`). */
  env?: Record<string, string>;
  /** The `stripe` class to build clients with; default: the `stripe` package installed for the caller. */
  Stripe?: new (key: string, config?: Record<string, unknown>) => Stripe;
  /** Extra options for the returned clients (`maxNetworkRetries`, `timeout`, ...). */
  stripeConfig?: Record<string, unknown>;
}

export interface OncepayAccount {
  /** A secret key (`sk_test_...`) of this account. */
  key: string;
  accountId: string;
  /** An official client using that key, pointed at the server. */
  stripe: Stripe;
}

export interface RunningOncepay extends OncepayAccount {
  /** `http://127.0.0.1:<port>` */
  url: string;
  port: number;
  /** Another fresh, empty account on the same server (each test its own). */
  newAccount(): Promise<OncepayAccount>;
  /** Stops the server (a child process is killed and awaited) and frees its database. Safe to call twice. */
  stop(): Promise<void>;
}

/** Starts an Oncepay server on a free loopback port, in memory, with a fresh account. */
export function startOncepay(options?: StartOncepayOptions): Promise<RunningOncepay>;
