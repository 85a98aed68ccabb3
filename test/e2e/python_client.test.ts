/**
 * The second official SDK: Stripe's Python client (Debian's python3-stripe 5.0.0, for
 * /usr/bin/python3) runs test/python/test_main_flows.py against a test server: customers,
 * payment intents confirmed with Python's True, manual capture, refunds, auto-paginated lists,
 * customer search (paged, and a query that does not parse), idempotent retries and mismatches,
 * webhook signatures, an invoice and a subscription.
 *
 * Without python3-stripe the test is skipped with a diagnostic, except in CI (CI set), where it
 * fails: .ci/run installs it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { useTestServer } from '../helpers/server.ts';
import { STORE } from '../helpers/store.ts';

const PYTHON = '/usr/bin/python3';
const TESTS_DIR = fileURLToPath(new URL('../python/', import.meta.url));

function pythonStripe(): { ok: true; version: string } | { ok: false; why: string } {
  const probe = spawnSync(PYTHON, ['-c', 'import stripe.version; print(stripe.version.VERSION)'], { encoding: 'utf8' });
  if (probe.error) return { ok: false, why: `${PYTHON} cannot run: ${probe.error.message}` };
  if (probe.status !== 0) return { ok: false, why: `python3-stripe is not importable by ${PYTHON}: ${probe.stderr.trim().split('\n').pop()}` };
  return { ok: true, version: probe.stdout.trim() };
}

const available = pythonStripe();
const skip = !available.ok && !process.env.CI ? `skipped: ${available.why} (apt-get install python3-stripe)` : false;

const { server } = useTestServer();

test(`the official Python client's main flows (${STORE})`, { skip }, async (t) => {
  assert.ok(available.ok, `CI must run the Python client test: ${available.ok ? '' : available.why}`);
  const env = { ...process.env, ONCEPAY_API_BASE: server.url, ONCEPAY_KEY: server.key, PYTHONDONTWRITEBYTECODE: '1' };
  const child = spawn(PYTHON, ['-m', 'unittest', '-v', 'test_main_flows'], { cwd: TESTS_DIR, env });
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(code, 0, `python3-stripe ${available.version}: the Python tests failed:\n${output}`);
  const ran = /Ran (\d+) tests?/.exec(output);
  assert.ok(ran && Number(ran[1]) >= 10, `expected the Python tests to run:\n${output}`);
  assert.doesNotMatch(output, /skipped/);
  t.diagnostic(`python3-stripe ${available.version}: ${ran[0]}, OK`);
});
