/** Configuration from the environment. Names are part of the public contract (see README). */
export interface Config {
  port: number;
  host: string;
  /**
   * Where browsers reach this server (ONCEPAY_PUBLIC_URL), for the hosted pages' URLs (Checkout,
   * the billing portal, invoices); unset: http://localhost:<the port it listens on>.
   */
  publicUrl?: string;
  databaseUrl?: string;
  dataDir: string;
  /**
   * The embedded engine when DATABASE_URL is unset: a real PostgreSQL from npm or PGlite; unset
   * ('auto'): that PostgreSQL, or PGlite for a new database where it cannot run.
   */
  embedded: 'postgres' | 'pglite' | 'auto';
  secretKeys: string[];
  idempotencyRetentionMs: number;
  lockTimeoutMs: number;
  completerIntervalMs: number;
  reaperIntervalMs: number;
  /** Database connections per process; unset: 20 on DATABASE_URL, 8 on the embedded PostgreSQL (2 cores need few). */
  poolSize?: number;
  logLevel: string;
  /** 'production' refuses webhook URLs on loopback and private networks (unless allow-listed). */
  production: boolean;
  /** Any well-formed unknown sk_test_ key gets its own new account on first use (test mode's default). */
  acceptAnyKey: boolean;
  webhookAllowedHosts: string[];
  webhookScheduleMs?: number[];
  webhookTimeoutMs: number;
  /** How long a claimed delivery belongs to its sender before another process may send it again (> the timeout). */
  webhookLeaseMs: number;
  webhookIntervalMs: number;
  webhookDisableAfterMs: number;
  requestLogRetentionMs: number;
  /** Requests per second per API key (0: no limit). */
  rateLimitPerSecond: number;
  /** How long SIGTERM waits for in-flight requests before releasing their locks and closing. */
  shutdownTimeoutMs: number;
  /** How often the billing run renews subscriptions, collects invoices and sends reminders (wall-clock timeline). */
  billingIntervalMs: number;
  /** Invoice reminders, in seconds relative to the due date (negative: before it). */
  invoiceReminderOffsets: number[];
  /** Test-only fault injection, e.g. "crash:payment_intents.create:after:prepare" (see src/faults.ts). */
  faults?: string;
}

/** Parses "500ms", "30s", "10m", "24h", "7d" or a bare number of milliseconds. */
export function parseDuration(value: string, name: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(value);
  if (!m) throw new Error(`${name}: expected a duration like 30s, 10m or 24h, got "${value}"`);
  const n = Number(m[1]);
  const unit = m[2] ?? 'ms';
  const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[unit]!;
  return Math.round(n * factor);
}

/** Parses "-3d,0,1d,7d": durations before (-) or after the due date, in seconds. */
export function parseOffsets(value: string, name: string): number[] {
  if (value.trim() === '' || value.trim() === 'none') return [];
  return value.split(',').map((part) => {
    const m = /^\s*([+-]?)(.*)$/.exec(part)!;
    const ms = parseDuration(m[2], name);
    return (m[1] === '-' ? -1 : 1) * Math.round(ms / 1000);
  });
}

function intFrom(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name}: expected a whole number, got "${value}"`);
  return n;
}

/** What a secret key looks like (ONCEPAY_SECRET_KEY, and any-key mode's keys). */
export const SECRET_KEY_PATTERN = /^sk_test_[A-Za-z0-9_]{8,200}$/;

/** A TCP port: 0 (any free port) to 65535. */
function portFrom(value: string | undefined): number {
  if (value === undefined || value === '') return 4242;
  const n = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || n > 65535) throw new Error(`PORT: expected a port number from 0 to 65535, got "${value}"`);
  return n;
}

/** DATABASE_URL: a postgres:// or postgresql:// URL, or unset (the embedded database). Never echoes a password. */
function databaseUrlFrom(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const example = 'postgres://user:password@127.0.0.1:5432/oncepay';
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(value)?.[1];
  if (!scheme) throw new Error(`DATABASE_URL: expected a PostgreSQL URL such as ${example} (or unset for the embedded database), got "${value.length > 40 ? `${value.slice(0, 40)}...` : value}"`);
  if (!['postgres', 'postgresql'].includes(scheme.toLowerCase())) {
    throw new Error(`DATABASE_URL: Oncepay stores its data in PostgreSQL only: expected a postgres:// or postgresql:// URL such as ${example}, got a ${scheme}:// URL`);
  }
  try {
    new URL(value);
  } catch {
    throw new Error(`DATABASE_URL: not a valid URL (expected one such as ${example}; special characters in the password must be percent-encoded)`);
  }
  return value;
}

/** ONCEPAY_PUBLIC_URL: an http(s) origin, optionally with a path prefix; kept without its trailing slash. */
function publicUrlFrom(value: string | undefined): string | undefined {
  if (!value) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`ONCEPAY_PUBLIC_URL: expected an http:// or https:// URL such as https://pay.example.com, got "${value}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`ONCEPAY_PUBLIC_URL: expected an http:// or https:// URL, got a ${url.protocol}// URL`);
  if (url.search || url.hash) throw new Error('ONCEPAY_PUBLIC_URL: expected no query string or fragment');
  return `${url.origin}${url.pathname}`.replace(/\/+$/, '');
}

/** pino's levels, and silent. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

function logLevelFrom(value: string | undefined): string {
  if (!value) return 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(value)) throw new Error(`ONCEPAY_LOG_LEVEL: expected one of ${LOG_LEVELS.join(', ')}, got "${value}"`);
  return value;
}

/** A bad key named by its position and its first characters only (a secret is never printed whole). */
function parseSecretKeys(value: string | undefined): string[] {
  const keys = (value ?? '').split(',').map((k) => k.trim()).filter(Boolean);
  keys.forEach((k, i) => {
    if (SECRET_KEY_PATTERN.test(k)) return;
    const which = keys.length > 1 ? `key ${i + 1} of ${keys.length}` : 'the key';
    throw new Error(`ONCEPAY_SECRET_KEY: ${which} ("${k.slice(0, Math.min(8, Math.floor(k.length / 2)))}...", ${k.length} characters) does not look like sk_test_ followed by 8 to 200 letters, digits or underscores`);
  });
  return keys;
}

function boolFrom(value: string | undefined, name: string, fallback: boolean): boolean {
  if (value === undefined || value === '') return fallback;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new Error(`${name}: expected true or false, got "${value}"`);
}

function parseMode(value: string | undefined): boolean {
  if (!value || value === 'test') return false;
  if (value === 'production') return true;
  throw new Error(`ONCEPAY_ENV: expected test or production, got "${value}"`);
}

function parseEmbedded(value: string | undefined): Config['embedded'] {
  if (!value) return 'auto';
  if (value === 'postgres') return 'postgres';
  if (value === 'pglite') return 'pglite';
  throw new Error(`ONCEPAY_EMBEDDED: expected postgres or pglite, got "${value}"`);
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const keys = parseSecretKeys(env.ONCEPAY_SECRET_KEY);
  const webhookTimeoutMs = parseDuration(env.ONCEPAY_WEBHOOK_TIMEOUT || '10s', 'ONCEPAY_WEBHOOK_TIMEOUT');
  const webhookLeaseMs = env.ONCEPAY_WEBHOOK_LEASE
    ? parseDuration(env.ONCEPAY_WEBHOOK_LEASE, 'ONCEPAY_WEBHOOK_LEASE') : Math.max(webhookTimeoutMs * 3, 30_000);
  if (webhookLeaseMs <= webhookTimeoutMs) {
    throw new Error(`ONCEPAY_WEBHOOK_LEASE: expected a duration longer than ONCEPAY_WEBHOOK_TIMEOUT (${webhookTimeoutMs} ms), got ${webhookLeaseMs} ms`);
  }
  return {
    port: portFrom(env.PORT),
    host: env.HOST || '127.0.0.1',
    publicUrl: publicUrlFrom(env.ONCEPAY_PUBLIC_URL),
    databaseUrl: databaseUrlFrom(env.DATABASE_URL),
    dataDir: env.ONCEPAY_DATA_DIR || './.oncepay/data',
    embedded: parseEmbedded(env.ONCEPAY_EMBEDDED),
    secretKeys: keys,
    idempotencyRetentionMs: parseDuration(env.ONCEPAY_IDEMPOTENCY_RETENTION || '24h', 'ONCEPAY_IDEMPOTENCY_RETENTION'),
    lockTimeoutMs: parseDuration(env.ONCEPAY_IDEMPOTENCY_LOCK_TIMEOUT || '10s', 'ONCEPAY_IDEMPOTENCY_LOCK_TIMEOUT'),
    completerIntervalMs: parseDuration(env.ONCEPAY_COMPLETER_INTERVAL || '2s', 'ONCEPAY_COMPLETER_INTERVAL'),
    reaperIntervalMs: parseDuration(env.ONCEPAY_REAPER_INTERVAL || '10m', 'ONCEPAY_REAPER_INTERVAL'),
    poolSize: env.ONCEPAY_DB_POOL_SIZE ? intFrom(env.ONCEPAY_DB_POOL_SIZE, 'ONCEPAY_DB_POOL_SIZE', 20) : undefined,
    logLevel: logLevelFrom(env.ONCEPAY_LOG_LEVEL),
    faults: env.ONCEPAY_TEST_FAULTS || undefined,
    production: parseMode(env.ONCEPAY_ENV),
    acceptAnyKey: boolFrom(env.ONCEPAY_ACCEPT_ANY_KEY, 'ONCEPAY_ACCEPT_ANY_KEY', !parseMode(env.ONCEPAY_ENV)),
    webhookAllowedHosts: (env.ONCEPAY_WEBHOOK_ALLOWED_HOSTS ?? '').split(',').map((h) => h.trim()).filter(Boolean),
    webhookScheduleMs: env.ONCEPAY_WEBHOOK_RETRY_SCHEDULE
      ? env.ONCEPAY_WEBHOOK_RETRY_SCHEDULE.split(',').map((d) => parseDuration(d, 'ONCEPAY_WEBHOOK_RETRY_SCHEDULE'))
      : undefined,
    webhookTimeoutMs,
    webhookLeaseMs,
    webhookIntervalMs: parseDuration(env.ONCEPAY_WEBHOOK_INTERVAL || '250ms', 'ONCEPAY_WEBHOOK_INTERVAL'),
    requestLogRetentionMs: parseDuration(env.ONCEPAY_REQUEST_LOG_RETENTION || '30d', 'ONCEPAY_REQUEST_LOG_RETENTION'),
    rateLimitPerSecond: intFrom(env.ONCEPAY_RATE_LIMIT, 'ONCEPAY_RATE_LIMIT', 1000),
    shutdownTimeoutMs: parseDuration(env.ONCEPAY_SHUTDOWN_TIMEOUT || '10s', 'ONCEPAY_SHUTDOWN_TIMEOUT'),
    billingIntervalMs: parseDuration(env.ONCEPAY_BILLING_INTERVAL || '5s', 'ONCEPAY_BILLING_INTERVAL'),
    invoiceReminderOffsets: parseOffsets(env.ONCEPAY_INVOICE_REMINDERS ?? '-3d,1d,7d', 'ONCEPAY_INVOICE_REMINDERS'),
    webhookDisableAfterMs: parseDuration(env.ONCEPAY_WEBHOOK_DISABLE_AFTER || '3d', 'ONCEPAY_WEBHOOK_DISABLE_AFTER'),
  };
}
