/**
 * The parameter audit (test/helpers/stripe_params.ts): every documented parameter of every Stripe
 * operation Oncepay implements is accepted, or accepted and refused with a reason
 * (`unsupported()` in src/schema/params.ts) — never missing (a client sending it would get
 * `parameter_unknown`).
 *
 * KNOWN_GAPS lists the parameters still missing when the audit was written. It only shrinks: fix
 * a gap (accept the parameter, or refuse it with `unsupported(reason)`) and delete its line here;
 * the test fails on a listed gap that is no longer one, so the list cannot go stale. Done is empty.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverRoutesDocument } from '../helpers/conformance.ts';
import { auditParams } from '../helpers/stripe_params.ts';

const KNOWN_GAPS: Record<string, string[]> = {
  'POST /v1/products': ['default_price_data[currency_options]', 'default_price_data[custom_unit_amount]',
    'marketing_features', 'package_dimensions', 'tax_code', 'tax_details', 'type'],
  'GET /v1/products': ['type'],
  'POST /v1/products/{id}': ['marketing_features', 'package_dimensions', 'tax_code', 'tax_details'],
  'POST /v1/prices': ['currency_options', 'custom_unit_amount', 'product_data[tax_code]',
    'product_data[tax_details]', 'recurring[meter]', 'recurring[trial_period_days]', 'tiers', 'tiers_mode',
    'transform_quantity'],
  'GET /v1/prices': ['recurring[meter]'],
  'POST /v1/prices/{price}': ['currency_options'],
  'POST /v1/test_helpers/test_clocks': ['customer'],
  'POST /v1/subscriptions': ['add_invoice_items', 'application_fee_percent', 'automatic_tax', 'backdate_start_date',
    'billing_cycle_anchor', 'billing_cycle_anchor_config', 'billing_mode', 'billing_schedules', 'billing_thresholds',
    'cancel_at', 'currency', 'customer_account', 'default_source', 'default_tax_rates', 'discounts',
    'invoice_settings', 'items[billing_thresholds]', 'items[current_trial]', 'items[discounts]', 'items[plan]',
    'items[price_data]', 'items[tax_rates]', 'off_session', 'on_behalf_of', 'payment_settings',
    'pending_invoice_item_interval', 'transfer_data', 'trial_end', 'trial_from_plan', 'trial_period_days',
    'trial_settings'],
  'GET /v1/subscriptions': ['automatic_tax', 'collection_method', 'current_period_end', 'current_period_start',
    'customer_account', 'plan', 'price'],
  'POST /v1/subscriptions/{subscription}': ['add_invoice_items', 'application_fee_percent', 'automatic_tax',
    'billing_cycle_anchor', 'billing_schedules', 'billing_thresholds', 'cancel_at', 'cancellation_details',
    'collection_method', 'days_until_due', 'default_source', 'default_tax_rates', 'discounts', 'invoice_settings',
    'items[billing_thresholds]', 'items[clear_usage]', 'items[current_trial]', 'items[deleted]', 'items[discounts]',
    'items[plan]', 'items[price]', 'items[price_data]', 'items[tax_rates]', 'off_session', 'on_behalf_of',
    'pause_collection', 'payment_behavior', 'payment_settings', 'pending_invoice_item_interval', 'proration_date',
    'transfer_data', 'trial_end', 'trial_from_plan', 'trial_settings'],
  'DELETE /v1/subscriptions/{subscription}': ['cancellation_details'],
  'GET /v1/events': ['delivery_success'],
  'POST /v1/webhook_endpoints': ['connect'],
};

const audit = auditParams(serverRoutesDocument());

test('counts', () => {
  const ops = audit.operations;
  const count = (f: (o: (typeof ops)[number]) => unknown[]) => ops.reduce((n, o) => n + f(o).length, 0);
  const line = `${ops.length} operations compared (${audit.oncepayOnly.length} Oncepay-only skipped); `
    + `${count((o) => o.stripeParams)} Stripe parameters: ${count((o) => o.accepted)} accepted, `
    + `${count((o) => o.refused)} refused with a reason, ${count((o) => o.missing)} missing`;
  console.log(`parameter audit: ${line}`);
  assert.ok(ops.length > 30, line);
});

test('no documented Stripe parameter is missing, except the declared known gaps', () => {
  const unexpected = audit.operations.flatMap((o) => o.missing.filter((p) => !KNOWN_GAPS[o.operation]?.includes(p)).map((p) => `${o.operation} ${p}`));
  assert.deepEqual(unexpected, [], `documented Stripe parameters missing from Oncepay's operations (accept them, or refuse them with unsupported(reason)):\n${unexpected.join('\n')}`);
});

test('every known gap is still a gap (delete the line once it is fixed)', () => {
  const byOp = new Map(audit.operations.map((o) => [o.operation, o]));
  const stale = Object.entries(KNOWN_GAPS).flatMap(([op, params]) =>
    params.filter((p) => !byOp.get(op)?.missing.includes(p)).map((p) => `${op} ${p}`));
  assert.deepEqual(stale, [], `no longer gaps, remove them from KNOWN_GAPS:\n${stale.join('\n')}`);
});

test('every refusal gives its reason', () => {
  for (const o of audit.operations) for (const r of o.refused) assert.ok(r.reason.length > 10, `${o.operation} ${r.param}: '${r.reason}'`);
});
