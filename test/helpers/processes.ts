/**
 * Real Oncepay server processes for crash tests: `node --import tsx src/cli/main.ts serve` as a
 * child, on a free loopback port, over a PGlite data directory or the DATABASE_URL PostgreSQL.
 * Every child is tracked so `killAllServers()` (call it from `after`) leaves nothing running.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import Stripe from 'stripe';
import pg from 'pg';
import { embeddedEnv, usingPostgres } from './store.ts';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const CLI = join(ROOT, 'src', 'cli', 'main.ts');

export { STORE, usingPostgres } from './store.ts';

/** A fresh secret key (so every process start can own its own account on a shared database). */
export function newSecretKey(): string {
  return `sk_test_crash_${randomBytes(12).toString('hex')}`;
}

/** Where a server keeps its data: a PGlite directory, or the shared PostgreSQL. */
export interface Store {
  databaseUrl?: string;
  dataDir?: string;
  /** Removes the PGlite directory (no-op for PostgreSQL). */
  dispose(): void;
}

/**
 * A fresh store. PostgreSQL (DATABASE_URL set): this test process's own schema in that database
 * (see isolatedPostgresUrl). PGlite: a new directory. PGlite's first start (initdb inside WASM,
 * then migrations) costs seconds of CPU, so one migrated directory is made per test process with
 * `oncepay migrate` and each store is a copy of it.
 */
export async function newStore(): Promise<Store> {
  if (usingPostgres()) return { databaseUrl: await isolatedPostgresUrl(), dispose() {} };
  const template = await pgliteTemplate();
  const dataDir = mkdtempSync(join(tmpdir(), 'oncepay-crash-'));
  cpSync(template, dataDir, { recursive: true });
  return { dataDir, dispose: () => rmSync(dataDir, { recursive: true, force: true }) };
}

/**
 * DATABASE_URL with search_path set to a schema of this test process's own. Crash tests run
 * servers whose completer sweeps every account of its database with a 1 s lock timeout; in the
 * shared schema it would also take over (and finish) requests that other test files, running at
 * the same time, leave in flight or abandon on purpose. A private schema keeps them apart while
 * still being the same PostgreSQL, shared by every process of this file.
 */
/** Runs fn with a short-lived client on DATABASE_URL. */
async function withClient(fn: (client: pg.Client) => Promise<void>): Promise<void> {
  const client = new pg.Client({ connectionString: process.env.DATABASE_URL! });
  await client.connect();
  try {
    await fn(client);
  } finally {
    await client.end();
  }
}

/** A new schema in DATABASE_URL's database, and a URL whose connections use it as search_path. */
export async function createPrivateSchema(tag: string): Promise<{ schema: string; url: string }> {
  const base = process.env.DATABASE_URL!;
  const schema = `oncepay_${tag}_${process.pid}_${randomBytes(4).toString('hex')}`;
  await withClient((c) => c.query(`CREATE SCHEMA ${schema}`).then(() => {}));
  const url = `${base}${base.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
  return { schema, url };
}

export async function dropPrivateSchemas(schemas: string[]): Promise<void> {
  if (schemas.length === 0) return;
  await withClient(async (c) => {
    for (const s of schemas) await c.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
  });
}

let pgSchema: Promise<{ schema: string; url: string }> | undefined;
function isolatedPostgresUrl(): Promise<string> {
  pgSchema ??= createPrivateSchema('crash');
  return pgSchema.then((s) => s.url);
}

/** Kills every server, then drops this process's PostgreSQL schema if it made one. For `after`. */
export async function cleanupServersAndStores(): Promise<void> {
  await killAllServers();
  if (!pgSchema) return;
  const { schema } = await pgSchema;
  pgSchema = undefined;
  await dropPrivateSchemas([schema]);
}

let template: Promise<string> | undefined;
function pgliteTemplate(): Promise<string> {
  template ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oncepay-template-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'migrate'], {
      cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ONCEPAY_DATA_DIR: dir, ...embeddedEnv() }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    live.add(child);
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { out += d; });
    const exit = await onExit(child);
    live.delete(child);
    if (exit.code !== 0) throw new Error(`oncepay migrate for the PGlite template failed (${JSON.stringify(exit)}):\n${out}`);
    return dir;
  })();
  return template;
}

export async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => ok(port));
    });
  });
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface RawResponse {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

export interface ServerProcess {
  child: ChildProcess;
  pid: number;
  port: number;
  url: string;
  key: string;
  /** Resolves when the process has exited (for any reason). */
  exited: Promise<Exit>;
  /** Everything the process wrote, for failure messages. */
  output(): string;
  stripe(opts?: { maxNetworkRetries?: number }): Stripe;
  raw(method: string, path: string, opts?: { body?: string; headers?: Record<string, string> }): Promise<RawResponse>;
  /** The acquirer's ledger entries for one reference (payment intent id), or the whole account's. */
  ledger(reference?: string): Promise<LedgerEntry[]>;
  /** SIGKILL (if still running) and wait for the exit. */
  kill(): Promise<Exit>;
}

export interface LedgerEntry {
  downstream_key: string;
  kind: 'sale' | 'authorization' | 'capture' | 'void' | 'refund' | 'verification';
  reference: string;
  amount: number;
  currency: string;
  outcome: string;
  attempts: number;
}

export interface SpawnOptions {
  store: Store;
  key?: string;
  /** ONCEPAY_TEST_FAULTS, e.g. `kill:payment_intents.create:authorize`. */
  faults?: string;
  /** ONCEPAY_IDEMPOTENCY_LOCK_TIMEOUT (default 1s). */
  lockTimeout?: string;
  /** ONCEPAY_COMPLETER_INTERVAL (default 1h: the completer stays out of the way unless asked for). */
  completerInterval?: string;
  env?: Record<string, string>;
  startupTimeoutMs?: number;
}

const live = new Set<ChildProcess>();

function onExit(child: ChildProcess): Promise<Exit> {
  return new Promise((ok) => {
    if (child.exitCode !== null || child.signalCode !== null) return ok({ code: child.exitCode, signal: child.signalCode });
    child.once('exit', (code, signal) => ok({ code, signal }));
  });
}

export async function spawnServer(opts: SpawnOptions): Promise<ServerProcess> {
  const key = opts.key ?? newSecretKey();
  // freePort() closes its probe before the child binds: another process may take the port in
  // between. The child then fails with EADDRINUSE; try another port.
  for (let attempt = 1; ; attempt++) {
    try {
      return await spawnOnce(opts, key, await freePort());
    } catch (err) {
      if (attempt >= 3 || !String((err as Error).message).includes('EADDRINUSE')) throw err;
    }
  }
}

async function spawnOnce(opts: SpawnOptions, key: string, port: number): Promise<ServerProcess> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    PORT: String(port),
    HOST: '127.0.0.1',
    ONCEPAY_SECRET_KEY: key,
    ONCEPAY_IDEMPOTENCY_LOCK_TIMEOUT: opts.lockTimeout ?? '1s',
    ONCEPAY_COMPLETER_INTERVAL: opts.completerInterval ?? '1h',
    // Like the completer, the wall-clock billing run stays out of the way unless a test asks for
    // it (env): on a shared database it would otherwise bill every other test's leftovers.
    ONCEPAY_BILLING_INTERVAL: '1h',
    ONCEPAY_LOG_LEVEL: process.env.ONCEPAY_TEST_LOG ?? 'warn',
    ONCEPAY_DB_POOL_SIZE: '10',
    ...embeddedEnv(),
    ...opts.env,
  };
  if (opts.store.databaseUrl) env.DATABASE_URL = opts.store.databaseUrl;
  else env.ONCEPAY_DATA_DIR = opts.store.dataDir!;
  if (opts.faults) env.ONCEPAY_TEST_FAULTS = opts.faults;

  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'serve'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  const exited = onExit(child).then((e) => { live.delete(child); return e; });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { out += d; });

  const timeoutMs = opts.startupTimeoutMs ?? 60_000;
  await new Promise<void>((ok, fail) => {
    const timer = setTimeout(() => { cleanup(); fail(new Error(`server did not start within ${timeoutMs} ms:\n${out}`)); }, timeoutMs);
    const onData = () => { if (out.includes('Oncepay listening on')) { cleanup(); ok(); } };
    const onEarlyExit = (code: number | null, signal: string | null) => {
      cleanup();
      const outside = signal && signal !== 'SIGKILL' ? ' (these helpers only ever send SIGKILL: something outside the test killed it)' : '';
      fail(new Error(`server exited during startup (code ${code}, signal ${signal})${outside}:\n${out}`));
    };
    const cleanup = () => {
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      child.off('exit', onEarlyExit);
    };
    child.stdout!.on('data', onData);
    child.once('exit', onEarlyExit);
    onData();
  }).catch(async (err) => {
    child.kill('SIGKILL');
    await exited;
    throw err;
  });

  const url = `http://127.0.0.1:${port}`;
  const raw: ServerProcess['raw'] = async (method, path, o = {}) => {
    const headers: Record<string, string> = { authorization: `Bearer ${key}`, ...o.headers };
    if (o.body !== undefined) headers['content-type'] ??= 'application/x-www-form-urlencoded';
    const res = await fetch(`${url}${path}`, { method, headers, body: o.body });
    const text = await res.text();
    let json: any;
    try { json = JSON.parse(text); } catch { json = undefined; }
    return { status: res.status, headers: res.headers, text, json };
  };
  return {
    child, pid: child.pid!, port, url, key, exited,
    output: () => out,
    stripe: (o = {}) => new Stripe(key, {
      host: '127.0.0.1', port, protocol: 'http', maxNetworkRetries: o.maxNetworkRetries ?? 0, telemetry: false,
    }),
    raw,
    async ledger(reference) {
      const query = reference === undefined ? '' : `?reference=${encodeURIComponent(reference)}`;
      const r = await raw('GET', `/v1/test_helpers/acquirer_ledger${query}`);
      if (r.status !== 200) throw new Error(`ledger: HTTP ${r.status} ${r.text}`);
      return r.json.data;
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      return exited;
    },
  };
}

/** SIGKILLs every server this process started that is still running, and waits for them. */
export async function killAllServers(): Promise<void> {
  const children = [...live];
  for (const c of children) c.kill('SIGKILL');
  await Promise.all(children.map(onExit));
}

// Last resort if the test runner exits without running `after` hooks.
process.once('exit', () => { for (const c of live) c.kill('SIGKILL'); });

/** Polls `fn` until `done(value)` or the deadline; returns the last value. */
export async function pollUntil<T>(fn: () => Promise<T>, done: (v: T) => boolean, opts: { timeoutMs?: number; intervalMs?: number } = {}): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
  for (;;) {
    const v = await fn();
    if (done(v) || Date.now() >= deadline) return v;
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 150));
  }
}

/** Runs `fn` over items with at most `limit` in flight. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Adds the servers' own output to a failure, then rethrows it. */
export function explain(err: unknown, servers: Array<ServerProcess | undefined>): never {
  const out = servers.filter(Boolean).map((s) => `--- server pid ${s!.pid} port ${s!.port} output ---\n${s!.output().slice(-4000)}`).join('\n');
  if (err instanceof Error && out) err.message += `\n${out}`;
  throw err;
}

/** `p`, or a failure naming `what` after `ms`. */
export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, fail) => { timer = setTimeout(() => fail(new Error(`timed out after ${ms} ms: ${what}`)), ms); })]);
  } finally {
    clearTimeout(timer);
  }
}
