/**
 * The OpenAPI 3.1 document, generated from the route table: paths, operations and parameters
 * come from the same parameter schemas that validate requests (src/schema/params.ts), responses
 * from each route's `response` and the object schemas of ./schemas.ts. Nothing about a route is
 * written here by hand, so the document cannot drift from what the server accepts; the tests
 * check every response they see against it for what the server sends.
 */
import { readFileSync } from 'node:fs';
import type { Route, ResponseSpec } from '../route_kit.ts';
import type { Schema } from '../../schema/params.ts';
import { MAX_KEY_LENGTH } from '../../idempotency/engine.ts';
import { COMPONENT_SCHEMAS, listOf, ref, type JsonSchema } from './schemas.ts';
import { testCardsMarkdown } from './test_cards.ts';
import { searchResultOf } from './search.ts';

export const DEFAULT_SERVER_URL = 'http://127.0.0.1:4242';

export type OpenApiDocument = {
  openapi: '3.1.0';
  info: Record<string, unknown>;
  paths: Record<string, Record<string, Operation>>;
  components: Record<string, Record<string, unknown>>;
  [key: string]: unknown;
};

export interface Operation {
  operationId: string;
  summary: string;
  tags: string[];
  parameters?: JsonSchema[];
  requestBody?: JsonSchema;
  responses: Record<string, JsonSchema>;
  security?: Record<string, string[]>[];
  [extension: `x-${string}`]: unknown;
}

function packageVersion(): string {
  try {
    return JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')).version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** Fastify's `/v1/customers/:customer` as OpenAPI's `/v1/customers/{customer}`, and the parameter names. */
export function openApiPath(path: string): { path: string; params: string[] } {
  const params: string[] = [];
  const out = path.replace(/:([A-Za-z0-9_]+)/g, (_m, name: string) => {
    params.push(name);
    return `{${name}}`;
  });
  return { path: out, params };
}

/** Stripe's operation ids: the method, then each path segment in PascalCase without /v1 (GetCustomersCustomer). */
export function operationId(method: string, path: string): string {
  const words = openApiPath(path).path.split('/').filter((s) => s !== '' && s !== 'v1')
    .flatMap((s) => s.replace(/[{}]/g, '').split(/[_.-]/));
  return method[0].toUpperCase() + method.slice(1).toLowerCase() + words.map((w) => w[0].toUpperCase() + w.slice(1)).join('');
}

/** The schema of a route's 200 answer. */
export function responseSchema(spec: ResponseSpec): JsonSchema {
  if (typeof spec !== 'string') return { anyOf: spec.map(ref) };
  if (spec.startsWith('list:')) return listOf(ref(spec.slice(5) as Parameters<typeof ref>[0]));
  if (spec.startsWith('search:')) return searchResultOf(ref(spec.slice(7) as Parameters<typeof ref>[0]));
  return ref(spec as Parameters<typeof ref>[0]);
}

/** Objects and arrays travel as `x[a]=1&x[b][0]=2` in queries and form bodies (Stripe's encoding). */
function isStructured(s: JsonSchema): boolean {
  if (s.type === 'object' || s.type === 'array') return true;
  return Array.isArray(s.anyOf) && (s.anyOf as JsonSchema[]).some(isStructured);
}

const tagOf = (path: string): string => {
  const first = path.split('/').filter(Boolean)[path.startsWith('/v1/') ? 1 : 0] ?? '';
  const name = first.replace(/_/g, ' ');
  return name[0].toUpperCase() + name.slice(1);
};

const errorResponse = (description: string): JsonSchema => ({
  description,
  headers: { 'Request-Id': { $ref: '#/components/headers/Request-Id' } },
  content: { 'application/json': { schema: ref('error') } },
});

const ERROR_RESPONSES: Record<string, JsonSchema> = {
  BadRequest: errorResponse('invalid_request_error (a parameter is missing, unknown or invalid; the object is in the wrong state) or idempotency_error (the Idempotency-Key was used with another endpoint or other parameters).'),
  Unauthorized: errorResponse('No API key, or an invalid one.'),
  CardError: errorResponse('card_error: the payment was declined. The body carries the charge, the payment method and the PaymentIntent.'),
  NotFound: errorResponse('resource_missing: no object with the id in the URL.'),
  Conflict: errorResponse('idempotency_key_in_use (another request with this key is running; retry after Retry-After), lock_timeout (another request is changing the object), or already_exists (external_id used with other parameters).'),
  PayloadTooLarge: errorResponse('The request body is larger than 1 MiB.'),
  TooManyRequests: errorResponse('rate_limit: too many requests for this key; retry after Retry-After seconds.'),
  ServerError: errorResponse('api_error: an unexpected failure. Safe to retry with the same Idempotency-Key: the request resumes where it stopped.'),
  Error: errorResponse('Any other error, in the same shape.'),
};

const errorRef = (name: keyof typeof ERROR_RESPONSES): JsonSchema => ({ $ref: `#/components/responses/${name}` });

function operationFor(route: Route): { path: string; method: string; op: Operation } {
  const { path, params: pathParams } = openApiPath(route.path);
  const shape = route.params.shape as Record<string, Schema<unknown>>;
  for (const name of pathParams) {
    if (!shape[name]) throw new Error(`${route.method} ${route.path}: path parameter ${name} is not in its parameter schema`);
  }
  const parameters: JsonSchema[] = pathParams.map((name) => ({
    name, in: 'path', required: true, schema: shape[name].jsonSchema(),
  }));
  let requestBody: JsonSchema | undefined;
  if (route.method === 'POST') {
    const full = route.params.jsonSchema() as { properties: Record<string, JsonSchema>; required: string[] };
    const properties = Object.fromEntries(Object.entries(full.properties).filter(([k]) => !pathParams.includes(k)));
    const required = full.required.filter((k) => !pathParams.includes(k));
    const body = { ...full, properties, required };
    const encoding = Object.fromEntries(Object.entries(properties).filter(([, s]) => isStructured(s))
      .map(([k]) => [k, { style: 'deepObject', explode: true }]));
    requestBody = {
      required: required.length > 0,
      content: {
        'application/x-www-form-urlencoded': { schema: body, ...(Object.keys(encoding).length > 0 ? { encoding } : {}) },
        'application/json': { schema: body },
      },
    };
  } else {
    for (const [name, s] of Object.entries(shape)) {
      if (pathParams.includes(name)) continue;
      const schema = s.jsonSchema();
      parameters.push({
        name, in: 'query', required: s.required, schema,
        ...(isStructured(schema) ? { style: 'deepObject', explode: true } : {}),
      });
    }
  }
  if (route.method !== 'GET') parameters.push({ $ref: '#/components/parameters/IdempotencyKey' });

  const command = route.kind === 'command';
  const ok: JsonSchema = {
    description: 'Success.',
    headers: {
      'Request-Id': { $ref: '#/components/headers/Request-Id' },
      ...(command ? {
        'Idempotency-Key': { $ref: '#/components/headers/Idempotency-Key' },
        'Idempotent-Replayed': { $ref: '#/components/headers/Idempotent-Replayed' },
        'Original-Request': { $ref: '#/components/headers/Original-Request' },
      } : {}),
    },
    content: { 'application/json': { schema: responseSchema(route.response) } },
  };
  const responses: Record<string, JsonSchema> = {
    200: ok,
    400: errorRef('BadRequest'),
    401: errorRef('Unauthorized'),
    ...(route.kind === 'command' && route.declines ? { 402: errorRef('CardError') } : {}),
    ...(pathParams.length > 0 ? { 404: errorRef('NotFound') } : {}),
    ...(command ? { 409: errorRef('Conflict') } : {}),
    ...(route.method === 'POST' ? { 413: errorRef('PayloadTooLarge') } : {}),
    429: errorRef('TooManyRequests'),
    500: errorRef('ServerError'),
    default: errorRef('Error'),
  };
  const op: Operation = {
    operationId: operationId(route.method, route.path),
    summary: route.summary,
    tags: [tagOf(route.path)],
    ...(command ? { 'x-oncepay-command': route.command.name } : {}),
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(requestBody ? { requestBody } : {}),
    responses,
  };
  return { path, method: route.method.toLowerCase(), op };
}

/** Operations endpoints and the documentation itself: outside /v1, no key. */
function unauthenticatedPaths(): Record<string, Record<string, Operation>> {
  const json = (description: string, schema: JsonSchema) => ({ description, content: { 'application/json': { schema } } });
  const op = (path: string, summary: string, responses: Record<string, JsonSchema>): Operation => ({
    operationId: operationId('GET', path), summary, tags: ['Operations'], security: [], responses,
  });
  return {
    '/healthz': { get: op('/healthz', 'Liveness: the process answers (nothing else is checked)', { 200: json('Alive.', ref('health')) }) },
    '/readyz': {
      get: op('/readyz', 'Readiness: the database answers, migrations are applied, the process is not shutting down', {
        200: json('Ready.', ref('readiness')),
        503: json('Not ready: see the failed checks.', ref('readiness')),
      }),
    },
    '/metrics': {
      get: op('/metrics', 'Prometheus metrics', {
        200: { description: 'Prometheus text exposition format.', content: { 'text/plain': { schema: { type: 'string' } } } },
      }),
    },
    '/openapi.json': {
      get: op('/openapi.json', 'This OpenAPI document', { 200: json('The document.', { type: 'object' }) }),
    },
    '/docs': {
      get: op('/docs', 'Interactive documentation of this document (Swagger UI)', {
        200: { description: 'An HTML page.', content: { 'text/html': { schema: { type: 'string' } } } },
      }),
    },
  };
}

export function buildOpenApiDocument(routes: Route[], opts: { version?: string; serverUrl?: string } = {}): OpenApiDocument {
  const paths: Record<string, Record<string, Operation>> = {};
  const ids = new Set<string>();
  const tags: string[] = [];
  for (const route of routes) {
    const { path, method, op } = operationFor(route);
    paths[path] ??= {};
    if (paths[path][method]) throw new Error(`duplicate route ${route.method} ${route.path}`);
    if (ids.has(op.operationId)) throw new Error(`duplicate operationId ${op.operationId}`);
    ids.add(op.operationId);
    paths[path][method] = op;
    for (const t of op.tags) if (!tags.includes(t)) tags.push(t);
  }
  Object.assign(paths, unauthenticatedPaths());
  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://spec.openapis.org/oas/3.1/dialect/base',
    info: {
      title: 'Oncepay',
      version: opts.version ?? packageVersion(),
      summary: 'A self-hostable, Stripe-compatible payments API where every write happens once.',
      description: [
        'Oncepay speaks Stripe\'s wire protocol for the resources it implements: the official Stripe clients work against it unchanged.',
        '',
        'Parameters may be sent form-encoded (Stripe\'s encoding, `metadata[key]=value`, `expand[]=x`) or as JSON. Every POST and DELETE runs',
        'through the idempotency engine: send an `Idempotency-Key` header and a retry returns the first answer (`Idempotent-Replayed: true`)',
        'instead of running again. Errors are Stripe-shaped: `{"error": {"type", "code", "message", "param"}}`.',
        '',
        testCardsMarkdown(),
      ].join('\n'),
      license: { name: 'MIT', identifier: 'MIT' },
    },
    servers: [{ url: opts.serverUrl ?? DEFAULT_SERVER_URL }],
    security: [{ bearerAuth: [] }, { basicAuth: [] }],
    tags: [...tags, 'Operations'].map((name) => ({ name })),
    paths,
    components: {
      schemas: COMPONENT_SCHEMAS,
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', description: 'The secret key: `Authorization: Bearer sk_test_...`.' },
        basicAuth: { type: 'http', scheme: 'basic', description: 'As with Stripe: the secret key as the user name, no password (`curl -u sk_test_...:`).' },
      },
      parameters: {
        IdempotencyKey: {
          name: 'Idempotency-Key', in: 'header', required: false,
          description: 'Makes the request safe to retry: a retry with the same key and parameters returns the first answer and runs nothing again. Without it the request still runs once, under an internal key.',
          schema: { type: 'string', minLength: 1, maxLength: MAX_KEY_LENGTH },
        },
      },
      headers: {
        'Request-Id': { description: 'This request\'s id (req_...); also the id of its request log.', schema: { type: 'string' } },
        'Idempotency-Key': { description: 'The Idempotency-Key the request carried.', schema: { type: 'string' } },
        'Idempotent-Replayed': { description: '`true` when this is the stored answer of an earlier request with the same key.', schema: { type: 'string', enum: ['true'] } },
        'Original-Request': { description: 'On a replay: the id of the request that first ran the key.', schema: { type: 'string' } },
      },
      responses: ERROR_RESPONSES,
    },
  };
}
