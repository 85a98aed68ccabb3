/**
 * One small database interface over two engines: embedded PGlite (the default) and
 * PostgreSQL through node-postgres (production, several processes). The same SQL runs on both.
 */
import pg from 'pg';
import { PGlite } from '@electric-sql/pglite';

export type Row = Record<string, any>;

export interface Queryable {
  query<T extends Row = Row>(sql: string, params?: unknown[]): Promise<{ rows: T[]; rowCount: number }>;
  /** Runs several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

export interface Db extends Queryable {
  readonly kind: 'pglite' | 'postgres';
  /** Runs fn inside BEGIN/COMMIT; rolls back when fn throws. */
  tx<T>(fn: (q: Queryable) => Promise<T>): Promise<T>;
  /** Pool statistics, when the engine has a pool. */
  poolStats(): { total: number; idle: number; waiting: number };
  close(): Promise<void>;
}

const INT8_OID = 20;

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
  return {
    kind: 'postgres',
    query: (sql, params) => run(pool, sql, params) as any,
    exec: async (sql) => { await pool.query(sql); },
    async tx(fn) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const result = await fn({
          query: (sql, params) => run(client, sql, params) as any,
          exec: async (sql) => { await client.query(sql); },
        });
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        throw err;
      } finally {
        client.release();
      }
    },
    poolStats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
    close: () => pool.end(),
  };
}

export async function openPglite(dataDir: string): Promise<Db> {
  const db = await PGlite.create(dataDir, { parsers: { [INT8_OID]: (v: string) => Number(v) } });
  const run = async (q: { query: PGlite['query'] }, sql: string, params?: unknown[]) => {
    const r = await q.query<Row>(sql, params as any[]);
    return { rows: r.rows, rowCount: r.affectedRows ?? r.rows.length };
  };
  return {
    kind: 'pglite',
    query: (sql, params) => run(db, sql, params) as any,
    exec: async (sql) => { await db.exec(sql); },
    tx: (fn) => db.transaction((t) => fn({
      query: (sql, params) => run(t, sql, params) as any,
      exec: async (sql) => { await t.exec(sql); },
    })),
    poolStats: () => ({ total: 1, idle: 1, waiting: 0 }),
    close: () => db.close(),
  };
}

export async function openDatabase(opts: { databaseUrl?: string; dataDir: string; poolSize?: number }): Promise<Db> {
  if (opts.databaseUrl) return openPostgres(opts.databaseUrl, opts.poolSize);
  return openPglite(opts.dataDir);
}
