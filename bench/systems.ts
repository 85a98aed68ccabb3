/**
 * The systems the bench compares, each started as its own process tree on a free port:
 * Oncepay on each embedded engine (a fresh temp data dir, as `npm start` with no storage
 * configuration), Oncepay on PostgreSQL (DATABASE_URL), and stripe-stateful-mock from npm
 * (installed into a temp dir at bench time, never a dependency).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** A running server process, with the tail of its output kept for error messages. */
export interface Server {
  child: ChildProcess;
  base: string;
  /** From spawn to the first HTTP answer. */
  startMs: number;
  output(): string;
}

export interface SpawnSpec { command: string; args: string[]; env: NodeJS.ProcessEnv; cwd?: string; probe: string; headers: Record<string, string> }

export async function startProcess(spec: SpawnSpec, port: number): Promise<Server> {
  const started = performance.now();
  const child = spawn(spec.command, spec.args, { env: spec.env, cwd: spec.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let tail = '';
  const keep = (chunk: Buffer) => { tail = (tail + chunk.toString()).slice(-16_000); };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const server: Server = { child, base: `http://127.0.0.1:${port}`, startMs: 0, output: () => tail };
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`exited during startup (${child.exitCode ?? child.signalCode}): ${tail.trim().split('\n').slice(-3).join(' | ')}`);
    }
    try {
      await fetch(`${server.base}${spec.probe}`, { headers: spec.headers, signal: AbortSignal.timeout(1000) });
      server.startMs = performance.now() - started;
      return server;
    } catch {
      await sleep(20);
    }
  }
  await stopProcess(server);
  throw new Error(`did not answer within 60 s: ${tail.slice(-2000)}`);
}

/** SIGTERM (graceful: lets --cpu-prof write its profile, stops an embedded database), SIGKILL after 15 s. */
export async function stopProcess(server: Server): Promise<void> {
  const { child } = server;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

/** What one system is, for the scenarios: how to start it and what to send. */
export interface System {
  /** Lowercase letters only (the machine-readable lines: bench-<name>). */
  name: string;
  label: string;
  storage: string;
  key: string;
  /** The create+confirm request (or the peer's nearest: a charge). */
  path: string;
  body: string;
  /** Whether GET /v1/balance at 200k balance transactions can be measured (direct access to its database). */
  oncepay: boolean;
  start(opts: { fresh: boolean }): Promise<Server>;
  /** Removes what the system left (temp data dirs). */
  cleanup(): void;
  /** Oncepay: the database settings of this system (for the bench's direct inserts while it is stopped). */
  database?: { databaseUrl?: string; dataDir: string; embedded?: 'postgres' | 'pglite' };
}

export const CREATE_CONFIRM = 'amount=2000&currency=usd&payment_method=pm_card_visa&confirm=true';

interface OncepayOptions { name: string; label: string; storage: string; key: string; env: NodeJS.ProcessEnv; cpuProfDir?: string }

export function oncepaySystem(o: OncepayOptions & { databaseUrl?: string; embedded?: 'postgres' | 'pglite' }): System {
  let dataDir = '';
  const fresh = () => {
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    dataDir = mkdtempSync(join(tmpdir(), `oncepay-bench-${o.name}-`));
  };
  const system: System = {
    name: o.name, label: o.label, storage: o.storage, key: o.key, path: '/v1/payment_intents', body: CREATE_CONFIRM, oncepay: true,
    async start({ fresh: isFresh }) {
      if (isFresh || !dataDir) fresh();
      system.database = { databaseUrl: o.databaseUrl, dataDir: join(dataDir, 'data'), embedded: o.embedded };
      const port = await freePort();
      const args = ['--import', 'tsx'];
      if (o.cpuProfDir) args.push('--cpu-prof', `--cpu-prof-dir=${o.cpuProfDir}`);
      args.push('src/cli/main.ts', 'serve');
      const env: NodeJS.ProcessEnv = {
        ...o.env, PORT: String(port), HOST: '127.0.0.1', ONCEPAY_DATA_DIR: system.database.dataDir, ONCEPAY_SECRET_KEY: o.key,
        // Measurement settings, not storage: quiet logs, no per-key rate limit (replays exceed
        // the default 1000/s), and no wall-clock billing run over whatever a shared database holds.
        ONCEPAY_LOG_LEVEL: 'warn', ONCEPAY_RATE_LIMIT: '0', ONCEPAY_BILLING_INTERVAL: '1h',
      };
      delete env.DATABASE_URL;
      delete env.ONCEPAY_EMBEDDED;
      if (o.databaseUrl) Object.assign(env, { DATABASE_URL: o.databaseUrl, ONCEPAY_DB_POOL_SIZE: '32' });
      if (o.embedded) env.ONCEPAY_EMBEDDED = o.embedded;
      return startProcess({ command: process.execPath, args, env, probe: '/v1/balance', headers: { authorization: `Bearer ${o.key}` } }, port);
    },
    cleanup() {
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
      dataDir = '';
    },
  };
  return system;
}

/**
 * stripe-stateful-mock, installed from npm into a temp dir now. It has no payment intents: its
 * create+confirm stand-in is POST /v1/charges with a test token (what issue 12 measured).
 */
export function mockPeer(key: string): System | { unavailable: string } {
  const prefix = mkdtempSync(join(tmpdir(), 'oncepay-bench-peer-'));
  const npm = spawnSync('npm', ['install', '--prefix', prefix, '--no-audit', '--no-fund', '--loglevel=error', 'stripe-stateful-mock'], { encoding: 'utf8', timeout: 180_000 });
  const cli = join(prefix, 'node_modules', 'stripe-stateful-mock', 'dist', 'cli.js');
  if (npm.status !== 0 || !existsSync(cli)) {
    rmSync(prefix, { recursive: true, force: true });
    return { unavailable: `npm install stripe-stateful-mock failed: ${(npm.stderr || npm.error?.message || `exit ${npm.status}`).trim().split('\n').slice(-2).join(' | ')}` };
  }
  return {
    name: 'mock', label: 'stripe-stateful-mock (npm)', storage: 'memory', key, path: '/v1/charges',
    body: 'amount=2000&currency=usd&source=tok_visa', oncepay: false,
    async start() {
      const port = await freePort();
      return startProcess({ command: process.execPath, args: [cli], env: { ...process.env, PORT: String(port), LOG_LEVEL: 'warn' }, probe: '/v1/customers', headers: { authorization: `Bearer ${key}` } }, port);
    },
    cleanup() { rmSync(prefix, { recursive: true, force: true }); },
  };
}
