/**
 * One search request: the query parsed (query_parser.ts) and checked against the resource's
 * fields (search_fields.ts), one page of matches read (search_sql.ts), `expand[]` applied to
 * each (`data.*` paths, as lists expand) and Stripe's search_result envelope around them, with
 * `total_count` when `expand[]` names it.
 *
 * `next_page` is opaque to clients: the last returned `seq` and a short hash of the resource and
 * the query (in its canonical spelling), base64url-encoded. A `page` that does not decode, or
 * that another query or resource produced, is a 400 naming `page`.
 */
import { createHash } from 'node:crypto';
import { invalidRequest } from '../../errors.ts';
import type { ObjectTable, StoredObject } from '../../store/object_table.ts';
import type { ReadContext } from '../route_kit.ts';
import { checkExpandPaths, expandList } from '../expansion.ts';
import { parseQuery, printQuery } from './query_parser.ts';
import { compileQuery } from './search_fields.ts';
import { countRows, searchRows } from './search_sql.ts';

export interface Searchable {
  /** The path segment: /v1/<resource>/search, and the key of its fields in SEARCH_FIELDS. */
  resource: string;
  table: ObjectTable<StoredObject>;
  /** The table keeps deleted objects (a `deleted` column), which search leaves out. */
  live: boolean;
}

export interface SearchParams {
  query: string;
  limit?: number;
  page?: string;
  expand?: string[];
}

export interface SearchResult<T> {
  object: 'search_result';
  url: string;
  has_more: boolean;
  data: T[];
  next_page: string | null;
  total_count?: number;
}

const queryHash = (resource: string, canonical: string) => createHash('sha256').update(`${resource}\n${canonical}`).digest('hex').slice(0, 12);

export function encodePage(seq: number, hash: string): string {
  return Buffer.from(`${seq}:${hash}`).toString('base64url');
}

function decodePage(page: string, hash: string): number {
  const m = /^(\d{1,16}):([0-9a-f]{12})$/.exec(/^[A-Za-z0-9_-]+$/.test(page) ? Buffer.from(page, 'base64url').toString('latin1') : '');
  if (!m || !Number.isSafeInteger(Number(m[1]))) {
    throw invalidRequest(`Invalid page: '${page.slice(0, 60)}' is not a next_page value. Leave page out for the first page, then pass the next_page of the previous answer.`, 'page');
  }
  if (m[2] !== hash) throw invalidRequest('Invalid page: this next_page belongs to another search query. Send it with the query that returned it.', 'page');
  return Number(m[1]);
}

export async function runSearch(ctx: ReadContext, s: Searchable, p: SearchParams): Promise<SearchResult<StoredObject>> {
  const parsed = parseQuery(p.query);
  const compiled = compileQuery(s.resource, p.query, parsed);
  const hash = queryHash(s.resource, printQuery(parsed.query));
  const belowSeq = p.page === undefined ? undefined : decodePage(p.page, hash);
  const wantsTotal = p.expand?.includes('total_count') ?? false;
  const paths = (p.expand ?? []).filter((x) => x !== 'total_count');
  for (const path of paths) {
    if (!path.startsWith('data.')) {
      throw invalidRequest(`This property cannot be expanded (${path}). Search results expand properties of their items: use data.${path}, or total_count.`, 'expand');
    }
  }
  checkExpandPaths([s.table.objectName], paths.map((x) => x.slice(5)));
  const limit = p.limit ?? 10;
  const page = await searchRows(ctx.q, s.table, s.live, ctx.accountId, compiled, { limit, belowSeq });
  const data = await expandList(ctx.q, ctx.accountId, page.data, paths);
  const total = wantsTotal ? { total_count: await countRows(ctx.q, s.table, s.live, ctx.accountId, compiled) } : {};
  return {
    object: 'search_result',
    url: `/v1/${s.resource}/search`,
    has_more: page.hasMore,
    data,
    next_page: page.hasMore && page.lastSeq !== undefined ? encodePage(page.lastSeq, hash) : null,
    ...total,
  };
}
