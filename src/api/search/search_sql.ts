/**
 * A compiled search query (search_fields.ts) run over an ObjectTable's stored objects. The SQL
 * text is fixed per table: the clauses travel as one JSON parameter that the statement walks
 * (each clause: a path into `data`, how to match, the value), so no value of a query is ever
 * part of the SQL, and the server prepares one statement per table whatever the queries. Rows
 * are the account's only (its key leads every condition), newest first by `seq`; a page resumes
 * below the last `seq` it returned.
 */
import type { Queryable } from '../../store/db.ts';
import type { ObjectTable, StoredObject } from '../../store/object_table.ts';
import type { CompiledQuery } from './search_fields.ts';

/**
 * Values the objects do not hold as such. `refund_state`, a charge's `refunded` as Stripe's
 * search documents it: 'true' when fully refunded, 'false' when partially, null when not at all.
 */
const DERIVED = `CASE c->>'d'
    WHEN 'refund_state' THEN CASE WHEN (TABLE.data->>'amount_refunded') IS NULL OR (TABLE.data->>'amount_refunded') = '0' THEN NULL
      WHEN (TABLE.data->>'refunded') = 'true' THEN 'true' ELSE 'false' END
    ELSE TABLE.data #>> (c->>'p')::text[] END`;

/** Whether one clause `c` matches the row's value `f.v` (the text at the clause's path), negation applied. */
const CLAUSE_MATCHES = `COALESCE(CASE c->>'k'
    WHEN 'null' THEN f.v IS NULL
    WHEN 'token' THEN lower(f.v) = lower(c->>'v')
    WHEN 'substr' THEN strpos(lower(f.v), lower(c->>'v')) > 0
    WHEN 'words' THEN strpos(' ' || regexp_replace(translate(lower(f.v), E'\\t\\r\\n', '   '), ' +', ' ', 'g') || ' ', ' ' || lower(c->>'v') || ' ') > 0
    WHEN 'num' THEN CASE WHEN f.v ~ '^-?[0-9]+(\\.[0-9]+)?$' THEN CASE c->>'o'
      WHEN '=' THEN f.v::numeric = (c->>'v')::numeric
      WHEN '>' THEN f.v::numeric > (c->>'v')::numeric
      WHEN '<' THEN f.v::numeric < (c->>'v')::numeric
      WHEN '>=' THEN f.v::numeric >= (c->>'v')::numeric
      WHEN '<=' THEN f.v::numeric <= (c->>'v')::numeric
    END END
  END, false) <> (c->>'n')::boolean`;

/**
 * The conditions of a search on `table` with its parameters: $1 the account, $2 the clauses
 * (JSON), $3 how many must match (all for AND, one for OR). `live`: the table keeps deleted
 * objects, which search never returns.
 */
function where(table: string, live: boolean): string {
  return `account_id = $1${live ? ' AND NOT deleted' : ''}
   AND (SELECT count(*) FROM json_array_elements($2::json) AS clauses(c)
          CROSS JOIN LATERAL (SELECT ${DERIVED.replaceAll('TABLE', table)} AS v) AS f
         WHERE ${CLAUSE_MATCHES}) >= $3`;
}

/** A path as PostgreSQL's text[] input: each element double-quoted, `\` and `"` escaped (a value, cast by the statement: never SQL). */
export const pgTextArray = (path: readonly string[]) => `{${path.map((e) => `"${e.replace(/[\\"]/g, (ch) => `\\${ch}`)}"`).join(',')}}`;

const params = (accountId: string, q: CompiledQuery) =>
  [accountId, JSON.stringify(q.clauses.map((c) => ({ ...c, p: pgTextArray(c.p) }))), q.join === 'AND' ? q.clauses.length : 1];

export interface SearchPage<T> { data: T[]; hasMore: boolean; lastSeq: number | undefined }

export async function searchRows<T extends StoredObject>(
  db: Queryable, table: ObjectTable<T>, live: boolean, accountId: string, q: CompiledQuery, opts: { limit: number; belowSeq?: number },
): Promise<SearchPage<T>> {
  const { rows } = await db.query<{ data: T; seq: number }>(
    `SELECT data, seq FROM ${table.table} WHERE ${where(table.table, live)}
       AND ($4::bigint IS NULL OR seq < $4) ORDER BY seq DESC LIMIT $5`,
    [...params(accountId, q), opts.belowSeq ?? null, opts.limit + 1],
  );
  const page = rows.slice(0, opts.limit);
  return { data: page.map((r) => r.data), hasMore: rows.length > opts.limit, lastSeq: page.at(-1)?.seq };
}

/** How many objects the query matches in all (expand[]=total_count). */
export async function countRows(db: Queryable, table: ObjectTable<StoredObject>, live: boolean, accountId: string, q: CompiledQuery): Promise<number> {
  const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table.table} WHERE ${where(table.table, live)}`, params(accountId, q));
  return rows[0].n;
}
