/**
 * The first key can be shown again: a first start without ONCEPAY_SECRET_KEY creates an account,
 * prints its key and keeps it in the data directory (first_key.json, mode 0600); `oncepay keys
 * first` prints it again, while the server runs and after it stopped; a second start creates no
 * second account. On PostgreSQL and in memory the command says plainly that nothing is kept.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killAllClis, runCli, show, startCli } from '../helpers/cli.ts';
import { embeddedEnv } from '../helpers/store.ts';

const tmp = mkdtempSync(join(tmpdir(), 'oncepay-first-key-'));
after(async () => {
  await killAllClis();
  rmSync(tmp, { recursive: true, force: true });
});

async function startServe(env: Record<string, string>) {
  const p = startCli(['serve'], { ...embeddedEnv(), PORT: '0', ONCEPAY_LOG_LEVEL: 'warn', ...env });
  const [, url] = await p.waitFor(/Oncepay listening on (http:\/\/\S+)/, { timeoutMs: 90_000 });
  return { p, url };
}

describe('oncepay keys first', { concurrency: 1 }, () => {
  test('prints the key the first start printed, while the server runs and after; the file is 0600', async () => {
    const dir = join(tmp, 'data');
    const { p, url } = await startServe({ ONCEPAY_DATA_DIR: dir });
    const [, key] = await p.waitFor(/Its secret key:\n\n {2}(sk_test_\w+)\n/);
    assert.match(p.stdout(), /`oncepay keys first` prints it again/);
    const file = join(dir, 'first_key.json');
    assert.equal(statSync(file).mode & 0o777, 0o600);

    const running = await runCli(['keys', 'first'], { ONCEPAY_DATA_DIR: dir });
    assert.equal(running.code, 0, show(running));
    assert.equal(running.stdout, `${key}\n`, 'the key alone on stdout');
    assert.match(running.stderr, /The first key of account acct_\w+, created \d{4}-/);
    const res = await fetch(`${url}/v1/customers`, { headers: { authorization: `Bearer ${running.stdout.trim()}` } });
    assert.equal(res.status, 200, 'the key printed again works');

    const stopped = await p.stop('SIGTERM');
    assert.equal(stopped.code, 0, show(stopped));
    const later = await runCli(['keys', 'first'], { ONCEPAY_DATA_DIR: dir });
    assert.equal(later.stdout, `${key}\n`, show(later));

    // A second start finds a key: no new account, nothing printed, the kept key unchanged.
    const again = await startServe({ ONCEPAY_DATA_DIR: dir });
    await again.p.stop('SIGTERM');
    assert.doesNotMatch(again.p.stdout(), /Created a test-mode account/);
    assert.equal((await runCli(['keys', 'first'], { ONCEPAY_DATA_DIR: dir })).stdout, `${key}\n`);
  });

  test('a directory no first start has used: a clear refusal', async () => {
    const r = await runCli(['keys', 'first'], { ONCEPAY_DATA_DIR: join(tmp, 'never-used') });
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, /^oncepay keys first: no first key in .*never-used\/first_key\.json \(ONCEPAY_DATA_DIR\)/);
  });

  test('with a configured ONCEPAY_SECRET_KEY, nothing is created or kept', async () => {
    const dir = join(tmp, 'configured');
    const { p } = await startServe({ ONCEPAY_DATA_DIR: dir, ONCEPAY_SECRET_KEY: 'sk_test_configured12345' });
    await p.stop('SIGTERM');
    assert.doesNotMatch(p.stdout(), /Created a test-mode account/);
    assert.equal((await runCli(['keys', 'first'], { ONCEPAY_DATA_DIR: dir })).code, 1);
  });

  test('on PostgreSQL and in memory it says the key is not kept', async () => {
    const pg = await runCli(['keys', 'first'], { DATABASE_URL: 'postgres://oncepay:pw@127.0.0.1:5432/oncepay' });
    assert.equal(pg.code, 1, show(pg));
    assert.match(pg.stderr, /DATABASE_URL is set: on PostgreSQL the first key is not kept anywhere/);
    const mem = await runCli(['keys', 'first'], { ONCEPAY_DATA_DIR: 'memory://' });
    assert.equal(mem.code, 1, show(mem));
    assert.match(mem.stderr, /in memory: an in-memory server's first key is only printed at its start/);
  });
});
