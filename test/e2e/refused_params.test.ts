/**
 * Every parameter Oncepay documents as accepted-but-refused (`unsupported(reason)`, found by the
 * parameter audit, test/helpers/stripe_params.ts) is sent once to its operation: the answer is a
 * 400 naming it, with code parameter_unsupported and its reason, never parameter_unknown.
 * Required parameters of the operation are filled with plausible values so that the refusal is
 * what answers; path ids are made up (parameters are checked before any lookup).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverRoutesDocument } from '../helpers/conformance.ts';
import { auditParams } from '../helpers/stripe_params.ts';
import { rawRequest, useTestServer } from '../helpers/server.ts';
import { uniqueKey } from '../helpers/unique.ts';

type JsonSchema = Record<string, any>;

const doc = serverRoutesDocument();
const audit = auditParams(doc);
const { server } = useTestServer();

/** Parameters an operation requires in code rather than in its schema. */
const REQUIRED_IN_CODE: Record<string, string[]> = {
  'POST /v1/subscriptions': ['items[0][price]=probe'],
};

/** The object or array branch of an anyOf (a clearable hash), else the schema. */
const resolve = (s: JsonSchema): JsonSchema => (s?.anyOf ? s.anyOf.find((b: JsonSchema) => b.type === 'object' || b.type === 'array') ?? s.anyOf[0] : s ?? {});

/** A value the schema accepts, for a required scalar parameter. */
function plausible(name: string, s: JsonSchema): string | undefined {
  if (s.enum) return String(s.enum[0]);
  if (s.type === 'integer') return String(Math.max(s.minimum ?? 1, 100));
  if (s.type === 'boolean') return 'false';
  if (s.type === 'string') return name === 'currency' ? 'usd' : 'probe';
  return undefined;
}

/** Form pairs for the required keys of a schema (nested hashes and arrays' first items too), but not `except`. */
function requiredPairs(schema: JsonSchema, prefix: string, except?: string): string[] {
  const s = resolve(schema);
  if (s.type === 'object') {
    return ((s.required ?? []) as string[]).filter((k) => k !== except).flatMap((k) => requiredPairs(s.properties[k], prefix ? `${prefix}[${k}]` : k));
  }
  if (s.type === 'array') return requiredPairs(s.items, `${prefix}[0]`);
  const v = plausible(prefix.replace(/^.*\[|\]$/g, ''), s);
  return v === undefined ? [] : [`${prefix}=${encodeURIComponent(v)}`];
}

/** The operation's parameters as one object schema: the form body for POST, the query parameters otherwise. */
function parametersSchema(method: string, path: string): JsonSchema {
  const op = (doc.paths[path] as any)[method.toLowerCase()];
  if (method === 'POST') return op.requestBody?.content?.['application/x-www-form-urlencoded']?.schema ?? {};
  const query = ((op.parameters ?? []) as JsonSchema[]).filter((p) => p.in === 'query');
  return { type: 'object', properties: Object.fromEntries(query.map((p) => [p.name, p.schema])), required: query.filter((p) => p.required).map((p) => p.name) };
}

/** The request that sets only `param` (with the operation's required parameters) and the bracket name the error must give. */
function probe(method: string, path: string, param: string): { form: string; name: string } {
  const root = parametersSchema(method, path);
  const [, top, key] = /^([^[]+)(?:\[(.+)\])?$/.exec(param)!;
  const inCode = (REQUIRED_IN_CODE[`${method} ${path}`] ?? []).filter((pair) => !pair.startsWith(`${top}[`) && !pair.startsWith(`${top}=`));
  const pairs = [...requiredPairs(root, '', top), ...inCode];
  let name = top;
  if (key !== undefined) {
    const hash = resolve(root.properties?.[top]);
    const container = hash.type === 'array' ? resolve(hash.items) : hash;
    const prefix = hash.type === 'array' ? `${top}[0]` : top;
    pairs.push(...((container.required ?? []) as string[]).filter((k) => k !== key).flatMap((k) => requiredPairs(container.properties[k], `${prefix}[${k}]`)));
    name = `${prefix}[${key}]`;
  }
  return { form: [...pairs, `${name}=oncepay_probe`].join('&'), name };
}

test('each refused parameter answers 400 parameter_unsupported naming it', async (t) => {
  const failures: string[] = [];
  let probes = 0;
  for (const op of audit.operations) {
    for (const { param, reason } of op.refused) {
      probes++;
      const path = op.path.replace(/\{[^}]+\}/g, 'probe_Xx0000');
      const { form, name } = probe(op.method, op.path, param);
      const res = op.method === 'POST'
        ? await rawRequest(server, 'POST', path, { body: form, headers: { 'idempotency-key': uniqueKey('probe') } })
        : await rawRequest(server, op.method, `${path}?${form}`);
      const error = res.json?.error;
      if (res.status !== 400 || error?.param !== name || error?.code !== 'parameter_unsupported' || !String(error?.message).includes(reason)) {
        failures.push(`${op.operation} ${name}: ${res.status} ${error?.code ?? ''} param=${error?.param ?? ''} ${error?.message ?? res.text.slice(0, 200)}`);
      }
    }
  }
  t.diagnostic(`${probes} refused parameters probed`);
  assert.deepEqual(failures, [], `refused parameters not answered with 400 parameter_unsupported naming them:\n${failures.join('\n')}`);
});
