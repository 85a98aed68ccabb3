/**
 * src/events/stripe_event_types.ts is Stripe's list of event types as the installed official
 * stripe package declares it (WebhookEndpointCreateParams.EnabledEvent): an upgrade of the
 * package that adds or drops a type fails here, naming it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { STRIPE_EVENT_TYPES } from '../../src/events/stripe_event_types.ts';
import { EVENT_TYPES, isEndpointEventType } from '../../src/events/types.ts';

function declaredEventTypes(): string[] {
  // The package's exports map hides its files from resolve(): read them from node_modules.
  const dts = readFileSync(fileURLToPath(new URL('../../node_modules/stripe/esm/resources/WebhookEndpoints.d.ts', import.meta.url)), 'utf8');
  const union = /type EnabledEvent = ([^;]+);/.exec(dts);
  assert.ok(union, 'WebhookEndpointCreateParams.EnabledEvent not found in the stripe package');
  return [...union[1].matchAll(/'([^']+)'/g)].map((m) => m[1]).filter((t) => t !== '*');
}

test('the list is the stripe package\'s, type for type', () => {
  const declared = declaredEventTypes();
  assert.ok(declared.length > 200, `only ${declared.length} types read`);
  assert.deepEqual([...STRIPE_EVENT_TYPES].sort(), [...declared].sort());
});

test('an endpoint may name every Stripe type and every type Oncepay emits, and nothing else', () => {
  for (const t of [...STRIPE_EVENT_TYPES, ...EVENT_TYPES]) assert.ok(isEndpointEventType(t), t);
  for (const t of ['charge.exploded', 'payment_intent.*', '', 'Customer.Created']) assert.equal(isEndpointEventType(t), false, t);
});
