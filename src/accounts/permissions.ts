/**
 * Restricted keys' permissions, as Stripe has them: per resource none, read or write (write
 * implies read). A route's resource is derived from its path — the first segment after /v1
 * (after /v1/test_helpers for test helpers), so nested routes belong to their parent
 * (/v1/invoices/:invoice/lines is invoices, /v1/customers/:customer/tax_ids is customers) — and
 * its access from the method: GET reads, everything else writes.
 */

export type Access = 'read' | 'write';
/** Resource name (as in the path: payment_intents, customers...) -> access. Absent: none. */
export type Permissions = Record<string, Access>;

/**
 * Resources whose permission also comes with another one, as Stripe groups them: its
 * "Charges" permission covers refunds (what Saleor's Stripe app relies on), "Balance" covers
 * balance transactions, "Invoices" covers invoice items and invoice payments.
 */
const COVERED_BY: Record<string, string> = {
  refunds: 'charges',
  balance_transactions: 'balance',
  invoiceitems: 'invoices',
  invoice_payments: 'invoices',
};

/** Routes no restricted or publishable key may call, whatever its permissions: secret keys only. */
const SECRET_ONLY = new Set(['reset']);

/** The resource of a route path (its pattern, e.g. /v1/payment_intents/:intent/confirm). */
export function resourceOfPath(path: string): string {
  const segments = path.split('?')[0].split('/').filter(Boolean);
  const rest = segments[0] === 'v1' ? segments.slice(1) : segments;
  const first = rest[0] === 'test_helpers' && rest.length > 1 ? rest[1] : rest[0];
  return first ?? '';
}

export const accessOfMethod = (method: string): Access => (method === 'GET' || method === 'HEAD' ? 'read' : 'write');

/** Whether a restricted key with `permissions` may make this request. */
export function permits(permissions: Permissions, resource: string, access: Access): boolean {
  if (SECRET_ONLY.has(resource)) return false;
  const grants = (r: string | undefined) => r !== undefined && (permissions[r] === 'write' || (access === 'read' && permissions[r] === 'read'));
  return grants(resource) || grants(COVERED_BY[resource]);
}

/** Whether a route can be granted to a restricted key at all. */
export const grantable = (resource: string) => !SECRET_ONLY.has(resource);

/** Stripe's name for a permission: rak_<singular resource>_<read|write> (rak_payment_intent_write). */
export function permissionName(resource: string, access: Access): string {
  const singular = resource.endsWith('s') ? resource.slice(0, -1) : resource;
  return `rak_${singular}_${access}`;
}

/**
 * Parses `--permission` values (`customers=read`, `payment_intents=write`, `refunds=none`)
 * against the resources the routes have; throws naming the bad value.
 */
export function parsePermissions(values: readonly string[], known: ReadonlySet<string>): Permissions {
  const out: Permissions = {};
  for (const value of values) {
    const m = /^\s*([a-z_]+)\s*=\s*(none|read|write)\s*$/.exec(value);
    if (!m) throw new Error(`--permission: expected <resource>=none|read|write (for example customers=read), got "${value}"`);
    const [, resource, level] = m;
    if (!known.has(resource) || !grantable(resource)) {
      throw new Error(`--permission: unknown resource "${resource}"; known: ${[...known].filter(grantable).sort().join(', ')}`);
    }
    if (level === 'none') delete out[resource];
    else out[resource] = level as Access;
  }
  return out;
}

/** `customers=read payment_intents=write`, for listings. */
export const describePermissions = (p: Permissions | null | undefined) =>
  Object.entries(p ?? {}).sort(([a], [b]) => a.localeCompare(b)).map(([r, a]) => `${r}=${a}`).join(' ') || 'none';
