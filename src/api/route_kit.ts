/**
 * The pieces routes are made of: the route types and the helpers that build command, list and
 * retrieve routes. Apart from routes.ts (the list), so the route modules it gathers can use them
 * while it loads.
 */
import type { Queryable } from '../store/db.ts';
import type { Processor } from '../processor/types.ts';
import { expandParam, integer, nonEmptyString, object, optional, type ObjectSchema, type Schema } from '../schema/params.ts';
import { invalidRequest, resourceMissing } from '../errors.ts';
import { expandList, expandObject } from '../payments/expand.ts';
import type { ObjectTable, StoredObject, ListQuery } from '../store/object_table.ts';
import { schemaName, type SchemaName } from './openapi/schemas.ts';
import { checkExpand } from './openapi/expand_check.ts';

export interface ReadContext {
  accountId: string;
  q: Queryable;
  processor: Processor;
}

/**
 * What a route answers with status 200, for the OpenAPI document (src/api/openapi/document.ts)
 * and the tests that check every response against it: a component schema of
 * src/api/openapi/schemas.ts, `list:<name>` for Stripe's list envelope of them, or several
 * names when the answer may be any one of them.
 */
export type ResponseSpec = SchemaName | `list:${SchemaName}` | readonly SchemaName[];

export interface CommandRoute {
  kind: 'command';
  method: 'POST' | 'DELETE';
  path: string;
  summary: string;
  params: ObjectSchema<any>;
  command: string;
  response: ResponseSpec;
  /** Cross-parameter checks that need no database; run before anything is saved. */
  check?: (params: any) => void;
  /** The command may answer 402 card_error (a declined payment). */
  declines?: boolean;
}

export interface ReadRoute {
  kind: 'read';
  method: 'GET';
  path: string;
  summary: string;
  params: ObjectSchema<any>;
  response: ResponseSpec;
  read: (ctx: ReadContext, params: any) => Promise<unknown>;
}

export type Route = CommandRoute | ReadRoute;

/** `created` filter: an exact timestamp or a range hash. */
function createdFilter(): Schema<ListQuery['created']> {
  const bound = optional(integer({ min: 0 }));
  const range = object({ gt: bound, gte: bound, lt: bound, lte: bound });
  return {
    required: false,
    parse(v, path) {
      if (v === undefined) return undefined;
      if (typeof v === 'string' || typeof v === 'number') {
        const t = integer({ min: 0 }).parse(v, path);
        return { gte: t, lte: t };
      }
      return range.parse(v, path);
    },
    jsonSchema: () => ({ anyOf: [{ type: 'integer' }, range.jsonSchema()] }),
  };
}

export function listParams<S extends Record<string, Schema<any>>>(filters: S) {
  return object({
    limit: optional(integer({ min: 1, max: 100 })),
    starting_after: optional(nonEmptyString(255)),
    ending_before: optional(nonEmptyString(255)),
    created: createdFilter(),
    expand: expandParam(),
    ...filters,
  });
}

/**
 * One page of a list route in Stripe's envelope: the list parameters (limit, cursors, created,
 * expand) applied to `table`, with the route's own filters.
 */
export async function listPage<T extends StoredObject>(
  ctx: ReadContext, p: any, table: ObjectTable<T>, url: string, filter: Pick<ListQuery, 'where' | 'whereSql'> = {},
) {
  if (p.starting_after && p.ending_before) throw invalidRequest('You may only specify one of these parameters: starting_after, ending_before.', 'ending_before');
  const page = await table.list(ctx.q, ctx.accountId, {
    limit: p.limit ?? 10, startingAfter: p.starting_after, endingBefore: p.ending_before, created: p.created, ...filter,
  });
  return { object: 'list', data: await expandList(ctx.q, ctx.accountId, page.data, p.expand), has_more: page.hasMore, url };
}

export function listRoute<T extends StoredObject>(
  path: string, table: ObjectTable<T>, filters: Record<string, Schema<any>>, fixedWhere: Record<string, string | boolean> = {},
): ReadRoute {
  const params = listParams(filters);
  return {
    kind: 'read', method: 'GET', path, summary: `List ${table.objectName}s`, params, response: `list:${schemaName(table.objectName)}`,
    read(ctx, p) {
      const where: Record<string, string | boolean> = { ...fixedWhere };
      for (const k of Object.keys(filters)) if (p[k] !== undefined) where[k] = p[k];
      return listPage(ctx, p, table, path, { where });
    },
  };
}

/** Retrieve by id; `live`: a deleted object (kept for its history) answers 404 like a missing one. */
export function retrieveRoute<T extends StoredObject & { deleted?: boolean }>(
  path: string, idParam: string, table: ObjectTable<T>, extra: Record<string, Schema<any>> = {}, opts: { live?: boolean } = {},
): ReadRoute {
  return {
    kind: 'read', method: 'GET', path: `${path}/:${idParam}`, summary: `Retrieve a ${table.objectName}`, response: schemaName(table.objectName),
    params: object({ [idParam]: nonEmptyString(255), expand: expandParam(), ...extra }),
    async read(ctx, p) {
      const obj = await table.get(ctx.q, ctx.accountId, p[idParam]);
      if (opts.live && obj.deleted) throw resourceMissing(table.objectName, p[idParam]);
      return expandObject(ctx.q, ctx.accountId, obj, p.expand);
    },
  };
}

/**
 * A command route; `extra` is its check, or the check and whether it may answer 402 (a decline).
 * A function declaration, so route modules that routes.ts imports can call it while it loads.
 */
export function command(
  method: 'POST' | 'DELETE', path: string, name: string, summary: string, params: ObjectSchema<any>, response: ResponseSpec,
  extra?: ((p: any) => void) | { check?: (p: any) => void; declines?: boolean },
): CommandRoute {
  const { check, declines } = typeof extra === 'function' ? { check: extra, declines: undefined } : (extra ?? {});
  const answers = (typeof response === 'string' ? [response] : response) as readonly SchemaName[];
  const checks = (p: any) => {
    checkExpand(answers, p.expand);
    check?.(p);
  };
  return { kind: 'command', method, path, command: name, summary, params, response, check: checks, ...(declines ? { declines } : {}) };
}

