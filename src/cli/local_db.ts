/**
 * The server's own database, opened from the same configuration (DATABASE_URL, else PGlite in
 * ONCEPAY_DATA_DIR) by the commands that work on it directly: `migrate` and `keys ...`.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadConfig, type Config } from '../config.ts';
import type { Db } from '../store/db.ts';
import { acquireDataDirLock, type DataDirLock } from './data_lock.ts';
import { CliError, describeNetworkError } from './errors.ts';

export interface LocalDatabase {
  db: Db;
  /** Where, for messages: "PostgreSQL at host:5432/db" or "embedded PGlite at ./.oncepay/data". */
  where: string;
  close(): Promise<void>;
}

/** A PostgreSQL URL without its password (and user), for messages. */
export function describePostgres(url: string): string {
  try {
    const u = new URL(url);
    return `PostgreSQL at ${u.hostname || 'localhost'}${u.port ? `:${u.port}` : ''}${u.pathname && u.pathname !== '/' ? u.pathname : ''}`;
  } catch {
    return 'PostgreSQL (DATABASE_URL)';
  }
}

function configOrExit(): Config {
  try {
    return loadConfig();
  } catch (err) {
    throw new CliError(`configuration: ${(err as Error).message}`);
  }
}

/**
 * Opens the database. PGlite: takes the data directory's lock first (refusing while a server
 * uses it); with `mustExist`, refuses a directory holding no database instead of creating one.
 */
export async function openLocalDatabase(command: string, opts: { mustExist: boolean }): Promise<LocalDatabase> {
  const config = configOrExit();
  const { openDatabase } = await import('../store/db.ts');
  if (config.databaseUrl) {
    const where = describePostgres(config.databaseUrl);
    const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolSize: 2 });
    try {
      await db.query('SELECT 1');
    } catch (err) {
      await db.close().catch(() => {});
      const code = (err as { code?: string }).code;
      const reason = code && /^[0-9A-Z]{5}$/.test(code) ? (err as Error).message : describeNetworkError(err);
      throw new CliError(`cannot reach ${where}: ${reason}`);
    }
    return { db, where, close: () => db.close() };
  }
  const dataDir = config.dataDir;
  if (dataDir.startsWith('memory://')) {
    throw new CliError(`ONCEPAY_DATA_DIR=${dataDir} is an in-memory database: it lives and dies with its server, no other process can open it`);
  }
  const where = `embedded PGlite at ${dataDir}`;
  const hasDatabase = existsSync(join(dataDir, 'PG_VERSION'));
  if (opts.mustExist && !hasDatabase) {
    throw new CliError(`no Oncepay database in ${resolve(dataDir)} (ONCEPAY_DATA_DIR; DATABASE_URL selects PostgreSQL): ` +
      'run this where the server runs, with the same settings; `oncepay migrate` or `oncepay serve` creates one');
  }
  mkdirSync(dataDir, { recursive: true });
  const lock: DataDirLock = acquireDataDirLock(dataDir, command);
  let db: Db;
  try {
    db = await openDatabase({ dataDir });
  } catch (err) {
    lock.release();
    throw new CliError(`cannot open ${where}: ${(err as Error).message}`);
  }
  return {
    db, where,
    close: async () => {
      try { await db.close(); } finally { lock.release(); }
    },
  };
}

/** Refuses a database that has no Oncepay tables yet (rather than answering "no keys"). */
export async function requireSchema(local: LocalDatabase): Promise<void> {
  const { rows } = await local.db.query<{ t: string | null }>("SELECT to_regclass('api_keys')::text AS t");
  if (!rows[0]?.t) throw new CliError(`${local.where} has no Oncepay tables yet: run \`oncepay migrate\` (or start the server) first`);
}
