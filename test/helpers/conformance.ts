/**
 * Conformance of responses to the OpenAPI document: the test server records every response it
 * sends (`recordResponses`), and on close checks each JSON body against the schema the document
 * gives for its operation and status (`checkResponses`). Requests no route matched, and error
 * statuses the operation does not list, must be Stripe's error envelope. A route the document
 * does not know is itself a violation.
 *
 * Validators are compiled once per process, per schema.
 */
import { appendFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import Ajv2020Module from 'ajv/dist/2020.js';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { buildOpenApiDocument, openApiPath, type OpenApiDocument } from '../../src/api/openapi/document.ts';
import { apiRoutes } from '../../src/api/routes.ts';
import { logRoutes } from '../../src/api/log_routes.ts';

export interface RecordedResponse {
  method: string;
  /** The matched route pattern (`/v1/customers/:customer`); undefined when no route matched. */
  route: string | undefined;
  url: string;
  status: number;
  contentType: string;
  payload: string;
}

export interface Violation {
  method: string;
  route: string;
  url: string;
  status: number;
  schema: string;
  errors: string[];
  body: string;
}

export interface ConformanceResult {
  checked: number;
  skipped: number;
  violations: Violation[];
  /** How many responses were checked per `METHOD route status`. */
  seen: Record<string, number>;
}

const DOC_ID = 'https://oncepay.test/openapi.json';

// The package is CommonJS: its default export is the class itself at run time.
const Ajv2020 = ((Ajv2020Module as unknown as { default?: unknown }).default ?? Ajv2020Module) as typeof Ajv2020Module.default;

/** The document of the routes every Oncepay server serves (the same route table as src/server.ts builds). */
export function serverRoutesDocument(): OpenApiDocument {
  return buildOpenApiDocument([
    ...apiRoutes({ production: false, allow: [] }),
    ...logRoutes({ lockTimeoutMs: 10_000, retentionMs: 24 * 3600 * 1000 }),
  ]);
}

/** JSON pointer to a place in the document, as a URI fragment. */
export const pointer = (...segments: string[]) =>
  `#/${segments.map((s) => encodeURIComponent(s.replace(/~/g, '~0').replace(/\//g, '~1'))).join('/')}`;

export class ConformanceChecker {
  private readonly ajv;
  private readonly validators = new Map<string, ValidateFunction>();

  constructor(readonly document: OpenApiDocument) {
    this.ajv = new Ajv2020({ strict: false, allErrors: true });
    this.ajv.addFormat('date-time', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/i);
    this.ajv.addSchema(document, DOC_ID);
  }

  /** The compiled validator for a schema at `ptr` (a fragment of the document). */
  validator(ptr: string): ValidateFunction {
    let v = this.validators.get(ptr);
    if (!v) {
      v = this.ajv.compile({ $ref: `${DOC_ID}${ptr}` });
      this.validators.set(ptr, v);
    }
    return v;
  }

  /** Where the schema for this response is, or why there is none. */
  schemaFor(r: Pick<RecordedResponse, 'method' | 'route' | 'status'>): { ptr: string } | { skip: true } | { violation: string } {
    const errorEnvelope = { ptr: pointer('components', 'schemas', 'error') };
    if (r.route === undefined) return errorEnvelope;
    const path = openApiPath(r.route).path;
    const op = this.document.paths[path]?.[r.method.toLowerCase()];
    if (!op) {
      // Swagger UI's own routes (assets, its copy of the document) are not part of the API.
      if (r.route === '/docs' || r.route.startsWith('/docs/')) return { skip: true };
      return { violation: `route ${r.method} ${r.route} is not in the OpenAPI document` };
    }
    const code = String(r.status);
    const key = code in op.responses ? code : 'default' in op.responses ? 'default' : undefined;
    if (key === undefined) {
      return r.status >= 400 ? errorEnvelope : { violation: `status ${r.status} is not documented for ${r.method} ${path}` };
    }
    const response = op.responses[key] as { $ref?: string; content?: Record<string, unknown> };
    if (response.$ref) {
      const name = response.$ref.replace('#/components/responses/', '');
      const resolved = this.document.components.responses[name] as { content?: Record<string, unknown> } | undefined;
      if (!resolved?.content?.['application/json']) return { violation: `${response.$ref} has no application/json content` };
      return { ptr: pointer('components', 'responses', name, 'content', 'application/json', 'schema') };
    }
    if (!response.content?.['application/json']) {
      return { violation: `${r.method} ${path} ${key} is not documented as application/json` };
    }
    return { ptr: pointer('paths', path, r.method.toLowerCase(), 'responses', key, 'content', 'application/json', 'schema') };
  }

  check(responses: RecordedResponse[]): ConformanceResult {
    const result: ConformanceResult = { checked: 0, skipped: 0, violations: [], seen: {} };
    for (const r of responses) {
      if (!/\bjson\b/i.test(r.contentType) || r.method === 'HEAD') {
        result.skipped++;
        continue;
      }
      const where = this.schemaFor(r);
      if ('skip' in where) {
        result.skipped++;
        continue;
      }
      result.checked++;
      const seenKey = `${r.method} ${r.route ?? '(no route)'} ${r.status}`;
      result.seen[seenKey] = (result.seen[seenKey] ?? 0) + 1;
      const base = { method: r.method, route: r.route ?? '(no route matched)', url: r.url, status: r.status, body: snippet(r.payload) };
      if ('violation' in where) {
        result.violations.push({ ...base, schema: '-', errors: [where.violation] });
        continue;
      }
      let body: unknown;
      try {
        body = JSON.parse(r.payload);
      } catch {
        result.violations.push({ ...base, schema: where.ptr, errors: ['the body is not valid JSON'] });
        continue;
      }
      const validate = this.validator(where.ptr);
      if (!validate(body)) result.violations.push({ ...base, schema: where.ptr, errors: describeErrors(validate.errors ?? []) });
    }
    return result;
  }
}

function snippet(payload: string): string {
  return payload.length > 600 ? `${payload.slice(0, 600)}... (${payload.length} bytes)` : payload;
}

function describeErrors(errors: ErrorObject[]): string[] {
  // anyOf failures report every branch; the most specific (deepest) errors say the most.
  const sorted = [...errors].sort((a, b) => b.instancePath.length - a.instancePath.length);
  return sorted.slice(0, 8).map((e) => `${e.instancePath || '(root)'} ${e.message ?? e.keyword}${e.params && Object.keys(e.params).length > 0 ? ` ${JSON.stringify(e.params)}` : ''} [${e.schemaPath}]`);
}

export function formatViolations(violations: Violation[], max = 20): string {
  const lines = violations.slice(0, max).map((v, i) =>
    `${i + 1}. ${v.method} ${v.route} -> ${v.status} (${v.url})\n   schema: ${v.schema}\n   ${v.errors.join('\n   ')}\n   body: ${v.body}`);
  const more = violations.length > max ? `\n... and ${violations.length - max} more` : '';
  return `${violations.length} response(s) do not conform to the OpenAPI document:\n${lines.join('\n')}${more}`;
}

let shared: ConformanceChecker | undefined;

/** One checker per process, for the document of the server's routes. */
export function conformanceChecker(): ConformanceChecker {
  return (shared ??= new ConformanceChecker(serverRoutesDocument()));
}

/** Records every response the app sends; call before the app starts listening. */
export function recordResponses(app: FastifyInstance): RecordedResponse[] {
  const recorded: RecordedResponse[] = [];
  app.addHook('onSend', async (req, reply, payload) => {
    if (typeof payload === 'string') {
      recorded.push({
        method: req.method, route: req.routeOptions.url, url: req.url, status: reply.statusCode,
        contentType: String(reply.getHeader('content-type') ?? ''), payload,
      });
    }
    return payload;
  });
  return recorded;
}

/** Checks the recorded responses; throws an Error listing every violation. */
export function assertConformance(recorded: RecordedResponse[]): ConformanceResult {
  const result = conformanceChecker().check(recorded);
  if (process.env.ONCEPAY_CONFORMANCE_REPORT) {
    appendFileSync(process.env.ONCEPAY_CONFORMANCE_REPORT, `${JSON.stringify({
      file: process.argv[1], checked: result.checked, skipped: result.skipped, violations: result.violations.length, seen: result.seen,
    })}\n`);
  }
  if (result.violations.length > 0) throw new Error(formatViolations(result.violations));
  return result;
}
