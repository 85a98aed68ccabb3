/**
 * testing/index.d.ts (the types a TypeScript project sees for `oncepay/testing`, and the ones
 * src/testing.ts itself uses) declares the startOncepay that src/testing.ts implements: checked
 * by the compiler in both directions (`npm run typecheck`, which .ci/run runs); the test below
 * makes the file a test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type * as Declared from '../../testing/index.js';
import * as implemented from '../../src/testing.ts';

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const same: Same<typeof Declared.startOncepay, typeof implemented.startOncepay> = true;

test('the declared startOncepay is the implemented one', () => {
  assert.equal(same, true);
  assert.equal(typeof implemented.startOncepay, 'function');
});
