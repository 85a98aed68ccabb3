/**
 * What the official stripe package's type declarations say, read with the TypeScript compiler API:
 * the object types by their `object` string, the parameters of each operation, the expandable
 * fields of each object type. Nothing here is hand-listed: an upgrade of the package changes the
 * answers. One Program per process (cached); the source files it parsed are kept in a shared
 * cache so that the response oracle (stripe_types.ts) builds its Programs without parsing the
 * declarations again.
 */
import ts from 'typescript';
import { readdirSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
// The compiler names files by their real path (node_modules may be a symbolic link).
const STRIPE_ESM = realpathSync(join(REPO_ROOT, 'node_modules', 'stripe', 'esm'));

export const COMPILER_OPTIONS: ts.CompilerOptions = {
  strict: true,
  skipLibCheck: true,
  noEmit: true,
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  lib: ['lib.es2022.d.ts'],
  types: [],
};

const parsed = new Map<string, ts.SourceFile>();

const SHARED_DTS = join(STRIPE_ESM, 'shared.d.ts');
const OTHER_STRING = 'export type OtherString = string & Record<never, never>;';

/**
 * The package widens every enum with `OtherString` (any string) so that new values Stripe adds
 * do not break old code; here it is narrowed to `never`, so a value outside the documented set
 * is a type error. The package's text is checked, so an upgrade that renames it fails loudly.
 */
function readDeclaration(fileName: string, base: ts.CompilerHost): string | undefined {
  const text = base.readFile(fileName);
  if (fileName !== SHARED_DTS || text === undefined) return text;
  if (!text.includes(OTHER_STRING)) throw new Error(`${SHARED_DTS} no longer declares '${OTHER_STRING}'`);
  return text.replace(OTHER_STRING, 'export type OtherString = never;');
}

/**
 * A compiler host serving `virtual` files from memory and every other file parsed once per
 * process (so a Program built with another as `oldProgram` reuses the stripe declarations).
 */
export function cachingHost(virtual: ReadonlyMap<string, string>): ts.CompilerHost {
  const base = ts.createCompilerHost(COMPILER_OPTIONS, true);
  return {
    ...base,
    getSourceFile(fileName, languageVersion, onError) {
      const text = virtual.get(fileName);
      if (text !== undefined) return ts.createSourceFile(fileName, text, languageVersion, true, ts.ScriptKind.TS);
      let sf = parsed.get(fileName);
      if (!sf) {
        const content = readDeclaration(fileName, base);
        if (content === undefined) {
          onError?.(`cannot read ${fileName}`);
          return undefined;
        }
        sf = ts.createSourceFile(fileName, content, languageVersion, true);
        parsed.set(fileName, sf);
      }
      return sf;
    },
    fileExists: (f) => virtual.has(f) || base.fileExists(f),
    readFile: (f) => virtual.get(f) ?? readDeclaration(f, base),
  };
}

/** A file under the repository (so `import type Stripe from 'stripe'` resolves through node_modules, as ESM). */
export const virtualPath = (name: string) => join(REPO_ROOT, 'test', 'helpers', name);

const ROOT_FILE = virtualPath('__stripe_declarations__.ts');

interface Declarations {
  program: ts.Program;
  checker: ts.TypeChecker;
  /** The merged `Stripe` class + namespace symbol (the package's default export). */
  stripe: ts.Symbol;
}

let declarations: Declarations | undefined;

/** The one Program over the stripe package's declarations (built on first use). */
export function stripeDeclarations(): Declarations {
  if (declarations) return declarations;
  const virtual = new Map([[ROOT_FILE, "import type Stripe from 'stripe';\nexport type { Stripe };\n"]]);
  const program = ts.createProgram({ rootNames: [ROOT_FILE], options: COMPILER_OPTIONS, host: cachingHost(virtual) });
  const checker = program.getTypeChecker();
  const root = program.getSourceFile(ROOT_FILE)!;
  const clause = (root.statements[0] as ts.ImportDeclaration).importClause!;
  const local = checker.getSymbolAtLocation(clause.name!);
  if (!local) throw new Error('the stripe package\'s default export was not found (is node_modules/stripe installed?)');
  const stripe = local.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(local) : local;
  declarations = { program, checker, stripe };
  return declarations;
}

const resolve = (checker: ts.TypeChecker, s: ts.Symbol) => (s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s);

/** Every exported interface of the Stripe namespace and its sub-namespaces (TestHelpers, Issuing, ...), by qualified name. */
function namespaceInterfaces(): Map<string, ts.Symbol> {
  const { checker, stripe } = stripeDeclarations();
  const out = new Map<string, ts.Symbol>();
  const walk = (ns: ts.Symbol, prefix: string, depth: number) => {
    for (const exported of checker.getExportsOfModule(ns)) {
      const s = resolve(checker, exported);
      const name = `${prefix}${exported.name}`;
      if (s.flags & ts.SymbolFlags.Interface) out.set(name, s);
      // Namespaces of resources (TestHelpers, Issuing: a class merged with a namespace), not the
      // namespaces of an interface's own sub-types (Invoice.AutomaticTax).
      const resourceNamespace = s.flags & ts.SymbolFlags.Module && !(s.flags & (ts.SymbolFlags.Interface | ts.SymbolFlags.TypeAlias | ts.SymbolFlags.Function));
      if (resourceNamespace && depth < 4) walk(s, `${name}.`, depth + 1);
    }
  };
  walk(stripe, '', 0);
  return out;
}

export interface ObjectTypes {
  /** The interfaces of the live object (`Invoice`; several when Stripe declares the same `object` twice). */
  types: string[];
  /** The interfaces with `deleted: true` (`DeletedInvoice`). */
  deleted: string[];
}

let objectTypes: Map<string, ObjectTypes> | undefined;

/** The `object` string literal of every Stripe object type, to the interfaces declaring it. */
export function objectTypeNames(): Map<string, ObjectTypes> {
  if (objectTypes) return objectTypes;
  const { checker } = stripeDeclarations();
  objectTypes = new Map();
  for (const [name, symbol] of namespaceInterfaces()) {
    const type = checker.getDeclaredTypeOfSymbol(symbol);
    const objectProp = type.getProperty('object');
    if (!objectProp) continue;
    const literal = checker.getTypeOfSymbol(objectProp);
    if (!literal.isStringLiteral()) continue;
    const entry = objectTypes.get(literal.value) ?? { types: [], deleted: [] };
    const deletedProp = type.getProperty('deleted');
    const deleted = deletedProp && checker.typeToString(checker.getNonNullableType(checker.getTypeOfSymbol(deletedProp))) === 'true';
    (deleted ? entry.deleted : entry.types).push(name);
    objectTypes.set(literal.value, entry);
  }
  return objectTypes;
}

/** The declared type of a qualified interface name of the Stripe namespace (`Invoice`, `TestHelpers.TestClock`). */
export function stripeType(typeName: string): ts.Type {
  const symbol = namespaceInterfaces().get(typeName);
  if (!symbol) throw new Error(`the stripe package declares no interface Stripe.${typeName}`);
  return stripeDeclarations().checker.getDeclaredTypeOfSymbol(symbol);
}

let eventTypeSet: Set<string> | undefined;

/** The `type` of every member of the Stripe.Event union. */
export function stripeEventTypes(): Set<string> {
  if (eventTypeSet) return eventTypeSet;
  const { checker } = stripeDeclarations();
  const eventAlias = checker.getExportsOfModule(stripeDeclarations().stripe).find((s) => s.name === 'Event');
  if (!eventAlias) throw new Error('Stripe.Event not found');
  const event = checker.getDeclaredTypeOfSymbol(resolve(checker, eventAlias));
  eventTypeSet = new Set();
  for (const member of event.isUnion() ? event.types : [event]) {
    const t = member.getProperty('type');
    const literal = t && checker.getTypeOfSymbol(t);
    if (literal?.isStringLiteral()) eventTypeSet.add(literal.value);
  }
  return eventTypeSet;
}

// ---- operations and their parameters ------------------------------------------------------

export interface StripeOperation {
  method: string;
  /** Stripe's path with `{}` for each path parameter (`/v1/invoices/{}/finalize`). */
  path: string;
  /** Resource class and method (`InvoiceResource.finalizeInvoice`). */
  resource: string;
  methodName: string;
  /** The Params interface's name (`InvoiceFinalizeInvoiceParams`), when the method takes params. */
  paramsType?: string;
  /** Top-level parameter names. */
  params: string[];
  /** For hash-typed parameters (or arrays of hashes): their keys. */
  nested: Record<string, string[]>;
}

/** `/v1/invoices/:invoice/finalize`, `/v1/invoices/{invoice}/finalize` → `/v1/invoices/{}/finalize`. */
export const normalizePath = (path: string) => path.replace(/\{[^}]*\}|:[A-Za-z_][A-Za-z0-9_]*/g, '{}');

function resourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? resourceFiles(join(dir, e.name)) : e.name.endsWith('.js') ? [join(dir, e.name)] : []);
}

/** The `_makeRequest('POST', `/v1/...`)` call of each method of each resource class in a JS file. */
function requestsOf(jsFile: string): Array<{ className: string; methodName: string; method: string; path: string }> {
  const sf = ts.createSourceFile(jsFile, readFileSync(jsFile, 'utf8'), ts.ScriptTarget.ES2022, true, ts.ScriptKind.JS);
  const out: Array<{ className: string; methodName: string; method: string; path: string }> = [];
  for (const statement of sf.statements) {
    if (!ts.isClassDeclaration(statement) || !statement.name) continue;
    for (const member of statement.members) {
      if (!ts.isMethodDeclaration(member) || !ts.isIdentifier(member.name)) continue;
      const visit = (node: ts.Node): void => {
        if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression) && node.expression.name.text === '_makeRequest') {
          const [m, p] = node.arguments;
          const path = p && (ts.isStringLiteral(p) || ts.isNoSubstitutionTemplateLiteral(p)) ? p.text
            : p && ts.isTemplateExpression(p) ? p.head.text + p.templateSpans.map((s) => `{}${s.literal.text}`).join('') : undefined;
          if (m && ts.isStringLiteral(m) && path) out.push({ className: statement.name!.text, methodName: (member.name as ts.Identifier).text, method: m.text, path });
          return;
        }
        ts.forEachChild(node, visit);
      };
      visit(member);
    }
  }
  return out;
}

let operations: Map<string, StripeOperation> | undefined;

const opKey = (method: string, path: string) => `${method.toUpperCase()} ${normalizePath(path)}`;

/** Every operation of the package's resources, by `METHOD /v1/path/{}`. */
export function stripeOperations(): Map<string, StripeOperation> {
  if (operations) return operations;
  const { program, checker } = stripeDeclarations();
  operations = new Map();
  for (const jsFile of resourceFiles(join(STRIPE_ESM, 'resources'))) {
    const requests = requestsOf(jsFile);
    if (requests.length === 0) continue;
    const dts = program.getSourceFile(jsFile.replace(/\.js$/, '.d.ts'));
    if (!dts) throw new Error(`${jsFile} has no declarations in the Program`);
    for (const r of requests) {
      const key = opKey(r.method, r.path);
      if (operations.has(key)) continue;
      const cls = dts.statements.find((s): s is ts.ClassDeclaration => ts.isClassDeclaration(s) && s.name?.text === r.className);
      const decl = cls?.members.find((m): m is ts.MethodDeclaration =>
        ts.isMethodDeclaration(m) && ts.isIdentifier(m.name) && m.name.text === r.methodName && m.parameters.some((p) => ts.isIdentifier(p.name) && p.name.text === 'params'));
      const param = decl?.parameters.find((p) => ts.isIdentifier(p.name) && p.name.text === 'params');
      const op: StripeOperation = { method: r.method, path: normalizePath(r.path), resource: r.className, methodName: r.methodName, params: [], nested: {} };
      if (param?.type) {
        op.paramsType = param.type.getText(dts);
        const type = checker.getNonNullableType(checker.getTypeFromTypeNode(param.type));
        for (const prop of checker.getPropertiesOfType(type)) {
          op.params.push(prop.name);
          const keys = hashKeys(checker, checker.getTypeOfSymbol(prop));
          if (keys.length > 0) op.nested[prop.name] = keys;
        }
      }
      operations.set(key, op);
    }
  }
  return operations;
}

/** The keys of a hash-typed parameter (or of the hashes of an array parameter); none for scalars and free-form maps (metadata). */
function hashKeys(checker: ts.TypeChecker, type: ts.Type): string[] {
  const keys = new Set<string>();
  const members = (t: ts.Type): ts.Type[] => (t.isUnion() ? t.types : [t]);
  for (let t of members(checker.getNonNullableType(type))) {
    if (checker.isArrayType(t)) t = checker.getTypeArguments(t as ts.TypeReference)[0] ?? t;
    for (const m of members(t)) {
      if (!(m.flags & ts.TypeFlags.Object)) continue;
      for (const p of checker.getPropertiesOfType(m)) keys.add(p.name);
    }
  }
  return [...keys];
}

/** The Stripe operation at `METHOD path` (Oncepay's `:param` or OpenAPI's `{param}` placeholders), if Stripe has one. */
export function paramsOf(method: string, path: string): StripeOperation | undefined {
  return stripeOperations().get(opKey(method, path));
}

// ---- expandable fields --------------------------------------------------------------------

const expandableCache = new Map<string, string[]>();

/**
 * The fields Stripe lets `expand[]` name on an object type, as paths (`latest_charge`,
 * `invoice_settings.default_payment_method`): fields typed `string | SomeObject` (possibly
 * `| null`, or arrays of them), and includable fields (optional fields holding a Stripe object
 * or list, such as Customer's `subscriptions`, absent unless expanded).
 */
export function expandableFields(typeName: string): string[] {
  const cached = expandableCache.get(typeName);
  if (cached) return cached;
  const { checker } = stripeDeclarations();
  const out: string[] = [];
  const isStripeObject = (t: ts.Type) => !!t.getProperty('object') && (t.flags & ts.TypeFlags.Object) !== 0;
  const walk = (type: ts.Type, prefix: string, depth: number) => {
    for (const prop of checker.getPropertiesOfType(type)) {
      const path = `${prefix}${prop.name}`;
      const optional = (prop.flags & ts.SymbolFlags.Optional) !== 0;
      let t = checker.getNonNullableType(checker.getTypeOfSymbol(prop));
      if (checker.isArrayType(t)) t = checker.getNonNullableType(checker.getTypeArguments(t as ts.TypeReference)[0] ?? t);
      const members = t.isUnion() ? t.types : [t];
      const hasString = members.some((m) => (m.flags & ts.TypeFlags.String) !== 0);
      const objects = members.filter((m) => (m.flags & ts.TypeFlags.Object) !== 0);
      if (objects.length > 0 && objects.some(isStripeObject) && (hasString || optional)) out.push(path);
      else if (depth < 4 && objects.length === 1 && !isStripeObject(objects[0]) && !checker.isArrayType(objects[0])
        && checker.getIndexInfosOfType(objects[0]).length === 0) walk(objects[0], `${path}.`, depth + 1);
    }
  };
  walk(stripeType(typeName), '', 0);
  expandableCache.set(typeName, out);
  return out;
}
