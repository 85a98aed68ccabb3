/**
 * The server's own database, opened from the same configuration (DATABASE_URL, else the embedded
 * engine in ONCEPAY_DATA_DIR) by the commands that work on it directly: `migrate` and `keys ...`.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadConfig, type Config } from '../config.ts';
import { clusterDirOf, embeddedEngineOf, type Db } from '../store/db.ts';
import { runningPostmaster } from '../store/embedded_postgres.ts';
import { acquireDataDirLock, lockHolder, type DataDirLock } from './data_lock.ts';
import { CliError, describeNetworkError } from './errors.ts';

export interface LocalDatabase {
  db: Db;
  /** Where, for messages (describeStore). */
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

/** Where the server keeps its data, for messages: "embedded PostgreSQL in ./.oncepay/data", "PostgreSQL at host:5432/db"... */
export function describeStore(config: Config, db?: Db): string {
  if (config.databaseUrl) return describePostgres(config.databaseUrl);
  const inMemory = config.dataDir.startsWith('memory://');
  const engine = db ? (db.kind === 'pglite' ? 'PGlite' : 'PostgreSQL') : embeddedEngineOf(config.dataDir, config.embedded) === 'pglite' ? 'PGlite' : 'PostgreSQL';
  return inMemory ? `embedded ${engine} in memory` : `embedded ${engine} in ${config.dataDir}`;
}

/**
 * Opens the database. Embedded PostgreSQL while a server runs on the directory: through that
 * server's own PostgreSQL (its socket), so keys can be made meanwhile. Otherwise the data
 * directory's lock is taken first (PGlite: refused while a server uses it); with `mustExist`, a
 * directory holding no database is refused instead of getting one.
 */
export async function openLocalDatabase(command: string, opts: { mustExist: boolean }): Promise<LocalDatabase> {
  const config = configOrExit();
  const { openDatabase, openPostgres } = await import('../store/db.ts');
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
  const engine = embeddedEngineOf(dataDir, config.embedded);
  const where = describeStore(config);
  const marker = engine === 'pglite' ? join(dataDir, 'PG_VERSION') : join(clusterDirOf(dataDir), 'PG_VERSION');
  if (opts.mustExist && !existsSync(marker)) {
    throw new CliError(`no Oncepay database in ${resolve(dataDir)} (ONCEPAY_DATA_DIR; DATABASE_URL selects PostgreSQL): ` +
      'run this where the server runs, with the same settings; `oncepay migrate` or `oncepay serve` creates one');
  }
  const running = engine === 'postgres' && lockHolder(dataDir)?.command === 'serve' ? runningPostmaster(clusterDirOf(dataDir)) : null;
  if (running) {
    const db = await openPostgres(running.url, 2);
    return { db, where: `${where} (through the running server's PostgreSQL)`, close: () => db.close() };
  }
  mkdirSync(dataDir, { recursive: true });
  const lock: DataDirLock = acquireDataDirLock(dataDir, command);
  let db: Db;
  try {
    db = await openDatabase({ dataDir, embedded: engine, poolSize: 2 });
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
