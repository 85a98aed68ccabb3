/**
 * Processing an event once. Deliveries are at least once (a retry after a timeout, a manual
 * resend, two workers racing), so a receiver records the ids it has processed and skips the
 * ones it has seen. The record and the handler's effects must commit together: record first
 * and crash, and the event is lost; handle first and crash, and it is handled twice.
 *
 * - PostgresProcessedEvents does that in one transaction: it inserts the id (ON CONFLICT DO
 *   NOTHING) and runs the handler with the same transaction's client. A failure rolls both
 *   back, so the redelivery runs the handler again; a concurrent duplicate's INSERT waits on
 *   the first transaction's row and then sees the conflict. A connection the server ends
 *   mid-transaction (a restart) fails the call the same way, without ending the process.
 * - InMemoryProcessedEvents is for one process without a database (tests, demos, handlers whose
 *   effects are idempotent anyway): it forgets on restart.
 */
import type pg from 'pg';
import type { WebhookEvent } from './verify.ts';

export type ProcessOutcome<T> = { processed: true; result: T } | { processed: false; reason: 'duplicate' };

/** The part of an event a store needs. */
export type EventRef = Pick<WebhookEvent, 'id'> & { type?: string };

export interface ProcessedEventStore<Ctx = undefined> {
  /**
   * Runs fn unless the event id is already recorded; records the id only when fn succeeds (and,
   * for a transactional store, in the same transaction as fn's writes, passed to fn as ctx). A
   * concurrent call for the same id waits for this one: it then skips if this one succeeded,
   * and runs if it failed.
   */
  runOnce<T>(event: EventRef, fn: (ctx: Ctx) => Promise<T>): Promise<ProcessOutcome<T>>;
}

const DUPLICATE = { processed: false, reason: 'duplicate' } as const;

// ---------------------------------------------------------------------------------------------
// In memory

export interface InMemoryProcessedEventsOptions {
  /** Ids remembered at most; the oldest are forgotten first. Default 100,000. */
  maxEntries?: number;
  /** Forget an id this long after it was processed. Default: never (only maxEntries bounds). */
  ttlSeconds?: number;
  /** Clock in milliseconds (tests). */
  now?: () => number;
}

export class InMemoryProcessedEvents implements ProcessedEventStore<undefined> {
  private readonly done = new Map<string, number>(); // id -> forget after (ms); insertion order = age
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly maxEntries: number;
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(opts: InMemoryProcessedEventsOptions = {}) {
    this.maxEntries = opts.maxEntries ?? 100_000;
    this.ttlMs = opts.ttlSeconds === undefined ? Infinity : opts.ttlSeconds * 1000;
    this.now = opts.now ?? Date.now;
    if (!(this.maxEntries >= 1)) throw new TypeError('maxEntries must be at least 1');
    if (!(this.ttlMs > 0)) throw new TypeError('ttlSeconds must be positive');
  }

  /** Ids currently remembered (expired ones may still count until touched). */
  get size(): number {
    return this.done.size;
  }

  has(eventId: string): boolean {
    const until = this.done.get(eventId);
    if (until === undefined) return false;
    if (until <= this.now()) {
      this.done.delete(eventId);
      return false;
    }
    return true;
  }

  async runOnce<T>(event: EventRef, fn: (ctx: undefined) => Promise<T>): Promise<ProcessOutcome<T>> {
    const id = event.id;
    for (;;) {
      if (this.has(id)) return DUPLICATE;
      const pending = this.inFlight.get(id);
      if (!pending) break;
      await pending; // never rejects; then look again (it may have failed)
    }
    let settle!: () => void;
    this.inFlight.set(id, new Promise<void>((resolve) => { settle = resolve; }));
    try {
      const result = await fn(undefined);
      this.remember(id);
      return { processed: true, result };
    } finally {
      this.inFlight.delete(id);
      settle();
    }
  }

  private remember(id: string): void {
    const now = this.now();
    this.done.delete(id);
    this.done.set(id, now + this.ttlMs);
    // Oldest first: drop the expired, then whatever exceeds the bound.
    for (const [key, until] of this.done) {
      if (this.done.size > this.maxEntries || until <= now) this.done.delete(key);
      else break;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL (node-postgres, PGlite, or anything with query(text, params) -> { rows })

/** Runs one statement: a pg.PoolClient, a pg.Client, a PGlite transaction, a pg.Pool (outside any transaction). */
export interface SqlExecutor {
  query(text: string, params?: any[]): Promise<{ rows: unknown[]; command?: string }>;
}

/** A pg.Pool: transactions are BEGIN/COMMIT on a checked-out client. */
export interface PoolLike<C extends SqlExecutor = SqlExecutor> {
  connect(): Promise<C & { release(err?: Error | boolean): void }>;
}

/** PGlite (or any engine with a callback transaction that rolls back when the callback throws). */
export interface TransactionRunner<C extends SqlExecutor = SqlExecutor> {
  transaction<T>(fn: (tx: C) => Promise<T>): Promise<T>;
}

export type TransactionSource<C extends SqlExecutor = SqlExecutor> = PoolLike<C> | TransactionRunner<C>;

/** The transaction handle a source gives handlers: pg.PoolClient for a pg.Pool, Transaction for PGlite. */
export type TransactionOf<D> =
  D extends pg.Pool ? pg.PoolClient
  : D extends TransactionRunner<infer C> ? C
  : D extends PoolLike<infer C> ? C
  : SqlExecutor;

export const DEFAULT_PROCESSED_EVENTS_TABLE = 'processed_webhook_events';

const IDENT = /^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$/;

function checkTable(table: string): string {
  if (!IDENT.test(table)) throw new TypeError(`invalid table name ${JSON.stringify(table)} (letters, digits, _; optionally schema.table)`);
  return table;
}

/** The DDL of the processed-events table, one statement per element (run them in order). */
export function processedEventsDdl(table = DEFAULT_PROCESSED_EVENTS_TABLE): string[] {
  checkTable(table);
  const base = table.includes('.') ? table.slice(table.indexOf('.') + 1) : table;
  return [
    `CREATE TABLE IF NOT EXISTS ${table} (
       event_id     text PRIMARY KEY,
       event_type   text,
       processed_at timestamptz NOT NULL DEFAULT now()
     )`,
    `CREATE INDEX IF NOT EXISTS ${base}_processed_at_idx ON ${table} (processed_at)`,
  ];
}

/**
 * Runs fn in a transaction of db: committed when fn returns, rolled back when it throws. If the
 * database ends the connection meanwhile (a restart, a failover, pg_terminate_backend), it
 * rejects with "the database connection was lost" (cause: the pg error) and the pool discards
 * the client; the process is not affected.
 */
export async function withTransaction<C extends SqlExecutor, T>(db: TransactionSource<C>, fn: (tx: C) => Promise<T>): Promise<T> {
  // PGlite runs in this process: there is no connection to lose. Its transaction() rolls back
  // when fn throws (and throws when COMMIT turns into ROLLBACK), then frees its lock either way.
  if (typeof (db as TransactionRunner<C>).transaction === 'function') return (db as TransactionRunner<C>).transaction(fn);
  const client = await (db as PoolLike<C>).connect();
  const connection = watchConnection(client);
  let result: T;
  try {
    await client.query('BEGIN');
    result = await fn(client);
    // The connection may have died while fn awaited something else (no query pending): the
    // transaction died with it. Never COMMIT, never report success.
    const lost = connection.lost();
    if (lost) throw lost;
    const commit = await client.query('COMMIT');
    // PostgreSQL answers COMMIT of a transaction that hit an error (one the handler caught and
    // ignored) with ROLLBACK, not an error: nothing was recorded, so this must not look like success.
    if (commit.command === 'ROLLBACK') throw new Error('the transaction was aborted by an earlier error and rolled back at COMMIT');
  } catch (err) {
    let broken = connection.lost();
    if (!broken) {
      try {
        await client.query('ROLLBACK');
      } catch (rollbackErr) {
        // A connection that just died fails its ROLLBACK; its 'error' event has come by then.
        broken = connection.lost() ?? (rollbackErr as Error);
      }
    }
    connection.release(broken); // with an error: the pool drops the client instead of reusing it
    const lost = connection.lost();
    if (lost) throw connectionLostError(err, lost);
    throw err;
  }
  // Lost after COMMIT succeeded: the transaction stands; the client is still not reused.
  connection.release(connection.lost());
  return result;
}

type PoolClientLike = SqlExecutor & { release(err?: Error | boolean): void };
type ErrorListener = (err: Error) => void;
type ErrorEmitter = { on(event: 'error', l: ErrorListener): unknown; removeListener(event: 'error', l: ErrorListener): unknown };

/**
 * Listens for the client's 'error' event from checkout to release. pg-pool listens only on idle
 * clients; a checked-out pg client whose server ends the connection (FATAL 57P01 on a restart)
 * emits 'error', and an 'error' event nobody listens to kills the process. (A PoolLike client
 * that is not an EventEmitter has no such event: nothing to do.)
 */
function watchConnection(client: PoolClientLike): { lost(): Error | undefined; release(err?: Error): void } {
  let lost: Error | undefined;
  const onError: ErrorListener = (err) => { lost ??= err; }; // the first says why; pg may emit twice
  const emitter = typeof (client as Partial<ErrorEmitter>).on === 'function' ? client as unknown as ErrorEmitter : undefined;
  emitter?.on('error', onError);
  return {
    lost: () => lost,
    release(err) {
      try {
        client.release(err);
      } finally {
        // After release the pool's own idle listener is attached: ours can go.
        emitter?.removeListener('error', onError);
      }
    },
  };
}

function connectionLostError(failure: unknown, lost: Error): Error {
  // When a statement was running, its own error (57P01 admin_shutdown) says more than the
  // 'error' event's "Connection terminated unexpectedly" that follows it.
  const cause = failure instanceof Error && typeof (failure as { code?: unknown }).code === 'string' ? failure : lost;
  return new Error(
    `the database connection was lost during the transaction (${cause.message}): it was rolled back, unless the loss came during COMMIT`,
    { cause },
  );
}

export interface PostgresProcessedEventsOptions<D extends TransactionSource> {
  /** A pg.Pool, a PGlite instance, or anything matching PoolLike / TransactionRunner. */
  db: D;
  /** Default processed_webhook_events; `schema.table` is allowed. */
  table?: string;
}

/**
 * Processed event ids in a PostgreSQL table, recorded in the same transaction as the handler's
 * writes. Run the handler under READ COMMITTED (PostgreSQL's default): there a concurrent
 * duplicate waits and then skips; under REPEATABLE READ or SERIALIZABLE it fails instead with a
 * serialization error (answer 5xx; the redelivery is then skipped as a duplicate).
 */
export class PostgresProcessedEvents<D extends TransactionSource = TransactionSource> implements ProcessedEventStore<TransactionOf<D>> {
  readonly table: string;
  private readonly db: TransactionSource<TransactionOf<D> & SqlExecutor>;

  constructor(opts: PostgresProcessedEventsOptions<D>) {
    this.db = opts.db as unknown as TransactionSource<TransactionOf<D> & SqlExecutor>;
    this.table = checkTable(opts.table ?? DEFAULT_PROCESSED_EVENTS_TABLE);
  }

  /** Creates the table and its index when missing. Run it at startup or put processedEventsDdl() in your migrations. */
  async ensureTable(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await withTransaction(this.db, async (tx) => {
          for (const sql of processedEventsDdl(this.table)) await tx.query(sql);
        });
        return;
      } catch (err) {
        // Two processes creating the table at once: one wins, the other gets a unique violation.
        const code = (err as { code?: string }).code;
        if (attempt >= 2 || (code !== '23505' && code !== '42P07')) throw err;
      }
    }
  }

  /**
   * Records the event id inside the caller's open transaction `tx`; true if it was new. If it
   * was not, skip the work (and commit or roll back: nothing was written). Call it before the
   * handler's own writes, with the transaction's client, never with a pool (that would commit
   * the id at once, on its own).
   */
  async claim(tx: SqlExecutor, event: EventRef): Promise<boolean> {
    const r = await tx.query(
      `INSERT INTO ${this.table} (event_id, event_type) VALUES ($1, $2) ON CONFLICT (event_id) DO NOTHING RETURNING event_id`,
      [event.id, event.type ?? null],
    );
    return r.rows.length === 1;
  }

  async runOnce<T>(event: EventRef, fn: (tx: TransactionOf<D>) => Promise<T>): Promise<ProcessOutcome<T>> {
    return withTransaction(this.db, async (tx): Promise<ProcessOutcome<T>> => {
      if (!(await this.claim(tx, event))) return DUPLICATE;
      return { processed: true, result: await fn(tx) };
    });
  }

  /**
   * Forgets ids processed more than olderThanSeconds ago; returns how many. Keep them longer
   * than the sender retries (and than you might resend events by hand): a forgotten id that is
   * delivered again is processed again.
   */
  async prune(olderThanSeconds: number): Promise<number> {
    if (!(olderThanSeconds >= 0)) throw new TypeError('olderThanSeconds must be a non-negative number');
    return withTransaction(this.db, async (tx) => {
      const r = await tx.query(
        `WITH d AS (DELETE FROM ${this.table} WHERE processed_at < now() - $1 * interval '1 second' RETURNING 1)
         SELECT count(*)::int AS n FROM d`,
        [olderThanSeconds],
      );
      return Number((r.rows[0] as { n: number | string }).n);
    });
  }
}

// ---------------------------------------------------------------------------------------------

/** A webhook handler: the event, and the store's context (the transaction's client for Postgres). */
export type EventHandler<E, Ctx, T> = (event: E, ctx: Ctx) => Promise<T> | T;

/** Runs handler for this event unless it was already processed (see ProcessedEventStore.runOnce). */
export function processOnce<E extends EventRef, Ctx, T>(opts: {
  event: E;
  store: ProcessedEventStore<Ctx>;
  handler: EventHandler<E, Ctx, T>;
}): Promise<ProcessOutcome<T>> {
  return opts.store.runOnce(opts.event, async (ctx) => opts.handler(opts.event, ctx));
}

/**
 * Opens a transaction on db, records the event id and runs handler with the transaction's
 * client; commits both, or neither when handler throws. The table must exist (ensureTable).
 */
export function processOnceInTransaction<D extends TransactionSource, E extends EventRef, T>(
  db: D, event: E, handler: EventHandler<E, TransactionOf<D>, T>, opts: { table?: string } = {},
): Promise<ProcessOutcome<T>> {
  return processOnce({ event, store: new PostgresProcessedEvents({ db, table: opts.table }), handler });
}
