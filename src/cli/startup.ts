/**
 * What `oncepay serve` checks before it opens or creates anything, so that a start that cannot
 * succeed fails at once with a message naming the setting: the listening address is free
 * (PORT, HOST), the data directory can be written (ONCEPAY_DATA_DIR), PostgreSQL answers
 * (DATABASE_URL). And a signal during start-up stops the process, whatever it was doing.
 */
import { existsSync, mkdirSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, resolve } from 'node:path';
import { userInfo } from 'node:os';
import { CliError, describeNetworkError } from './errors.ts';

const address = (host: string, port: number) => `${host.includes(':') ? `[${host}]` : host}:${port}`;

/** A failure to listen in words naming PORT or HOST; undefined for an error that is neither's. */
export function describeListenError(err: unknown, host: string, port: number): string | undefined {
  const where = address(host, port);
  switch ((err as { code?: string }).code) {
    case 'EADDRINUSE':
      return `PORT: ${where} is already in use by another process: stop it, or choose another PORT (or HOST); PORT=0 takes any free port`;
    case 'EACCES':
      return `PORT: listening on ${where} is not permitted (ports below 1024 need privileges): choose another PORT`;
    case 'EADDRNOTAVAIL':
      return `HOST: ${host} is not an address of this machine (listening on ${where}): use 127.0.0.1, 0.0.0.0 or one of its addresses`;
    case 'ENOTFOUND': case 'EAI_AGAIN': case 'EAI_NONAME':
      return `HOST: cannot resolve "${host}" to an address of this machine`;
    default:
      return undefined;
  }
}

/** Binds the address for a moment: a taken port is refused before anything is created. */
export async function checkAddressFree(host: string, port: number): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((ok, fail) => {
    const probe = createServer();
    probe.once('error', (err) => fail(new CliError(describeListenError(err, host, port) ?? `PORT, HOST: cannot listen on ${address(host, port)}: ${(err as Error).message}`)));
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => ok()));
  });
}

/** The nearest part of `path` that exists (to say which one is a file). */
function existingAncestor(path: string): string {
  let p = resolve(path);
  while (!existsSync(p) && dirname(p) !== p) p = dirname(p);
  return p;
}

function fsReason(err: unknown, dir: string): string {
  switch ((err as { code?: string }).code) {
    case 'ENOTDIR': case 'EEXIST': {
      const file = existingAncestor(dir);
      return statSync(file).isDirectory() ? 'not a directory' : `${file} is a file, not a directory`;
    }
    case 'EACCES': case 'EPERM': return `permission denied for user ${userInfo().username}`;
    case 'EROFS': return 'read-only file system';
    case 'ENOSPC': return 'no space left on the device';
    default: return (err as Error).message;
  }
}

/** Creates the data directory if needed and writes (then removes) a file in it. */
export function checkDataDir(dir: string): void {
  const fix = 'set ONCEPAY_DATA_DIR to a directory this user can write, or use --in-memory';
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new CliError(`ONCEPAY_DATA_DIR: cannot create the data directory ${dir}: ${fsReason(err, dir)} (${fix})`);
  }
  const probe = resolve(dir, `.oncepay-write-test-${process.pid}`);
  try {
    writeFileSync(probe, '');
    unlinkSync(probe);
  } catch (err) {
    throw new CliError(`ONCEPAY_DATA_DIR: cannot write in the data directory ${dir}: ${fsReason(err, dir)} (${fix})`);
  }
}

/** host:port of a PostgreSQL URL (libpq's defaults: localhost, 5432; a socket given as ?host=). */
export function postgresAddress(url: string): string {
  const u = new URL(url);
  const host = decodeURIComponent(u.hostname) || u.searchParams.get('host') || 'localhost';
  return host.startsWith('/') ? `socket ${host}` : `${address(host.replace(/^\[|\]$/g, ''), Number(u.port || 5432))}`;
}

const SQLSTATE = /^[0-9A-Z]{5}$/;

/** One connection and `SELECT 1`: a PostgreSQL that is down, refuses us or never answers is named now. */
export async function checkPostgres(url: string, timeoutMs = 5_000): Promise<void> {
  const where = `PostgreSQL at ${postgresAddress(url)}`;
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  client.on('error', () => {}); // reported by connect/query below
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code && SQLSTATE.test(code)) throw new CliError(`DATABASE_URL: ${where} refused the connection: ${(err as Error).message}`);
    const reason = /timeout/i.test((err as Error).message) ? `no answer within ${timeoutMs / 1000} s` : describeNetworkError(err);
    throw new CliError(`DATABASE_URL: cannot reach ${where}: ${reason}`);
  } finally {
    void client.end().catch(() => {});
  }
}

const SIGNAL_EXIT = { SIGINT: 130, SIGTERM: 143 } as const;

/**
 * Until `done()`, SIGTERM and SIGINT end the process at once (exit 143 or 130; 'exit' handlers
 * still run: the data directory's lock is released, the embedded PostgreSQL stops with its
 * parent). Start-up is never worth waiting for; after it, the caller installs its graceful stop.
 */
export function exitOnSignalsDuringStartup(command: string): { done(): void } {
  const handlers = (Object.keys(SIGNAL_EXIT) as (keyof typeof SIGNAL_EXIT)[]).map((signal) => {
    const handler = () => {
      process.stderr.write(`${command}: stopped by ${signal} during start-up\n`);
      process.exit(SIGNAL_EXIT[signal]);
    };
    process.on(signal, handler);
    return () => process.off(signal, handler);
  });
  return { done: () => handlers.forEach((off) => off()) };
}
