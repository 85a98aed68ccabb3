/**
 * `oncepay/testing` as a team's suite uses it: startOncepay() in this process and in a child
 * process (a fresh account's key and a ready client, more accounts on demand, stop() frees the
 * port and ends the child); the two examples in examples/testing/ run as their users run them
 * (`node --test`, `npx vitest run`), pass, and fail when their expectation is wrong; and the
 * package installed from its tarball into another project works there, with the project's own
 * `stripe` and no tsx of its own.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startOncepay } from '../../testing/index.js';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

/** Runs a command to its end; never throws on a non-zero exit. */
function run(cmd: string, args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): Promise<{ code: number | null; output: string }> {
  return new Promise((resolvePromise, reject) => {
    // Without NODE_TEST_CONTEXT: a `node --test` started from a test file would skip its files.
    const { NODE_TEST_CONTEXT: _, ...env } = process.env;
    const child = spawn(cmd, args, { cwd: opts.cwd ?? ROOT, env: { ...env, NO_COLOR: '1', ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c) => { output += c; });
    child.stderr.on('data', (c) => { output += c; });
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, output }));
  });
}

const refused = async (url: string) => {
  try {
    await fetch(`${url}/healthz`);
    return false;
  } catch {
    return true;
  }
};

for (const mode of ['same', 'child'] as const) {
  describe(`startOncepay({ process: '${mode}' })`, () => {
    test('a fresh account\'s key and client, another account on demand, stop() frees the port', async () => {
      const oncepay = await startOncepay({ process: mode });
      try {
        assert.match(oncepay.url, /^http:\/\/127\.0\.0\.1:\d+$/);
        assert.equal(oncepay.url, `http://127.0.0.1:${oncepay.port}`);
        assert.notEqual(oncepay.port, 4242);
        assert.match(oncepay.key, /^sk_test_/);
        assert.match(oncepay.accountId, /^acct_/);
        const customer = await oncepay.stripe.customers.create({ email: 'ada@example.com' });
        const intent = await oncepay.stripe.paymentIntents.create({
          amount: 2000, currency: 'usd', customer: customer.id, payment_method: 'pm_card_visa', confirm: true,
        });
        assert.equal(intent.status, 'succeeded');
        // The key works over plain HTTP too.
        const raw = await fetch(`${oncepay.url}/v1/customers/${customer.id}`, { headers: { authorization: `Bearer ${oncepay.key}` } });
        assert.equal(raw.status, 200);

        const other = await oncepay.newAccount();
        assert.notEqual(other.key, oncepay.key);
        assert.notEqual(other.accountId, oncepay.accountId);
        assert.deepEqual((await other.stripe.customers.list()).data, []);
        await assert.rejects(other.stripe.customers.retrieve(customer.id), { statusCode: 404 });
      } finally {
        await oncepay.stop();
      }
      assert.ok(await refused(oncepay.url), 'the server still answers after stop()');
      await oncepay.stop(); // twice is fine
      await assert.rejects(oncepay.newAccount());
    });
  });
}

test('two servers at once, each on its own port; a port that is taken is a clear error', async () => {
  const [a, b] = await Promise.all([startOncepay(), startOncepay({ process: 'child' })]);
  try {
    assert.notEqual(a.port, b.port);
    await assert.rejects(startOncepay({ port: a.port }), /cannot listen on 127\.0\.0\.1:\d+/);
    await assert.rejects(startOncepay({ port: b.port, process: 'child' }), /cannot listen on 127\.0\.0\.1:\d+/);
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
});

test('a child-process server ends when the test process that started it is killed', async () => {
  const entry = new URL('../../testing/index.js', import.meta.url).href;
  const script = `const { startOncepay } = await import(${JSON.stringify(entry)});
    const o = await startOncepay({ process: 'child' });
    console.log(o.url);
    setInterval(() => {}, 1000);`;
  const { NODE_TEST_CONTEXT: _, ...env } = process.env;
  const parent = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolveUrl, reject) => {
    let out = '';
    parent.stdout.on('data', (c) => { out += c; if (out.includes('\n')) resolveUrl(out.trim()); });
    parent.on('exit', (code) => reject(new Error(`the parent exited first (${code})`)));
  });
  assert.equal((await fetch(`${url}/healthz`)).status, 200);
  parent.kill('SIGKILL');
  // The child notices its IPC channel close and stops: poll until its port refuses (a deadline, not a speed check).
  for (let i = 0; i < 300 && !(await refused(url)); i++) await new Promise((r) => setTimeout(r, 100));
  assert.ok(await refused(url), 'the child server outlived its parent by 30 s');
});

test('databaseUrl: a PostgreSQL database instead of memory, a fresh account on it', { skip: !process.env.DATABASE_URL && 'DATABASE_URL is not set' }, async () => {
  const oncepay = await startOncepay({ databaseUrl: process.env.DATABASE_URL, process: 'child' });
  let customerId: string;
  try {
    customerId = (await oncepay.stripe.customers.create({ email: 'pg@example.com' })).id;
    assert.deepEqual((await oncepay.stripe.customers.list()).data.map((c) => c.id), [customerId]);
  } finally {
    await oncepay.stop();
  }
  // Kept in that database: a second server on it knows the first account's key and customer.
  const again = await startOncepay({ databaseUrl: process.env.DATABASE_URL });
  try {
    const found = await fetch(`${again.url}/v1/customers/${customerId}`, { headers: { authorization: `Bearer ${oncepay.key}` } });
    assert.equal(found.status, 200);
    assert.deepEqual((await again.stripe.customers.list()).data, []);
  } finally {
    await again.stop();
  }
});

test('bad options are refused by name', async () => {
  await assert.rejects(startOncepay({ process: 'thread' as never }), /process must be 'same' or 'child'/);
  await assert.rejects(startOncepay({ port: 70000 }), /port must be a whole number from 0 to 65535/);
  await assert.rejects(startOncepay({ env: { ONCEPAY_RATE_LIMIT: 'lots' } }), /ONCEPAY_RATE_LIMIT/);
});

describe('the examples', () => {
  test('node:test: examples/testing/node-test.test.mjs passes, and fails when it expects the wrong status', async () => {
    const args = ['--test', 'examples/testing/node-test.test.mjs'];
    const ok = await run(process.execPath, args);
    assert.equal(ok.code, 0, ok.output);
    assert.match(ok.output, /^# pass 2$/m);
    const wrong = await run(process.execPath, args, { env: { EXPECTED_STATUS: 'requires_payment_method' } });
    assert.notEqual(wrong.code, 0, wrong.output);
    assert.match(wrong.output, /^# fail 1$/m);
    assert.match(wrong.output, /requires_payment_method/);
  });

  test('vitest: examples/testing/vitest passes, and fails when it expects the wrong status', async () => {
    const vitest = join(ROOT, 'node_modules', 'vitest', 'vitest.mjs');
    const args = [vitest, 'run', '--root', 'examples/testing/vitest'];
    const ok = await run(process.execPath, args);
    assert.equal(ok.code, 0, ok.output);
    assert.match(ok.output, /Tests\s+2 passed/);
    const wrong = await run(process.execPath, args, { env: { EXPECTED_STATUS: 'requires_payment_method' } });
    assert.equal(wrong.code, 1, wrong.output);
    assert.match(wrong.output, /1 failed/);
  });
});

test('installed from its tarball into another project (plain node --test, the project\'s own stripe, no tsx of its own)', { timeout: 300_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'oncepay-consumer-'));
  try {
    const packed = await promisify(execFile)('npm', ['pack', '--silent', '--pack-destination', dir], { cwd: ROOT, maxBuffer: 1 << 24 });
    const tarball = packed.stdout.trim().split('\n').pop()!;
    const stripeVersion = JSON.parse(readFileSync(join(ROOT, 'node_modules', 'stripe', 'package.json'), 'utf8')).version as string;
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    const install = await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', `./${tarball}`, `stripe@${stripeVersion}`], { cwd: dir });
    assert.equal(install.code, 0, install.output);
    assert.doesNotMatch(install.output, /EBADENGINE.*(vitest|vite)/);
    assert.deepEqual(readdirSync(join(dir, 'node_modules', 'oncepay', 'testing')).sort(), ['child.js', 'index.d.ts', 'index.js']);
    cpSync(join(ROOT, 'examples', 'testing', 'node-test.test.mjs'), join(dir, 'payments.test.mjs'));
    const ok = await run(process.execPath, ['--test', 'payments.test.mjs'], { cwd: dir });
    assert.equal(ok.code, 0, ok.output);
    assert.match(ok.output, /^# pass 2$/m);
    // Nothing written beside the project: the server kept its data in memory.
    assert.deepEqual(readdirSync(dir).filter((f) => !['node_modules', 'package.json', 'package-lock.json', 'payments.test.mjs', tarball].includes(f)), []);

    // A TypeScript project type-checks its use with its own settings (the declarations stand alone).
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: true, types: [] },
      files: ['typed.ts'],
    }));
    writeFileSync(join(dir, 'typed.ts'), [
      "import { startOncepay, type RunningOncepay } from 'oncepay/testing';",
      "const oncepay: RunningOncepay = await startOncepay({ process: 'child', port: 0, logLevel: 'silent' });",
      "const customer = await oncepay.stripe.customers.create({ email: 'ada@example.com' });",
      'const id: string = customer.id;',
      'export { id };',
    ].join('\n'));
    const typed = await run(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], { cwd: dir });
    assert.equal(typed.code, 0, typed.output);
    writeFileSync(join(dir, 'typed.ts'), "import { startOncepay } from 'oncepay/testing';\nawait startOncepay({ port: 'any' });\nexport {};\n");
    const mistyped = await run(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], { cwd: dir });
    assert.notEqual(mistyped.code, 0, 'a wrong option type passes the type check');
    assert.match(mistyped.output, /typed\.ts\(2,22\): error TS2322/);

    // Without the stripe package: a clear error saying what to install.
    renameSync(join(dir, 'node_modules', 'stripe'), join(dir, 'node_modules', 'stripe.off'));
    const script = "import { startOncepay } from 'oncepay/testing'; await startOncepay();";
    const missing = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: dir });
    assert.notEqual(missing.code, 0);
    assert.match(missing.output, /startOncepay needs the official 'stripe' package for its client: install it \(npm install --save-dev stripe\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
