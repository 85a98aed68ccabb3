/**
 * The pieces routes are made of: the route types and the helpers that build command, read, list
 * and retrieve routes. Each helper is typed by its parameter schema, so a route's check, read and
 * command receive the parameters that schema parses; the Route values they return are what the
 * HTTP layer and the OpenAPI document consume.
 */
import type { Queryable } from '../store/db.ts';
import type { Processor } from '../processor/types.ts';
import type { Command } from '../idempotency/engine.ts';
import { array, enumOf, expandParam, integer, nonEmptyString, object, optional, type ObjectSchema, type ParsedObject, type Schema, type Shape } from '../schema/params.ts';
import { invalidRequest, resourceMissing } from '../errors.ts';
import { expandList, expandObject } from './expansion.ts';
import type { ListFilter, ListQuery, ObjectTable, StoredObject } from '../store/object_table.ts';
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
 * src/api/openapi/schemas.ts, `list:<name>` for Stripe's list envelope of them, `search:<name>` for
 * its search_result envelope, or several
 * names when the answer may be any one of them.
 */
export type ResponseSpec = SchemaName | `list:${SchemaName}` | `search:${SchemaName}` | readonly SchemaName[];

type Params = Record<string, unknown>;

interface RouteBase {
  path: string;
  summary: string;
  /** Validates the request's parameters, and describes them in the OpenAPI document. */
  params: ObjectSchema<Shape>;
  response: ResponseSpec;
}

export interface CommandRoute extends RouteBase {
  kind: 'command';
  method: 'POST' | 'DELETE';
  /** Run by the idempotency engine with the parsed parameters. */
  command: Command;
  /** Cross-parameter checks that need no database; run before anything is saved. */
  check(params: Params): void;
  /** The command may answer 402 card_error (a declined payment). */
  declines?: boolean;
}

export interface ReadRoute extends RouteBase {
  kind: 'read';
  method: 'GET';
  read(ctx: ReadContext, params: Params): Promise<unknown>;
}

export type Route = CommandRoute | ReadRoute;

/** The answers a route's expand[] is checked against. */
const answersOf = (response: ResponseSpec): readonly SchemaName[] =>
  (typeof response === 'string' ? [response] : response) as readonly SchemaName[];

/** A write: the command runs under the idempotency engine once the parameters parse and pass `check`. */
export function command<S extends Shape>(route: {
  method: 'POST' | 'DELETE';
  path: string;
  summary: string;
  params: ObjectSchema<S>;
  command: Command<ParsedObject<S>>;
  response: ResponseSpec;
  check?: (params: ParsedObject<S>) => void;
  declines?: boolean;
}): CommandRoute {
  const { check, declines, ...rest } = route;
  const answers = answersOf(route.response);
  return {
    kind: 'command', ...rest, ...(declines ? { declines } : {}),
    check(p) {
      checkExpand(answers, (p as { expand?: string[] }).expand);
      check?.(p as ParsedObject<S>);
    },
  };
}

/** A read: answers from the database, no idempotency key involved. */
export function read<S extends Shape>(route: {
  path: string;
  summary: string;
  params: ObjectSchema<S>;
  response: ResponseSpec;
  read: (ctx: ReadContext, params: ParsedObject<S>) => Promise<unknown>;
}): ReadRoute {
  return { kind: 'read', method: 'GET', ...route, read: (ctx, p) => route.read(ctx, p as ParsedObject<S>) };
}

/** `created` filter (and due_date's): an exact timestamp or a range hash. */
export function createdFilter(): Schema<ListQuery['created']> {
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

const listShape = {
  limit: optional(integer({ min: 1, max: 100 })),
  starting_after: optional(nonEmptyString(255)),
  ending_before: optional(nonEmptyString(255)),
  created: createdFilter(),
  expand: expandParam(),
  /** `include[]=total_count`: the list also says how many objects its filters match. */
  include: optional(array(enumOf(['total_count'] as const), { max: 1 })),
};

/** Stripe's list parameters (limit, cursors, created, expand) and a route's own filters. */
export function listParams<S extends Shape>(filters: S) {
  return object({ ...listShape, ...filters });
}

export type ListParams = ParsedObject<typeof listShape>;

/** Stripe's list envelope. */
export interface ListEnvelope<T> {
  object: 'list';
  data: T[];
  has_more: boolean;
  /** Only when asked for with include[]=total_count. */
  total_count?: number;
  url: string;
}

/**
 * One page of a list route in Stripe's envelope: the list parameters applied to `table`, with
 * the resource's own filter. `render` turns the stored items into the answer's (by default the
 * request's expand[] applied to each).
 */
export async function listPage<T extends StoredObject>(
  ctx: ReadContext, p: ListParams, table: ObjectTable<T>, url: string,
  opts: ListFilter & { render?: (items: T[]) => Promise<T[]> } = {},
): Promise<ListEnvelope<T>> {
  if (p.starting_after && p.ending_before) throw invalidRequest('You may only specify one of these parameters: starting_after, ending_before.', 'ending_before');
  const filter = { created: p.created, where: opts.where, whereSql: opts.whereSql };
  const page = await table.list(ctx.q, ctx.accountId, {
    limit: p.limit ?? 10, startingAfter: p.starting_after, endingBefore: p.ending_before, ...filter,
  });
  const data = opts.render ? await opts.render(page.data) : await expandList(ctx.q, ctx.accountId, page.data, p.expand);
  const total = p.include?.includes('total_count') ? { total_count: await table.count(ctx.q, ctx.accountId, filter) } : {};
  return { object: 'list', data, has_more: page.hasMore, ...total, url };
}

/**
 * A list route whose filters are equalities on the table's columns (each filter's name is its
 * column), with `fixedWhere` always applied.
 */
export function listRoute<T extends StoredObject, S extends Shape>(
  path: string, table: ObjectTable<T>, filters: S, fixedWhere: Record<string, string | boolean> = {},
): ReadRoute {
  return read({
    path, summary: `List ${table.objectName}s`, params: listParams(filters), response: `list:${schemaName(table.objectName)}`,
    read(ctx, p) {
      const where: ListFilter['where'] = { ...fixedWhere };
      for (const k of Object.keys(filters)) {
        const v = (p as Record<string, unknown>)[k];
        if (typeof v === 'string' || typeof v === 'boolean' || typeof v === 'number') where[k] = v;
      }
      return listPage(ctx, p, table, path, { where });
    },
  });
}

/** Retrieve by id; `live`: a deleted object (kept for its history) answers 404 like a missing one. */
export function retrieveRoute<T extends StoredObject & { deleted?: boolean }>(
  path: string, idParam: string, table: ObjectTable<T>, extra: Shape = {}, opts: { live?: boolean } = {},
): ReadRoute {
  return read({
    path: `${path}/:${idParam}`, summary: `Retrieve a ${table.objectName}`, response: schemaName(table.objectName),
    params: object({ [idParam]: nonEmptyString(255), expand: expandParam(), ...extra }),
    async read(ctx, p) {
      const id = p[idParam] as string;
      const obj = await table.get(ctx.q, ctx.accountId, id);
      if (opts.live && obj.deleted) throw resourceMissing(table.objectName, id);
      return expandObject(ctx.q, ctx.accountId, obj, p.expand as string[] | undefined);
    },
  });
}
