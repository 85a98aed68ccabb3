/**
 * Stripe's own types as the oracle: every JSON body a test server sent (test/helpers/server.ts
 * records them, see conformance.ts) is checked, by the TypeScript compiler, against the object
 * types of the official stripe package's declarations. Each checked object becomes a literal in a
 * virtual file, `const _0: Stripe.Invoice = { ...the body... };` (a list's items each by their own
 * `object`, an event as `Extract<Stripe.Event, { type: 'invoice.paid' }>`, a deleted object as
 * its Deleted* type); error bodies, objects without an `object` and objects Stripe lacks are not
 * checked. A field Stripe's type makes non-optional and the body lacks, a field Stripe's type
 * does not have, and a value outside the declared type (enums included: the package's
 * `OtherString` widening is narrowed, see stripe_declarations.ts) each fail, naming the response
 * and the field's JSON path.
 *
 * Oncepay's declared additions (src/schema/stripe_additions.ts) are removed from every object of
 * their type before the check, and objects of the types Oncepay invented are skipped.
 *
 * Missing and unknown fields are found on every object literal from the compiler's contextual
 * type (the compiler itself stops at the first failing field of an object); other diagnostics
 * are mapped back from their position to the field they are on.
 *
 * Cost: bodies are deduplicated by shape first (same keys, value kinds and short enum-like
 * strings: one sample), and each Program reuses the previous one's parsed declarations.
 */
import ts from 'typescript';
import { appendFileSync } from 'node:fs';
import { COMPILER_OPTIONS, cachingHost, objectTypeNames, stripeDeclarations, stripeEventTypes, virtualPath } from './stripe_declarations.ts';
import { additionsTo, ONCEPAY_OBJECT_TYPES } from '../../src/schema/stripe_additions.ts';
import type { RecordedResponse } from './conformance.ts';

export type StripeTypesMode = 'enforce' | 'report' | 'off';

/** The mode when ONCEPAY_STRIPE_TYPES is unset: a response that does not match Stripe's types fails its test file. */
export const DEFAULT_STRIPE_TYPES_MODE: StripeTypesMode = 'enforce';

export function stripeTypesMode(env: NodeJS.ProcessEnv = process.env): StripeTypesMode {
  const mode = env.ONCEPAY_STRIPE_TYPES || DEFAULT_STRIPE_TYPES_MODE;
  if (mode !== 'enforce' && mode !== 'report' && mode !== 'off') throw new Error(`ONCEPAY_STRIPE_TYPES must be enforce, report or off, not '${mode}'`);
  return mode;
}

export interface TypeViolation {
  method: string;
  route: string;
  url: string;
  status: number;
  /** The Stripe type the checked object was written as (`Stripe.Invoice`). */
  checkedAs: string;
  /** The type of the object holding the field (`Invoice.AutomaticTax`). */
  objectType: string;
  /** JSON path of the field in the body (`lines.data[0].pricing`, `data[2].latest_charge.billing_details`). */
  path: string;
  message: string;
  /** How many recorded responses share this body's shape (one was checked for all). */
  responses: number;
}

export interface TypeCheckResult {
  /** Objects written as Stripe types (before deduplication). */
  checked: number;
  /** Distinct shapes type-checked. */
  samples: number;
  /** Responses or list items not checked: errors, not JSON, no `object`, invented or unknown to Stripe. */
  skipped: number;
  violations: TypeViolation[];
  ms: number;
}

interface Sample {
  typeExpr: string;
  value: unknown;
  /** Path of the checked object in the body (`data[3]` for a list item, '' for the body). */
  prefix: string;
  first: RecordedResponse;
  count: number;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A copy without Oncepay's declared additions, on this object and every object nested in it. */
export function withoutAdditions(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutAdditions);
  if (!isObject(value)) return value;
  const drop = typeof value.object === 'string' ? additionsTo(value.object) : [];
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (!drop.includes(k)) out[k] = withoutAdditions(v);
  return out;
}

/** The key of a body's shape: keys, value kinds, booleans and short enum-like strings (ids, amounts and free text differ). */
export function shapeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `[${[...new Set(value.map(shapeOf))].sort().join('|')}]`;
  if (isObject(value)) return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${shapeOf(value[k])}`).join(',')}}`;
  if (typeof value === 'string') return /^[a-z][a-z0-9_.]{0,39}$/.test(value) ? JSON.stringify(value) : 's';
  if (typeof value === 'boolean') return String(value);
  return typeof value;
}

/** The Stripe type expression to write an object as, or why it is not checked. */
export function stripeTypeFor(value: Record<string, unknown>): { typeExpr: string } | { skip: string } {
  const object = value.object;
  if (typeof object !== 'string') return { skip: 'no object' };
  if (ONCEPAY_OBJECT_TYPES.includes(object)) return { skip: `Oncepay's own ${object}` };
  if (object === 'event') {
    const type = value.type;
    if (typeof type !== 'string' || !stripeEventTypes().has(type)) return { skip: `event type ${String(type)} is Oncepay's own` };
    return { typeExpr: `Extract<Stripe.Event, { type: ${JSON.stringify(type)} }>` };
  }
  const types = objectTypeNames().get(object);
  const name = value.deleted === true ? types?.deleted[0] : types?.types[0];
  if (!name) return { skip: `Stripe has no ${value.deleted === true ? 'deleted ' : ''}${object}` };
  return { typeExpr: `Stripe.${name}` };
}

/** The objects of one response body to check: the body, or a list's items. */
function targetsOf(body: unknown): Array<{ value: Record<string, unknown>; prefix: string }> {
  if (!isObject(body)) return [];
  if ((body.object === 'list' || body.object === 'search_result') && Array.isArray(body.data)) {
    return body.data.flatMap((item, i) => (isObject(item) ? [{ value: item, prefix: `data[${i}]` }] : []));
  }
  return [{ value: body, prefix: '' }];
}

const CHECK_FILE = virtualPath('__stripe_types_check__.ts');
let previous: ts.Program | undefined;

/** Writes the samples as typed literals and type-checks them in one Program. */
function compile(samples: Sample[]): { program: ts.Program; file: ts.SourceFile } {
  const text = ["import type Stripe from 'stripe';", ...samples.map((s, i) => `export const _${i}: ${s.typeExpr} = ${JSON.stringify(s.value, null, 1)};`)].join('\n');
  const program = ts.createProgram({
    rootNames: [CHECK_FILE], options: COMPILER_OPTIONS, host: cachingHost(new Map([[CHECK_FILE, text]])),
    oldProgram: previous ?? stripeDeclarations().program,
  });
  previous = program;
  return { program, file: program.getSourceFile(CHECK_FILE)! };
}

/** Diagnostic codes for missing and unknown properties: found on every object below, so not taken from the compiler's (first-failure) report. */
const MISSING_OR_EXCESS = new Set([2739, 2740, 2741, 2353, 2561, 2559]);

function chainCodes(chain: ts.DiagnosticMessageChain | string): number[] {
  if (typeof chain === 'string') return [];
  return [chain.code, ...(chain.next ?? []).flatMap(chainCodes)];
}

/** The sample index and JSON path (within the sample) of a node inside `export const _N = ...`. */
function locate(node: ts.Node): { index: number; path: string } | undefined {
  const parts: string[] = [];
  let n: ts.Node = node;
  while (n.parent) {
    const p = n.parent;
    if (ts.isPropertyAssignment(p) && (p.name === n || p.initializer === n)) {
      const name = p.name;
      const key = ts.isStringLiteral(name) || ts.isIdentifier(name) || ts.isNumericLiteral(name) ? name.text : name.getText();
      parts.unshift(/^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`);
    } else if (ts.isArrayLiteralExpression(p)) {
      parts.unshift(`[${p.elements.indexOf(n as ts.Expression)}]`);
    } else if (ts.isVariableDeclaration(p)) {
      const index = Number((p.name as ts.Identifier).text.slice(1));
      return { index, path: parts.join('').replace(/^\./, '') };
    }
    n = p;
  }
  return undefined;
}

function nodeAt(file: ts.SourceFile, pos: number): ts.Node {
  let found: ts.Node = file;
  const visit = (n: ts.Node) => {
    if (n.getStart(file) <= pos && pos < n.getEnd()) {
      found = n;
      ts.forEachChild(n, visit);
    }
  };
  ts.forEachChild(file, visit);
  return found;
}

const join = (prefix: string, path: string) => (prefix && path ? `${prefix}.${path}` : prefix || path);

const literalKeys = (o: ts.ObjectLiteralExpression) =>
  o.properties.flatMap((p) => (ts.isPropertyAssignment(p) && (ts.isStringLiteral(p.name) || ts.isIdentifier(p.name)) ? [p.name.text] : []));

function literalString(o: ts.ObjectLiteralExpression, key: string): string | boolean | undefined {
  for (const p of o.properties) {
    if (!ts.isPropertyAssignment(p) || !(ts.isStringLiteral(p.name) || ts.isIdentifier(p.name)) || p.name.text !== key) continue;
    if (ts.isStringLiteral(p.initializer)) return p.initializer.text;
    if (p.initializer.kind === ts.SyntaxKind.TrueKeyword) return true;
  }
  return undefined;
}

/**
 * The object type an object literal is meant to be: from its contextual type, the member of a
 * union (`string | Charge | null`, several event payloads) its `object` (and `deleted`) select,
 * else the one it fits best. Undefined for free-form maps (metadata) and where nothing is expected.
 */
function expectedType(checker: ts.TypeChecker, o: ts.ObjectLiteralExpression): ts.Type | undefined {
  const contextual = checker.getContextualType(o);
  if (!contextual) return undefined;
  let members = (contextual.isUnion() ? contextual.types : [contextual])
    .filter((t) => (t.flags & ts.TypeFlags.Object) !== 0 && !checker.isArrayType(t));
  if (members.length === 0 || members.some((t) => checker.getIndexInfosOfType(t).length > 0)) return undefined;
  const memberLiteral = (t: ts.Type, key: string) => {
    const p = t.getProperty(key);
    const pt = p && checker.getTypeOfSymbol(p);
    return pt?.isStringLiteral() ? pt.value : pt && checker.typeToString(checker.getNonNullableType(pt)) === 'true' ? true : undefined;
  };
  for (const key of ['object', 'deleted', 'type']) {
    const own = literalString(o, key);
    if (own === undefined) continue;
    const matching = members.filter((t) => memberLiteral(t, key) === own);
    if (matching.length > 0) members = matching;
  }
  if (members.length === 1) return members[0];
  const keys = new Set(literalKeys(o));
  const misfit = (t: ts.Type) => checker.getPropertiesOfType(t).filter((p) => !keys.has(p.name) && (p.flags & ts.SymbolFlags.Optional) === 0).length
    + [...keys].filter((k) => !t.getProperty(k)).length;
  return [...members].sort((a, b) => misfit(a) - misfit(b))[0];
}

/** Missing non-optional and unknown fields of every object literal of the file. */
function fieldViolations(checker: ts.TypeChecker, file: ts.SourceFile, report: (node: ts.Node, objectType: string, field: string, message: string) => void): void {
  const visit = (n: ts.Node) => {
    if (ts.isObjectLiteralExpression(n)) {
      const expected = expectedType(checker, n);
      if (expected) {
        const name = typeName(checker, expected);
        const keys = new Set(literalKeys(n));
        for (const p of checker.getPropertiesOfType(expected)) {
          if (!keys.has(p.name) && (p.flags & ts.SymbolFlags.Optional) === 0) report(n, name, p.name, `missing: ${name} requires '${p.name}' (${checker.typeToString(checker.getTypeOfSymbol(p))})`);
        }
        for (const k of keys) if (!expected.getProperty(k)) report(n, name, k, `unknown field: ${name} has no '${k}'`);
      }
    }
    ts.forEachChild(n, visit);
  };
  visit(file);
}

/** `Charge.PaymentMethodDetails.Card`, not the ambiguous `Card`. */
const typeName = (checker: ts.TypeChecker, t: ts.Type) =>
  shortTypeName(checker.typeToString(t, undefined, ts.TypeFormatFlags.UseFullyQualifiedType));

/** Without the module prefixes the compiler writes (`import("…/resources/Charges", { with: … }).Charge`). */
export const shortTypeName = (name: string) => name.replace(/import\("[^"]*"(?:, \{[^()]*\})?\)\./g, '');

const shorten = (s: string, max = 400) => (s.length > max ? `${s.slice(0, max)}...` : s);

/** Checks the recorded responses against the stripe package's types. */
export function checkStripeTypes(recorded: RecordedResponse[]): TypeCheckResult {
  const started = performance.now();
  const result: TypeCheckResult = { checked: 0, samples: 0, skipped: 0, violations: [], ms: 0 };
  const byShape = new Map<string, Sample>();
  for (const r of recorded) {
    if (!/\bjson\b/i.test(r.contentType) || r.method === 'HEAD' || r.status >= 400) {
      result.skipped++;
      continue;
    }
    let body: unknown;
    try { body = JSON.parse(r.payload); } catch { result.skipped++; continue; }
    const targets = targetsOf(body);
    if (targets.length === 0) result.skipped++;
    for (const { value, prefix } of targets) {
      const as = stripeTypeFor(value);
      if ('skip' in as) {
        result.skipped++;
        continue;
      }
      result.checked++;
      const stripped = withoutAdditions(value);
      const key = `${as.typeExpr} ${shapeOf(stripped)}`;
      const known = byShape.get(key);
      if (known) known.count++;
      else byShape.set(key, { typeExpr: as.typeExpr, value: stripped, prefix, first: r, count: 1 });
    }
  }
  const samples = [...byShape.values()];
  result.samples = samples.length;
  if (samples.length > 0) {
    const { program, file } = compile(samples);
    const checker = program.getTypeChecker();
    const seen = new Set<string>();
    const add = (node: ts.Node, objectType: string, field: string | undefined, message: string) => {
      const where = locate(node);
      if (!where) throw new Error(`stripe_types: a diagnostic outside the samples: ${message}`);
      const sample = samples[where.index];
      const path = join(sample.prefix, field === undefined ? where.path : join(where.path, field));
      const r = sample.first;
      const dedupe = `${where.index} ${path} ${message}`;
      if (seen.has(dedupe)) return;
      seen.add(dedupe);
      result.violations.push({
        method: r.method, route: r.route ?? '(no route)', url: r.url, status: r.status, checkedAs: sample.typeExpr,
        objectType, path, message, responses: sample.count,
      });
    };
    fieldViolations(checker, file, add);
    for (const d of [...program.getSyntacticDiagnostics(file), ...program.getSemanticDiagnostics(file)]) {
      if (d.start === undefined) continue;
      const codes = [d.code, ...chainCodes(d.messageText)];
      if (codes.some((c) => MISSING_OR_EXCESS.has(c))) continue;
      const message = ts.flattenDiagnosticMessageText(d.messageText, ' ');
      const node = nodeAt(file, d.start);
      const value = ts.isPropertyAssignment(node.parent) && node.parent.name === node ? node.parent.initializer : node;
      // stripe-node parses decimal strings into its Decimal class: on the wire they are strings.
      if (/type 'Decimal'/.test(message) && ts.isStringLiteral(value) && /^-?\d+(\.\d+)?$/.test(value.text)) continue;
      const holder = ts.findAncestor(node, ts.isObjectLiteralExpression);
      const holderType = holder && expectedType(checker, holder);
      add(node, holderType ? typeName(checker, holderType) : '?', undefined, shorten(message));
    }
  }
  result.ms = Math.round(performance.now() - started);
  return result;
}

export function formatTypeViolations(violations: TypeViolation[], max = 30): string {
  const lines = violations.slice(0, max).map((v, i) =>
    `${i + 1}. ${v.method} ${v.route} -> ${v.status} (${v.url}${v.responses > 1 ? `, and ${v.responses - 1} more of this shape` : ''}) as ${v.checkedAs}\n   ${v.path}: ${v.message}`);
  const more = violations.length > max ? `\n... and ${violations.length - max} more` : '';
  return `${violations.length} field(s) do not match the stripe package's types:\n${lines.join('\n')}${more}`;
}

/**
 * The check the test server runs on close, as ONCEPAY_STRIPE_TYPES says: `enforce` throws,
 * listing the violations; `report` prints them to stderr and, with
 * ONCEPAY_STRIPE_TYPES_REPORT=<file>, appends them there as JSON lines; `off` does nothing.
 */
export function assertStripeTypes(recorded: RecordedResponse[]): TypeCheckResult | undefined {
  const mode = stripeTypesMode();
  if (mode === 'off') return undefined;
  const result = checkStripeTypes(recorded);
  const reportFile = process.env.ONCEPAY_STRIPE_TYPES_REPORT;
  if (reportFile) {
    const file = process.argv[1];
    const lines = result.violations.map((v) => JSON.stringify({
      file, route: `${v.method} ${v.route} ${v.status}`, url: v.url, checkedAs: v.checkedAs, objectType: v.objectType, path: v.path, message: v.message, responses: v.responses,
    }));
    lines.push(JSON.stringify({ file, summary: true, checked: result.checked, samples: result.samples, skipped: result.skipped, violations: result.violations.length, ms: result.ms }));
    appendFileSync(reportFile, `${lines.join('\n')}\n`);
  }
  if (result.violations.length === 0) return result;
  if (mode === 'enforce') throw new Error(formatTypeViolations(result.violations));
  process.stderr.write(`stripe types (report mode): ${formatTypeViolations(result.violations, 10)}\n`);
  return result;
}
