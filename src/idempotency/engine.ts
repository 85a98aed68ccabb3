/**
 * The idempotency engine: every POST runs as a command made of atomic phases.
 *
 * - A phase is one database transaction that changes business rows and records its result in
 *   the key's journal (the recovery point) together, so a phase either happened or not.
 * - A foreign call (the processor) sits between phases and always carries a downstream key
 *   derived from our own ids, so repeating it after a crash never moves money twice.
 * - The last phase stores the response and releases the lock in the same transaction.
 *
 * A fresh key is inserted by the first phase's own transaction (one round trip fewer); a
 * known key is replayed, refused, or locked by compare-and-set and resumed from its journal.
 */
import { randomBytes } from 'node:crypto';
import { isDatabaseUnavailable, isUniqueViolation, RowExpected, type Db, type Tx } from '../store/db.ts';
import { ApiError, apiError, databaseUnavailable } from '../errors.ts';
import { SimulatedCrash, type FaultHook, noFaults } from '../faults.ts';
import { fingerprint } from './fingerprint.ts';
import { wireJson } from '../schema/wire_json.ts';
import { redact } from '../logs/redact.ts';

export interface CommandResponse {
  status: number;
  body: unknown;
}

/**
 * What a command's phases see. `D` is what the command needs from outside the database (the
 * processor, the ports another layer implements), supplied once when the engine is built, so
 * commands can be plain values that route tables name directly.
 */
export interface CommandContext<D = unknown> {
  readonly accountId: string;
  /** The request id that first ran this key (stable across resumes). */
  readonly requestId: string;
  readonly idempotencyKey: string;
  /** True when the client sent the key; false for the internal key of a key-less POST. */
  readonly clientSupplied: boolean;
  /** The command's collaborators outside the database (see EngineOptions.deps). */
  readonly deps: D;
  /** A phase: runs once; on resume its recorded result is returned instead. */
  atomic<T>(step: string, fn: (q: Tx) => Promise<T>): Promise<T>;
  /** A call outside the database. Must be idempotent by its own downstream key. */
  foreign<T>(step: string, fn: () => Promise<T>): Promise<T>;
  /** The last phase: its response is stored in the same transaction. */
  finish(step: string, fn: (q: Tx) => Promise<CommandResponse>): Promise<CommandResponse>;
}

/**
 * A write operation of the API. `name` is what the key's journal stores, so a resume (by a retry
 * or by the completer in another process) finds the same command again: it never changes.
 *
 * The key row keeps the parameters redacted (src/logs/redact.ts: no card number, CVC or secret is
 * ever stored), and a resume runs with those: a command uses card data only in its first phase,
 * whose result the journal keeps.
 */
export interface Command<P = unknown, D = unknown> {
  readonly name: string;
  run(ctx: CommandContext<D>, params: P): Promise<CommandResponse>;
}

export type Outcome = 'executed' | 'replayed' | 'conflict' | 'mismatch' | 'rejected';

export interface EngineResult {
  status: number;
  /** The exact response body text; replays return the stored bytes. */
  body: string;
  headers: Record<string, string>;
  outcome: Outcome;
}

export interface ExecuteInput {
  accountId: string;
  requestId: string;
  /** The client's Idempotency-Key, if any. */
  key?: string;
  /**
   * The key is the system's own (the billing run paying an invoice): it is not shown as the
   * client's key in events.
   */
  internal?: boolean;
  method: string;
  path: string;
  /** A command registered on this engine. */
  command: Command;
  params: Record<string, unknown>;
  /**
   * Extra writes that must commit with the first phase this request commits (the request's log
   * row): if the request changed anything, they exist.
   */
  onFirstPhase?: (q: Tx) => void;
}

export interface EngineOptions<D> {
  lockTimeoutMs: number;
  /** Handed to every command as ctx.deps. */
  deps: D;
  faults?: FaultHook;
  /** Called with each resumed or completed-in-background key, for metrics and logs. */
  onEvent?: (event: 'resumed' | 'completed_in_background' | 'replayed' | 'conflict', key: string) => void;
  /** Called after every committed phase with its transaction (the webhook dispatcher reads its commit notes). */
  onCommit?: (q: Tx) => void;
}

interface KeyRow {
  account_id: string;
  key: string;
  client_supplied: boolean;
  method: string;
  path: string;
  command: string;
  fingerprint: string;
  params: Record<string, unknown>;
  request_id: string;
  journal: Record<string, unknown>;
  response_status: number | null;
  response_body: string | null;
  lock_token: string | null;
  lock_fresh: boolean;
}

/** The first phase of a fresh key lost the race to insert it: somebody else runs it. */
class KeyTaken extends Error {}
/** Our lock was taken over (we were presumed dead): stop without writing anything. */
export class LockLost extends Error {}

export const MAX_KEY_LENGTH = 255;

export class IdempotencyEngine<D = unknown> {
  private readonly commands = new Map<string, Command<unknown, D>>();
  private readonly faults: FaultHook;
  /** Runs in flight in this process, so shutdown can release their locks. */
  private readonly active = new Set<Run<D>>();

  constructor(private readonly db: Db, private readonly opts: EngineOptions<D>) {
    this.faults = opts.faults ?? noFaults;
  }

  /**
   * Every command this process may run or resume: the completer finds an abandoned key's command
   * by the name its journal stored, so each must be registered before the first request.
   */
  register(...commands: Command<unknown, D>[]): void {
    for (const c of commands) {
      const known = this.commands.get(c.name);
      if (known && known !== c) throw new Error(`two commands are named ${c.name}`);
      this.commands.set(c.name, c);
    }
  }

  async execute(input: ExecuteInput): Promise<EngineResult> {
    const command = this.commands.get(input.command.name);
    if (command !== input.command) throw new Error(`command ${input.command.name} is not registered on this engine`);
    const clientSupplied = input.key !== undefined && !input.internal;
    const key = input.key ?? `oncepay_auto_${input.requestId}`;
    const print = fingerprint(input.method, input.path, input.params);
    for (let attempt = 0; attempt < 5; attempt++) {
      const existing = await this.readKey(input.accountId, key);
      if (!existing) {
        const run = this.run(command, {
          accountId: input.accountId, key, clientSupplied, requestId: input.requestId,
          method: input.method, path: input.path, fingerprint: print, params: input.params,
        }, {}, undefined, input.onFirstPhase);
        try {
          return await this.drive(run);
        } catch (err) {
          if (err instanceof KeyTaken) continue;
          // A twin with the same key committed first and holds the object we found busy: answer
          // as for that key (in use, or its replay), not with the object's transient refusal.
          if (err instanceof ApiError && err.transient && (await this.readKey(input.accountId, key))) continue;
          throw err;
        }
      }
      if (existing.method !== input.method || existing.path !== input.path || existing.fingerprint !== print) {
        throw new ApiError(400, {
          type: 'idempotency_error',
          message: existing.method !== input.method || existing.path !== input.path
            ? `Keys for idempotent requests can only be used for the same endpoint they were first used for ('${existing.method} ${existing.path}'). Try using a key other than '${key}' if you meant to execute a different request.`
            : `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
        }, { 'Stripe-Should-Retry': 'false' });
      }
      if (existing.response_status !== null) {
        // A replay is a pure read: no write, no commit to wait for.
        this.opts.onEvent?.('replayed', key);
        return {
          status: existing.response_status,
          body: existing.response_body!,
          headers: { 'Idempotent-Replayed': 'true', 'Original-Request': existing.request_id },
          outcome: 'replayed',
        };
      }
      if (existing.lock_token !== null && existing.lock_fresh) throw this.inUse(key);
      const token = newLockToken();
      const { rows } = await this.db.query<KeyRow>(
        `UPDATE idempotency_keys SET locked_at = now(), lock_token = $3, attempts = attempts + 1, updated_at = now()
          WHERE account_id = $1 AND key = $2 AND finished_at IS NULL
            AND (lock_token IS NULL OR locked_at < now() - make_interval(secs => $4))
        RETURNING journal`,
        [input.accountId, key, token, this.opts.lockTimeoutMs / 1000],
      );
      if (!rows[0]) continue; // somebody else took it or finished it meanwhile: look again
      this.opts.onEvent?.('resumed', key);
      return this.drive(this.run(command, storedIdentity(existing), rows[0].journal, token, input.onFirstPhase));
    }
    throw this.inUse(key);
  }

  /**
   * Drives abandoned requests to their end without any client: keys whose lock went stale
   * (their process died) or that were released after an unexpected failure. Failures back
   * off exponentially. Returns how many keys it finished.
   */
  async completeAbandoned(opts: { graceMs: number; batch?: number; accountId?: string }): Promise<number> {
    const token = newLockToken();
    const { rows } = await this.db.query<KeyRow>(
      `UPDATE idempotency_keys k SET locked_at = now(), lock_token = $1, attempts = k.attempts + 1, updated_at = now()
        FROM (
          SELECT account_id, key FROM idempotency_keys
           WHERE finished_at IS NULL
             AND (lock_token IS NULL OR locked_at < now() - make_interval(secs => $2))
             AND updated_at < now() - make_interval(secs => $3 * power(2, least(attempts - 1, 10)))
             AND ($5::text IS NULL OR account_id = $5)
           ORDER BY updated_at
           LIMIT $4
           FOR UPDATE SKIP LOCKED
        ) due
       WHERE k.account_id = due.account_id AND k.key = due.key
      RETURNING k.*`,
      [token, this.opts.lockTimeoutMs / 1000, opts.graceMs / 1000, opts.batch ?? 20, opts.accountId ?? null],
    );
    let finished = 0;
    for (const row of rows) {
      const command = this.commands.get(row.command);
      if (!command) continue;
      try {
        await this.drive(this.run(command, storedIdentity(row), row.journal, token));
        finished++;
        this.opts.onEvent?.('completed_in_background', row.key);
      } catch (err) {
        if (err instanceof SimulatedCrash) throw err;
        // Still failing: the lock was released by go(); the backoff above spaces out the next try.
      }
    }
    return finished;
  }

  /**
   * Releases the locks of every run still in flight in this process (shutdown after its
   * deadline): a retry, or another process's completer, can take those keys over at once instead
   * of waiting for the lock timeout. A released run that goes on fails its next phase (LockLost).
   */
  async releaseLocks(): Promise<number> {
    const tokens = [...this.active].map((r) => r.lockToken).filter((t): t is string => t !== undefined);
    if (tokens.length === 0) return 0;
    const r = await this.db.query(
      `UPDATE idempotency_keys SET locked_at = NULL, lock_token = NULL, updated_at = now() - make_interval(secs => $2)
        WHERE lock_token = ANY($1::text[]) AND finished_at IS NULL`,
      [tokens, this.opts.lockTimeoutMs / 1000],
    );
    return r.rowCount;
  }

  /** How many runs are in flight in this process. */
  get inFlight(): number {
    return this.active.size;
  }

  /**
   * Runs a command while it is alive: the lock's timestamp is refreshed every third of the lock
   * timeout, so a long run (a test clock advance billing hundreds of periods, a slow processor)
   * is not taken for a dead one and taken over. A run whose process dies stops refreshing, and
   * its lock goes stale as before.
   */
  private async drive(run: Run<D>): Promise<EngineResult> {
    this.active.add(run);
    const heartbeat = setInterval(() => {
      const token = run.lockToken;
      if (!token) return;
      this.db.query('UPDATE idempotency_keys SET locked_at = now() WHERE account_id = $1 AND key = $2 AND lock_token = $3',
        [run.accountId, run.idempotencyKey, token]).catch(() => { /* the next phase's own guard decides */ });
    }, Math.max(this.opts.lockTimeoutMs / 3, 50));
    heartbeat.unref();
    try {
      return await run.go();
    } finally {
      clearInterval(heartbeat);
      this.active.delete(run);
    }
  }

  /** Deletes finished keys older than the retention window; returns how many. */
  async reapExpired(retentionMs: number, batch = 1000): Promise<number> {
    const r = await this.db.query(
      `DELETE FROM idempotency_keys WHERE (account_id, key) IN (
         SELECT account_id, key FROM idempotency_keys
          WHERE finished_at IS NOT NULL AND finished_at < now() - make_interval(secs => $1)
          LIMIT $2)`,
      [retentionMs / 1000, batch],
    );
    return r.rowCount;
  }

  private run(command: Command<unknown, D>, identity: RunIdentity, journal: Record<string, unknown>, token: string | undefined, onFirstPhase?: (q: Tx) => void): Run<D> {
    return new Run(this.db, this.faults, this.opts.onCommit, this.opts.deps, command, identity, journal, token, onFirstPhase);
  }

  private inUse(key: string): ApiError {
    this.opts.onEvent?.('conflict', key);
    return new ApiError(409, {
      type: 'idempotency_error',
      code: 'idempotency_key_in_use',
      message: `There is currently another in-progress request using the Idempotency-Key '${key}'. Retry after the original request completes; it will then be replayed.`,
    }, { 'Retry-After': '1', 'Stripe-Should-Retry': 'true' });
  }

  private async readKey(accountId: string, key: string): Promise<KeyRow | undefined> {
    const { rows } = await this.db.query<KeyRow>(
      `SELECT account_id, key, client_supplied, method, path, command, fingerprint, params, request_id,
              response_status, response_body, lock_token,
              (locked_at >= now() - make_interval(secs => $3)) AS lock_fresh
         FROM idempotency_keys WHERE account_id = $1 AND key = $2`,
      [accountId, key, this.opts.lockTimeoutMs / 1000],
    );
    return rows[0];
  }
}

/** A resumed run takes everything from the stored key row, so it repeats the original request exactly. */
function storedIdentity(row: KeyRow): RunIdentity {
  return {
    accountId: row.account_id, key: row.key, clientSupplied: row.client_supplied, requestId: row.request_id,
    method: row.method, path: row.path, fingerprint: row.fingerprint, params: row.params,
  };
}

function newLockToken(): string {
  return randomBytes(12).toString('hex');
}

interface RunIdentity {
  accountId: string;
  key: string;
  clientSupplied: boolean;
  requestId: string;
  method: string;
  path: string;
  fingerprint: string;
  params: Record<string, unknown>;
}

/** One execution (first run or resume) of a command under a key we hold the lock of. */
const KEY_OWNERSHIP = 'idempotency key lock';

class Run<D> implements CommandContext<D> {
  private pending: Record<string, unknown> = {};
  /** The lock token a fresh key's first phase is inserting; ours once that phase commits. */
  private claimedToken: string | undefined;
  private response: CommandResponse | undefined;

  constructor(
    private readonly db: Db,
    private readonly faults: FaultHook,
    private readonly onCommit: ((q: Tx) => void) | undefined,
    readonly deps: D,
    private readonly command: Command<unknown, D>,
    private readonly id: RunIdentity,
    private readonly journal: Record<string, unknown>,
    /** Our lock token; undefined while the key row is not yet inserted (fresh key). */
    private token: string | undefined,
    /** Writes riding along with the first phase that commits; cleared once one has. */
    private onFirstPhase?: (q: Tx) => void,
  ) {}

  get accountId() { return this.id.accountId; }
  get requestId() { return this.id.requestId; }
  get idempotencyKey() { return this.id.key; }
  get clientSupplied() { return this.id.clientSupplied; }
  /** The lock this run holds, once its key row exists. */
  get lockToken() { return this.token; }

  async go(): Promise<EngineResult> {
    try {
      const res = await this.command.run(this, this.id.params);
      if (!this.response) throw new Error(`command ${this.command.name} returned without finish()`);
      return { status: res.status, body: this.stored(res), headers: {}, outcome: 'executed' };
    } catch (err) {
      if (err instanceof KeyTaken || err instanceof SimulatedCrash || err instanceof LockLost) throw err;
      if (err instanceof ApiError && err.status < 500 && !err.transient) {
        // A business outcome decided inside a phase (not found, wrong state): it is the
        // answer to this key, saved like any other response.
        const response = { status: err.status, body: { error: err.body } };
        await this.runPhase(async (q) => this.store(q, 'finished', {}, response));
        return { status: err.status, body: this.stored(response), headers: err.headers, outcome: 'executed' };
      }
      // Unexpected: keep the recovery point, release the lock so a retry (or the completer) resumes.
      if (this.token) {
        await this.db.query(
          'UPDATE idempotency_keys SET locked_at = NULL, lock_token = NULL, updated_at = now() WHERE account_id = $1 AND key = $2 AND lock_token = $3',
          [this.id.accountId, this.id.key, this.token],
        ).catch(() => {});
      }
      if (err instanceof ApiError) throw err;
      throw Object.assign(isDatabaseUnavailable(err) ? databaseUnavailable() : apiError(), { cause: err });
    }
  }

  private responseText?: string;
  private stored(res: CommandResponse): string {
    return this.responseText ?? wireJson(res.body);
  }

  async atomic<T>(step: string, fn: (q: Tx) => Promise<T>): Promise<T> {
    if (step in this.journal) return this.journal[step] as T;
    const result = await this.runPhase(async (q) => {
      const r = await fn(q);
      this.store(q, step, { [step]: r === undefined ? null : r });
      return r;
    });
    this.journal[step] = result;
    this.faults.hit(this.command.name, step);
    return result;
  }

  async foreign<T>(step: string, fn: () => Promise<T>): Promise<T> {
    if (step in this.journal) return this.journal[step] as T;
    if (step in this.pending) return this.pending[step] as T;
    const result = await fn();
    this.pending[step] = result === undefined ? null : result;
    this.faults.hit(this.command.name, step);
    return result;
  }

  async finish(step: string, fn: (q: Tx) => Promise<CommandResponse>): Promise<CommandResponse> {
    const res = await this.runPhase(async (q) => {
      const r = await fn(q);
      this.store(q, step, {}, r);
      return r;
    });
    this.response = res;
    this.faults.hit(this.command.name, step);
    return res;
  }

  /**
   * Records a phase in the key row inside the phase's transaction (a deferred write, so it
   * travels with the phase's own writes): inserts the row (fresh key) or updates it if we still
   * hold the lock. With a response, finishes the key.
   */
  private store(q: Tx, step: string, results: Record<string, unknown>, response?: CommandResponse): void {
    const journal = JSON.stringify({ ...this.pending, ...results });
    const body = response ? wireJson(response.body) : null;
    if (body !== null) this.responseText = body;
    if (this.token === undefined) {
      // No ON CONFLICT: a concurrent twin makes the whole phase fail with a unique violation on
      // the primary key (see runPhase), so its business writes never commit.
      const token = newLockToken();
      q.write(
        `INSERT INTO idempotency_keys (account_id, key, client_supplied, method, path, command, fingerprint, params, request_id,
                                       locked_at, lock_token, recovery_point, journal, response_status, response_body, finished_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9,
                 CASE WHEN $13::int IS NULL THEN now() END, CASE WHEN $13::int IS NULL THEN $10 END, $11, $12::jsonb, $13, $14,
                 CASE WHEN $13::int IS NOT NULL THEN now() END)`,
        [this.id.accountId, this.id.key, this.id.clientSupplied, this.id.method, this.id.path, this.command.name,
          this.id.fingerprint, JSON.stringify(redact(this.id.params)), this.id.requestId, token, step, journal,
          response?.status ?? null, body],
      );
      this.claimedToken = token;
    } else {
      q.write(
        `UPDATE idempotency_keys
            SET recovery_point = $4, journal = journal || $5::jsonb, updated_at = now(),
                response_status = $6, response_body = $7,
                finished_at = CASE WHEN $6::int IS NOT NULL THEN now() END,
                locked_at = CASE WHEN $6::int IS NULL THEN locked_at END,
                lock_token = CASE WHEN $6::int IS NULL THEN lock_token END
          WHERE account_id = $1 AND key = $2 AND lock_token = $3`,
        [this.id.accountId, this.id.key, this.token, step, journal, response?.status ?? null, body],
        { expectRow: KEY_OWNERSHIP },
      );
    }
  }

  /** Runs one phase transaction, translating the key-row guards into engine errors. */
  private async runPhase<T>(fn: (q: Tx) => Promise<T>): Promise<T> {
    this.claimedToken = undefined;
    try {
      const first = this.onFirstPhase;
      let committed: Tx | undefined;
      const result = await this.db.tx(async (q) => {
        committed = q;
        first?.(q);
        return fn(q);
      });
      this.onFirstPhase = undefined;
      if (this.claimedToken) this.token = this.claimedToken;
      this.pending = {};
      if (committed) this.onCommit?.(committed);
      return result;
    } catch (err) {
      if (this.token === undefined && isUniqueViolation(err, 'idempotency_keys_pkey')) throw new KeyTaken();
      if (err instanceof RowExpected && err.labels.includes(KEY_OWNERSHIP)) throw new LockLost();
      // A phase that failed before reaching its key-row guard (say, a unique index refusing the
      // row the process that took the key over already wrote, while this one was paused) is a
      // lost lock too, not an unexpected failure: nothing of it committed either way.
      if (this.token !== undefined && !(err instanceof ApiError) && (await this.lockTakenOver())) throw new LockLost();
      throw err;
    }
  }

  /** Whether another run holds (or finished) our key now; false when that cannot be read. */
  private async lockTakenOver(): Promise<boolean> {
    try {
      const { rows } = await this.db.query<{ mine: boolean }>(
        'SELECT lock_token IS NOT DISTINCT FROM $3 AS mine FROM idempotency_keys WHERE account_id = $1 AND key = $2',
        [this.id.accountId, this.id.key, this.token]);
      return rows[0]?.mine !== true;
    } catch {
      return false;
    }
  }
}
