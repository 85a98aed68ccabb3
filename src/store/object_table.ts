/**
 * Storage for Stripe-shaped objects: the rendered object lives in `data` (jsonb), the columns
 * beside it exist to filter, to enforce uniqueness, and to order lists (by `seq`).
 */
import type { Queryable, Tx } from './db.ts';
import { resourceMissing } from '../errors.ts';

export interface StoredObject {
  id: string;
  created: number;
}

export interface ListQuery {
  limit: number;
  startingAfter?: string;
  endingBefore?: string;
  created?: { gt?: number; gte?: number; lt?: number; lte?: number };
  /** Equality filters on indexed columns, e.g. { customer: 'cus_...' }. */
  where?: Record<string, string | boolean | number>;
  /** Extra conditions, each with a single parameter written as `$` (e.g. `type LIKE ANY($)`). */
  whereSql?: SqlCondition | SqlCondition[];
}

export interface SqlCondition { sql: string; value: unknown }

/** How a resource narrows its list: what a list route hands to ObjectTable.list besides paging. */
export type ListFilter = Pick<ListQuery, 'where' | 'whereSql'>;

export interface ListPage<T> {
  data: T[];
  hasMore: boolean;
}

export class ObjectTable<T extends StoredObject> {
  constructor(
    readonly table: string,
    /** Stripe's name for the object, used in "No such ..." messages. */
    readonly objectName: string,
    /** Extra columns derived from the object, written on every insert and update. */
    private readonly columns: Record<string, (o: T) => unknown> = {},
    /**
     * The list order, newest first: `seq` (insertion order) by default, or a column whose value
     * the caller sets (ties broken by id) when rows are inserted later than they happened.
     */
    private readonly order: string = 'seq',
  ) {}

  /** Deferred: sent with the transaction's other writes. `extra` sets columns that are not part of the object. */
  insert(q: Tx, accountId: string, obj: T, extra: Record<string, unknown> = {}): void {
    const { cols, values: derived } = this.columnValues(obj, extra);
    const values = [accountId, obj.id, obj.created, JSON.stringify(obj), ...derived];
    const placeholders = values.map((_, i) => `$${i + 1}`).join(', ');
    q.write(`INSERT INTO ${this.table} (account_id, id, created, data${cols.map((c) => `, ${c}`).join('')}) VALUES (${placeholders})`, values);
  }

  /**
   * Deferred; the row must exist (the transaction fails otherwise). `extra` sets more columns in
   * the same statement: one row must never get two deferred writes in one batch.
   */
  update(q: Tx, accountId: string, obj: T, extra: Record<string, unknown> = {}, expect: { status?: string } = {}): void {
    const { cols, values } = this.columnValues(obj, extra);
    const sets = ['data = $3', ...cols.map((c, i) => `${c} = $${i + 4}`)].join(', ');
    // Optimistic guard: the row must still have the status the caller's snapshot was taken in.
    const guard = expect.status === undefined ? '' : ` AND data->>'status' = $${cols.length + 4}`;
    q.write(`UPDATE ${this.table} SET ${sets} WHERE account_id = $1 AND id = $2${guard}`, [
      accountId, obj.id, JSON.stringify(obj), ...values, ...(expect.status === undefined ? [] : [expect.status]),
    ], { expectRow: `${this.table} ${obj.id}` });
  }

  /** The derived columns and the extra ones, with their values, in one order. */
  private columnValues(obj: T, extra: Record<string, unknown>): { cols: string[]; values: unknown[] } {
    const derived = Object.keys(this.columns);
    return {
      cols: [...derived, ...Object.keys(extra)],
      values: [...derived.map((c) => this.columns[c](obj)), ...Object.values(extra)],
    };
  }

  async find(q: Queryable, accountId: string, id: string, opts: { forUpdate?: boolean } = {}): Promise<T | undefined> {
    const { rows } = await q.query<{ data: T }>(
      `SELECT data FROM ${this.table} WHERE account_id = $1 AND id = $2${opts.forUpdate ? ' FOR UPDATE' : ''}`,
      [accountId, id],
    );
    return rows[0]?.data;
  }

  /** Like find, but a missing object is Stripe's 404 resource_missing naming `param`. */
  async get(q: Queryable, accountId: string, id: string, opts: { forUpdate?: boolean; param?: string } = {}): Promise<T> {
    const found = await this.find(q, accountId, id, opts);
    if (!found) throw resourceMissing(this.objectName, id, opts.param ?? 'id');
    return found;
  }

  async findBy(q: Queryable, accountId: string, column: string, value: string): Promise<T | undefined> {
    const { rows } = await q.query<{ data: T }>(
      `SELECT data FROM ${this.table} WHERE account_id = $1 AND ${column} = $2 LIMIT 1`,
      [accountId, value],
    );
    return rows[0]?.data;
  }

  /** The conditions of a list's filters (not its cursor), with their parameters from $1 (the account). */
  private filters(accountId: string, query: Omit<ListQuery, 'limit' | 'startingAfter' | 'endingBefore'>) {
    const params: unknown[] = [accountId];
    const conds = ['account_id = $1'];
    const add = (sql: (p: string) => string, value: unknown) => {
      params.push(value);
      conds.push(sql(`$${params.length}`));
    };
    for (const [col, value] of Object.entries(query.where ?? {})) add((p) => `${col} = ${p}`, value);
    for (const w of [query.whereSql ?? []].flat()) add((p) => w.sql.replace('$', p), w.value);
    const c = query.created ?? {};
    if (c.gt !== undefined) add((p) => `created > ${p}`, c.gt);
    if (c.gte !== undefined) add((p) => `created >= ${p}`, c.gte);
    if (c.lt !== undefined) add((p) => `created < ${p}`, c.lt);
    if (c.lte !== undefined) add((p) => `created <= ${p}`, c.lte);
    return { params, conds, add };
  }

  async list(q: Queryable, accountId: string, query: ListQuery): Promise<ListPage<T>> {
    const { params, conds, add } = this.filters(accountId, query);
    const cursorId = query.startingAfter ?? query.endingBefore;
    const backwards = query.startingAfter === undefined && query.endingBefore !== undefined;
    const bySeq = this.order === 'seq';
    if (cursorId !== undefined) {
      const { rows } = await q.query<{ k: number }>(`SELECT ${this.order} AS k FROM ${this.table} WHERE account_id = $1 AND id = $2`, [accountId, cursorId]);
      if (!rows[0]) throw resourceMissing(this.objectName, cursorId, backwards ? 'ending_before' : 'starting_after');
      const cmp = backwards ? '>' : '<';
      if (bySeq) add((p) => `seq ${cmp} ${p}`, rows[0].k);
      else {
        params.push(rows[0].k, cursorId);
        conds.push(`(${this.order}, id) ${cmp} ($${params.length - 1}, $${params.length})`);
      }
    }
    params.push(query.limit + 1);
    const dir = backwards ? 'ASC' : 'DESC';
    const orderBy = bySeq ? `seq ${dir}` : `${this.order} ${dir}, id ${dir}`;
    const { rows } = await q.query<{ data: T }>(
      `SELECT data FROM ${this.table} WHERE ${conds.join(' AND ')} ORDER BY ${orderBy} LIMIT $${params.length}`,
      params,
    );
    const hasMore = rows.length > query.limit;
    const page = rows.slice(0, query.limit).map((r) => r.data);
    if (backwards) page.reverse();
    return { data: page, hasMore };
  }

  /** How many objects a list's filters match, whatever page is asked for (`include[]=total_count`). */
  async count(q: Queryable, accountId: string, query: Omit<ListQuery, 'limit' | 'startingAfter' | 'endingBefore'>): Promise<number> {
    const { params, conds } = this.filters(accountId, query);
    const { rows } = await q.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${this.table} WHERE ${conds.join(' AND ')}`, params);
    return rows[0].n;
  }
}
