/**
 * The expansion registry against the stripe package: on every Stripe object type Oncepay
 * renders, every field the package's declarations mark expandable (or includable) is in the
 * registry (src/api/expansion.ts with billing's entries), so `expand[]` never refuses a path
 * Stripe accepts. The object types come from Oncepay's own schema names, matched by their
 * `object` string to the package's types; the expandable fields come from the declarations.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EXPANSIONS } from '../../src/api/expansion.ts';
import { SCHEMA_NAMES } from '../../src/api/openapi/schema_names.ts';
import { ONCEPAY_OBJECT_TYPES } from '../../src/schema/stripe_additions.ts';
import { expandableFields, objectTypeNames } from '../helpers/stripe_declarations.ts';

/** Schema names that are not the `object` string of what they describe. */
const OBJECT_OF_SCHEMA: Record<string, string> = { invoice_line_item: 'line_item', order_line_item: 'item' };

test('every field Stripe marks expandable on the objects Oncepay renders is in the expansion registry', () => {
  const types = objectTypeNames();
  const rendered = [...new Set(SCHEMA_NAMES.map((n) => OBJECT_OF_SCHEMA[n] ?? n))]
    .filter((o) => types.has(o) && types.get(o)!.types.length > 0 && !ONCEPAY_OBJECT_TYPES.includes(o));
  assert.ok(rendered.length >= 15, `only ${rendered.length} object types matched: ${rendered.join(', ')}`);
  const missing: string[] = [];
  let checked = 0;
  for (const object of rendered) {
    for (const typeName of types.get(object)!.types) {
      for (const field of expandableFields(typeName)) {
        checked++;
        if (!EXPANSIONS[object] || !(field in EXPANSIONS[object])) missing.push(`${object} (${typeName}): ${field}`);
      }
    }
  }
  assert.ok(checked > 100, `only ${checked} expandable fields checked`);
  assert.deepEqual(missing, [], `expandable in Stripe's types but not in the registry:\n${missing.join('\n')}`);
});
