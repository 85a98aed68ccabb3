/**
 * testing/index.d.ts (the types a TypeScript project sees for `oncepay/testing`) states the same
 * types as the implementation in src/testing.ts: checked by the compiler in both directions
 * (`npm run typecheck`, which .ci/run runs); the test below makes the file a test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type * as Declared from '../../testing/index.js';
import * as implemented from '../../src/testing.ts';

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const checks: [
  Same<Declared.StartOncepayOptions, implemented.StartOncepayOptions>,
  Same<Declared.OncepayAccount, implemented.OncepayAccount>,
  Same<Declared.RunningOncepay, implemented.RunningOncepay>,
  Same<typeof Declared.startOncepay, typeof implemented.startOncepay>,
] = [true, true, true, true];

test('the declared types of oncepay/testing are the implementation\'s', () => {
  assert.deepEqual(checks, [true, true, true, true]);
  assert.equal(typeof implemented.startOncepay, 'function');
});
