/**
 * One small database interface over two engines: embedded PGlite (the default) and
 * PostgreSQL through node-postgres (production, several processes). The same SQL runs on both.
 */
import pg from 'pg';
import type { PGlite } from '@electric-sql/pglite';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { EmbeddedPostgresUnavailable, startEmbeddedPostgres } from './embedded_postgres.ts';

export type Row = Record<string, any>;

export interface Queryable {
  query<T extends Row = Row>(sql: string, params?: unknown[]): Promise<{ rows: T[]; rowCount: number }>;
  /** Runs several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

/**
 * A transaction. Besides immediate queries it takes deferred writes: INSERT/UPDATE/DELETE
 * statements whose results the caller does not need. On PostgreSQL they are sent together as a
 * single statement (data-modifying CTEs) just before the next read or the COMMIT, and a
 * transaction made only of deferred writes is that one statement with no BEGIN/COMMIT at all:
 * one round trip instead of several. Within a transaction, reads always see earlier writes.
 */
export interface Tx extends Queryable {
  /**
   * A write applied before the next read or at commit. With `expectRow` (a label) it must touch
   * a row, or the transaction fails with RowExpected naming the labels that could have failed.
   * Writes of one batch run as one statement: never give the same row two writes in a batch
   * (PostgreSQL applies only one of them).
   */
  write(sql: string, params: unknown[], opts?: { expectRow?: string }): void;
}

export interface Db extends Queryable {
  readonly kind: 'pglite' | 'postgres';
  /** A PostgreSQL this process started itself (the embedded default), not one it was given. */
  readonly embedded?: boolean;
  /** Runs fn inside a transaction; rolls back when fn throws. */
  tx<T>(fn: (q: Tx) => Promise<T>): Promise<T>;
  /** Pool statistics, when the engine has a pool. */
  poolStats(): { total: number; idle: number; waiting: number };
  close(): Promise<void>;
}

/** A deferred write marked expectRow touched no row: the whole transaction was rolled back. */
export class RowExpected extends Error {
  constructor(readonly labels: string[]) {
    super(`expected a write to touch a row: ${labels.join(', ')}`);
  }
}

/** The database refused a write because of a unique constraint (SQLSTATE 23505). */
export const isUniqueViolation = (err: unknown, constraint?: string): boolean =>
  (err as { code?: string })?.code === '23505' && (!constraint || (err as { constraint?: string }).constraint === constraint);

const INT8_OID = 20;

interface Write { sql: string; params: unknown[]; expectRow?: string }

/**
 * Combines writes into one statement. Each becomes a CTE returning one row per touched row; the
 * final SELECT divides by the count of every expectRow write, so an untouched row raises
 * division_by_zero at run time and aborts the whole statement (and its transaction).
 */
export function combineWrites(input: Write[]): { sql: string; params: unknown[] } {
  const writes = mergeInserts(input);
  const params: unknown[] = [];
  const ctes: string[] = [];
  const checks: string[] = [];
  writes.forEach((w, i) => {
    const offset = params.length;
    params.push(...w.params);
    const sql = w.sql.replace(/\$(\d+)/g, (_, n) => `$${Number(n) + offset}`);
    ctes.push(`w${i} AS (${sql} RETURNING 1 AS touched)`);
    if (w.expectRow) checks.push(`1 / (SELECT count(*) FROM w${i})::int`);
  });
  return { sql: `WITH ${ctes.join(', ')} SELECT ${checks.length ? checks.join(' + ') : '1'} AS ok`, params };
}

/**
 * CTEs of one statement run in no defined order, so rows inserted into one table by one batch
 * would get their `seq` (list order) in any order. Plain `INSERT ... VALUES (...)` writes with
 * identical text are therefore merged into one multi-row INSERT, whose rows are inserted, and
 * numbered, in the order they were written.
 */
function mergeInserts(writes: Write[]): Write[] {
  const out: Write[] = [];
  const byText = new Map<string, Write>();
  for (const w of writes) {
    const m = /^(INSERT INTO [^()]+\([^()]*\) VALUES )(\([^()]*\))$/.exec(w.sql);
    if (!m || w.expectRow) { out.push(w); continue; }
    const first = byText.get(w.sql);
    if (!first) {
      const copy = { ...w, params: [...w.params] };
      byText.set(w.sql, copy);
      out.push(copy);
      continue;
    }
    const offset = first.params.length;
    first.params.push(...w.params);
    first.sql += `, ${m[2].replace(/\$(\d+)/g, (_, n) => `$${Number(n) + offset}`)}`;
  }
  return out;
}

const DIVISION_BY_ZERO = '22012';

/**
 * The database itself is gone or not accepting work (a restart, a crash, a failover, a network
 * cut): PostgreSQL's connection exceptions (class 08), admin/crash shutdown and "cannot connect
 * now" (57P01-57P03), and node-postgres's own errors for a connection that ended or never opened.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  if (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03') return true;
  if (['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH'].includes(code)) return true;
  const message = typeof e?.message === 'string' ? e.message : '';
  return /Connection terminated|connection (timeout|ended)|Client has encountered a connection error|the database system is (starting up|shutting down)/i.test(message);
}

export async function openPostgres(url: string, poolSize = 20): Promise<Db> {
  const pool = new pg.Pool({ connectionString: url, max: poolSize });
  pool.on('error', () => { /* a broken idle client is dropped by the pool; queries surface their own errors */ });
  const typeParser = (oid: number, format?: any) =>
    oid === INT8_OID ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format);
  const types = { getTypeParser: typeParser } as any;
  // Named statements are prepared once per connection: PostgreSQL skips parsing and planning
  // on every later use, which is most of the cost of our short statements.
  const names = new Map<string, string>();
  const nameOf = (sql: string) => {
    let name = names.get(sql);
    if (!name) names.set(sql, (name = `s${names.size}`));
    return name;
  };
  const run = async (client: pg.Pool | pg.PoolClient, sql: string, params?: unknown[]) => {
    const r = await client.query({ text: sql, values: params as any[], types, ...(params ? { name: nameOf(sql) } : {}) });
    return { rows: r.rows, rowCount: r.rowCount ?? 0 };
  };
  const runWrites = async (client: pg.PoolClient, writes: Write[]) => {
    if (writes.length === 0) return;
    const { sql, params } = combineWrites(writes);
    try {
      await run(client, sql, params);
    } catch (err) {
      // One combined statement cannot say which guarded write missed: name every candidate.
      if ((err as { code?: string }).code === DIVISION_BY_ZERO) throw new RowExpected(writes.flatMap((w) => (w.expectRow ? [w.expectRow] : [])));
      throw err;
    }
  };
  return {
    kind: 'postgres',
    query: (sql, params) => run(pool, sql, params) as any,
    exec: async (sql) => { await pool.query(sql); },
    async tx(fn) {
      const client = await pool.connect();
      // A checked-out client has no listener of the pool's: a connection the database ends while
      // we hold it (a restart) emits 'error', which unheard would end the process. Heard, it
      // fails this transaction (its next statement or COMMIT rejects) and the client is discarded.
      let lost: Error | undefined;
      const onLost = (err: Error) => { lost = err; };
      client.on('error', onLost);
      let begun = false;
      let pending: Write[] = [];
      const flush = async () => {
        const writes = pending;
        pending = [];
        await runWrites(client, writes);
      };
      const begin = async () => {
        if (!begun) {
          await client.query('BEGIN');
          begun = true;
        }
      };
      try {
        const result = await fn({
          query: async (sql, params) => { await begin(); await flush(); return run(client, sql, params) as any; },
          exec: async (sql) => { await begin(); await flush(); await client.query(sql); },
          write: (sql, params, opts) => { pending.push({ sql, params, expectRow: opts?.expectRow }); },
        });
        // Only deferred writes: one statement is atomic by itself, no BEGIN/COMMIT needed.
        await flush();
        if (begun) await client.query('COMMIT');
        return result;
      } catch (err) {
        if (begun && !lost) await client.query('ROLLBACK').catch((rollbackErr: Error) => { lost = rollbackErr; });
        if (!lost && isDatabaseUnavailable(err)) lost = err as Error;
        throw err;
      } finally {
        client.removeListener('error', onLost);
        // With an error the pool destroys the client instead of handing a dead one out again.
        client.release(lost);
      }
    },
    poolStats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
    close: () => pool.end(),
  };
}

export async function openPglite(dataDir: string): Promise<Db> {
  // Loaded only when used: the embedded PostgreSQL and DATABASE_URL never pay for it.
  const { PGlite } = await import('@electric-sql/pglite');
  const db = await PGlite.create(dataDir, { parsers: { [INT8_OID]: (v: string) => Number(v) } });
  const run = async (q: { query: PGlite['query'] }, sql: string, params?: unknown[]) => {
    const r = await q.query<Row>(sql, params as any[]);
    return { rows: r.rows, rowCount: r.affectedRows ?? r.rows.length };
  };
  return {
    kind: 'pglite',
    query: (sql, params) => run(db, sql, params) as any,
    exec: async (sql) => { await db.exec(sql); },
    // In process there is no round trip to save: deferred writes run in order at the same points.
    tx: (fn) => db.transaction(async (t) => {
      let pending: Write[] = [];
      const flush = async () => {
        const writes = pending;
        pending = [];
        for (const w of writes) {
          const r = await run(t, w.sql, w.params);
          if (w.expectRow && r.rowCount === 0) throw new RowExpected([w.expectRow]);
        }
      };
      const result = await fn({
        query: async (sql, params) => { await flush(); return run(t, sql, params) as any; },
        exec: async (sql) => { await flush(); await t.exec(sql); },
        write: (sql, params, opts) => { pending.push({ sql, params, expectRow: opts?.expectRow }); },
      });
      await flush();
      return result;
    }),
    poolStats: () => ({ total: 1, idle: 1, waiting: 0 }),
    close: () => db.close(),
  };
}

export type EmbeddedEngine = 'postgres' | 'pglite';

const EMBEDDED_POOL_SIZE = 8;

export interface DatabaseOptions {
  /** PostgreSQL to connect to; otherwise an embedded engine. */
  databaseUrl?: string;
  /** The embedded engine's directory ("memory://" or inMemory: nothing kept on disk). */
  dataDir: string;
  inMemory?: boolean;
  /**
   * Which embedded engine. 'auto' (the default): a real PostgreSQL from npm, started as a child,
   * or PGlite for a new database where that PostgreSQL cannot run (onFallback says why).
   */
  embedded?: EmbeddedEngine | 'auto';
  onFallback?: (reason: string) => void;
  poolSize?: number;
  onLog?: (line: string) => void;
}

/** Where a data directory keeps the embedded PostgreSQL cluster (beside oncepay.pid and the first key). */
export const clusterDirOf = (dataDir: string) => join(dataDir, 'pg');

/**
 * The embedded engine a data directory holds: a directory PGlite made (its files at the top
 * level, from before the embedded PostgreSQL) stays on PGlite, whatever is asked.
 */
export function embeddedEngineOf(dataDir: string, asked: EmbeddedEngine | 'auto'): EmbeddedEngine {
  if (dataDir.startsWith('memory://')) return asked === 'pglite' ? 'pglite' : 'postgres';
  if (existsSync(join(dataDir, 'PG_VERSION')) && !existsSync(clusterDirOf(dataDir))) return 'pglite';
  return asked === 'pglite' ? 'pglite' : 'postgres';
}

export async function openDatabase(opts: DatabaseOptions): Promise<Db> {
  if (opts.databaseUrl) return openPostgres(opts.databaseUrl, opts.poolSize);
  const inMemory = opts.inMemory || opts.dataDir.startsWith('memory://');
  const asked = opts.embedded ?? 'auto';
  const engine = embeddedEngineOf(opts.dataDir, asked);
  if (engine === 'pglite') return openPglite(inMemory ? 'memory://' : opts.dataDir);
  const clusterDir = clusterDirOf(opts.dataDir);
  const fresh = inMemory || !existsSync(join(clusterDir, 'PG_VERSION'));
  let server;
  try {
    server = await startEmbeddedPostgres({ clusterDir, inMemory, onLog: opts.onLog });
  } catch (err) {
    // Unasked for, PostgreSQL that cannot run here (no binaries for the platform, root without
    // user namespaces) leaves a new database on PGlite rather than no server at all.
    if (asked !== 'auto' || !fresh || !(err instanceof EmbeddedPostgresUnavailable)) throw err;
    opts.onFallback?.(err.message);
    return openPglite(inMemory ? 'memory://' : opts.dataDir);
  }
  try {
    // Few connections: on this machine's cores more backends only add memory (measured: npm run bench).
    const db = await openPostgres(server.url, opts.poolSize ?? EMBEDDED_POOL_SIZE);
    return { ...db, embedded: true, close: async () => { try { await db.close(); } finally { await server.stop(); } } };
  } catch (err) {
    await server.stop();
    throw err;
  }
}
