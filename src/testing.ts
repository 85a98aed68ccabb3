/**
 * `import { startOncepay } from 'oncepay/testing'`: an Oncepay server for a team's test suite.
 *
 * It starts on a free loopback port, in this process (default) or in a child process, with an
 * in-memory database (nothing is written to disk) unless `databaseUrl` names a PostgreSQL
 * database, and returns its address, the secret key of a fresh account and an official `stripe`
 * client pointed at it. The entry file (testing/index.js) loads this TypeScript through tsx, so
 * the caller needs no TypeScript tooling of its own.
 *
 * Nothing imports this module inside src/: it sits above the composition root, like the CLI.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { AddressInfo } from 'node:net';
import { loadConfig, type Config } from './config.ts';
import { createOncepay } from './server.ts';
import { createAccount } from './accounts/keys.ts';

// The public types live in the declarations a consumer's TypeScript reads (testing/index.d.ts):
// one statement of them, which this implementation is checked against.
import type { OncepayAccount, RunningOncepay, StartOncepayOptions } from '../testing/index.js';

export type { OncepayAccount, RunningOncepay, StartOncepayOptions };
type StripeConstructor = NonNullable<StartOncepayOptions['Stripe']>;

/** What the server side of both modes answers: where it listens, and fresh accounts on demand. */
export interface ServerHandle {
  port: number;
  newAccount(): Promise<{ key: string; accountId: string }>;
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';

export async function startOncepay(opts: StartOncepayOptions = {}): Promise<RunningOncepay> {
  const mode = opts.process ?? 'same';
  if (mode !== 'same' && mode !== 'child') throw new TypeError(`startOncepay: process must be 'same' or 'child', got ${JSON.stringify(mode)}`);
  const port = opts.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new TypeError(`startOncepay: port must be a whole number from 0 to 65535, got ${JSON.stringify(opts.port)}`);
  const Stripe = opts.Stripe ?? (await loadStripe());
  const settings: ServerSettings = { port, logLevel: opts.logLevel ?? 'silent', databaseUrl: opts.databaseUrl, env: opts.env ?? {} };
  const server = mode === 'child' ? await startChild(settings) : await startServer(settings);
  const url = `http://${HOST}:${server.port}`;
  const client = (key: string) =>
    new Stripe(key, { host: HOST, port: server.port, protocol: 'http', telemetry: false, ...opts.stripeConfig });
  const account = (a: { key: string; accountId: string }): OncepayAccount => ({ ...a, stripe: client(a.key) });
  try {
    const first = account(await server.newAccount());
    return { ...first, url, port: server.port, newAccount: async () => account(await server.newAccount()), stop: once(server.stop) };
  } catch (err) {
    await server.stop();
    throw err;
  }
}

export interface ServerSettings {
  port: number;
  logLevel: string;
  databaseUrl?: string;
  env: Record<string, string>;
}

/** The configuration of a test server: the given settings over the defaults, never the caller's environment. */
export function testingConfig(s: ServerSettings): Config {
  return {
    ...loadConfig(s.env),
    host: HOST,
    port: s.port,
    databaseUrl: s.databaseUrl || undefined,
    dataDir: 'memory://',
    secretKeys: [],
    logLevel: s.logLevel,
  };
}

/** A server in this process. */
export async function startServer(s: ServerSettings): Promise<ServerHandle> {
  const oncepay = await createOncepay(testingConfig(s));
  try {
    await oncepay.app.listen({ port: s.port, host: HOST });
  } catch (err) {
    await oncepay.close({ timeoutMs: 0 });
    throw new Error(`startOncepay: cannot listen on ${HOST}:${s.port}: ${(err as Error).message}`);
  }
  return {
    port: (oncepay.app.server.address() as AddressInfo).port,
    newAccount: () => createAccount(oncepay.db),
    stop: once(() => oncepay.close({ timeoutMs: 1000 })),
  };
}

/** Messages between startOncepay and its child (src/testing_child.ts). */
export type ChildMessage =
  | { type: 'ready'; port: number }
  | { type: 'failed'; message: string }
  | { type: 'account'; id: number; key?: string; accountId?: string; error?: string };

export type ParentMessage = { type: 'start'; settings: ServerSettings } | { type: 'account'; id: number };

/** A server in a child process of its own, spoken to over the IPC channel. */
async function startChild(settings: ServerSettings): Promise<ServerHandle> {
  // None of this process's Node options (--test, --inspect, --input-type, ...): the entry loads tsx itself.
  const child = fork(new URL('../testing/child.js', import.meta.url), [], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = once(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
  });
  const pending = new Map<number, (m: Extract<ChildMessage, { type: 'account' }>) => void>();
  let nextId = 0;
  const port = await new Promise<number>((resolve, reject) => {
    child.on('message', (m: ChildMessage) => {
      if (m.type === 'ready') resolve(m.port);
      else if (m.type === 'failed') reject(new Error(`startOncepay: the child process could not start the server: ${m.message}`));
      else if (m.type === 'account') { pending.get(m.id)?.(m); pending.delete(m.id); }
    });
    child.once('exit', (code, signal) => reject(new Error(`startOncepay: the child process exited before the server was ready (${signal ?? `code ${code}`})`)));
    send(child, { type: 'start', settings });
  }).catch(async (err) => { await stop(); throw err; });
  child.once('exit', () => {
    for (const answer of pending.values()) answer({ type: 'account', id: -1, error: 'the child process exited' });
    pending.clear();
  });
  return {
    port,
    stop,
    newAccount: () => new Promise((resolve, reject) => {
      if (child.exitCode !== null || child.signalCode !== null) return reject(new Error('startOncepay: the server was stopped'));
      const id = nextId++;
      pending.set(id, (m) => (m.key && m.accountId ? resolve({ key: m.key, accountId: m.accountId }) : reject(new Error(`startOncepay: no new account: ${m.error}`))));
      send(child, { type: 'account', id });
    }),
  };
}

function send(child: ChildProcess, message: ParentMessage): void {
  child.send(message);
}

/** The `stripe` package as the caller installed it (resolved from the working directory first, then from Oncepay). */
async function loadStripe(): Promise<StripeConstructor> {
  const fromCaller = (() => {
    try {
      return createRequire(join(process.cwd(), 'package.json')).resolve('stripe');
    } catch {
      return undefined;
    }
  })();
  try {
    const mod = (await import(fromCaller ? pathToFileURL(fromCaller).href : 'stripe')) as { default?: unknown; Stripe?: unknown };
    const ctor = (typeof mod.default === 'function' ? mod.default : (mod.default as { Stripe?: unknown } | undefined)?.Stripe ?? mod.Stripe);
    if (typeof ctor !== 'function') throw new Error('the package exports no Stripe class');
    return ctor as StripeConstructor;
  } catch (err) {
    throw new Error(`startOncepay needs the official 'stripe' package for its client: install it (npm install --save-dev stripe) or pass { Stripe } (${(err as Error).message})`);
  }
}

/** A function that runs once; later calls share its promise. */
function once(fn: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  return () => (done ??= fn());
}
