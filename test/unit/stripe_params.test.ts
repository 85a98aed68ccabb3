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

const KNOWN_GAPS: Record<string, string[]> = {};

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
