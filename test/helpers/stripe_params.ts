/**
 * The parameter audit: each operation of Oncepay's OpenAPI document that Stripe also has,
 * compared parameter by parameter with the stripe package's Params interface for it
 * (stripe_declarations.ts `paramsOf`). Request body properties for POST, query parameters for
 * GET and DELETE; a hash parameter's keys too (`address[city]`) where Oncepay describes the hash.
 * A parameter whose schema carries `x-oncepay-unsupported` (src/schema/params.ts `unsupported`)
 * is accepted and refused with its reason.
 */
import { paramsOf } from './stripe_declarations.ts';
import type { OpenApiDocument } from '../../src/api/openapi/document.ts';

type JsonSchema = Record<string, any>;

export interface AuditedOperation {
  /** `POST /v1/customers/{customer}` as Oncepay's document spells it. */
  operation: string;
  method: string;
  path: string;
  stripeParams: string[];
  accepted: string[];
  refused: Array<{ param: string; reason: string }>;
  missing: string[];
}

export interface ParamAudit {
  operations: AuditedOperation[];
  /** Oncepay's own operations (no Stripe counterpart), by `METHOD path`. */
  oncepayOnly: string[];
}

const unsupportedReason = (s: JsonSchema | undefined): string | undefined =>
  s?.['x-oncepay-unsupported'] ?? (s?.anyOf as JsonSchema[] | undefined)?.map(unsupportedReason).find(Boolean);

/** The keys Oncepay describes for a hash parameter (an object, one in an anyOf, or an array's items), if it describes them. */
function describedKeys(s: JsonSchema | undefined): Record<string, JsonSchema> | undefined {
  if (!s) return undefined;
  if (s.type === 'object' && s.properties) return s.properties;
  if (s.type === 'array') return describedKeys(s.items);
  for (const branch of (s.anyOf ?? []) as JsonSchema[]) {
    const keys = describedKeys(branch);
    if (keys) return keys;
  }
  return undefined;
}

function oncepayParams(doc: OpenApiDocument, method: string, op: JsonSchema): Record<string, JsonSchema> {
  if (method === 'post') {
    const content = op.requestBody?.content ?? {};
    const schema = (content['application/x-www-form-urlencoded'] ?? content['application/json'])?.schema;
    return schema?.properties ?? {};
  }
  const out: Record<string, JsonSchema> = {};
  for (let p of (op.parameters ?? []) as JsonSchema[]) {
    if (p.$ref) p = (doc.components as any).parameters?.[String(p.$ref).split('/').pop()!] ?? {};
    if (p.in === 'query') out[p.name] = p.schema ?? {};
  }
  return out;
}

export function auditParams(doc: OpenApiDocument): ParamAudit {
  const audit: ParamAudit = { operations: [], oncepayOnly: [] };
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops as Record<string, JsonSchema>)) {
      if (!['get', 'post', 'delete'].includes(method)) continue;
      const operation = `${method.toUpperCase()} ${path}`;
      const stripe = paramsOf(method, path);
      if (!stripe) {
        audit.oncepayOnly.push(operation);
        continue;
      }
      const ours = oncepayParams(doc, method, op);
      const entry: AuditedOperation = { operation, method: method.toUpperCase(), path, stripeParams: [], accepted: [], refused: [], missing: [] };
      const judge = (name: string, schema: JsonSchema | undefined) => {
        entry.stripeParams.push(name);
        const reason = unsupportedReason(schema);
        if (schema === undefined) entry.missing.push(name);
        else if (reason) entry.refused.push({ param: name, reason });
        else entry.accepted.push(name);
      };
      for (const name of stripe.params) {
        judge(name, ours[name]);
        const keys = stripe.nested[name];
        const described = ours[name] && !unsupportedReason(ours[name]) ? describedKeys(ours[name]) : undefined;
        if (keys && described) for (const key of keys) judge(`${name}[${key}]`, described[key]);
      }
      audit.operations.push(entry);
    }
  }
  return audit;
}
