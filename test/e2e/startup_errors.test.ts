/**
 * Start-up errors as a new user meets them: the real `oncepay serve` (test/helpers/cli.ts, a clean
 * environment) given one bad setting at a time. Each exits 1 with one line naming the setting and
 * what was expected, no stack trace; a start that fails creates nothing; a signal during
 * start-up stops the process.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { killAllClis, runCli, show, startCli, type CliResult } from '../helpers/cli.ts';
import { createPrivateSchema, dropPrivateSchemas, freePort, usingPostgres } from '../helpers/processes.ts';
import { embeddedEnv } from '../helpers/store.ts';

const tmp = mkdtempSync(join(tmpdir(), 'oncepay-startup-'));
const schemas: string[] = [];
const servers: Server[] = [];
after(async () => {
  await killAllClis();
  for (const s of servers) s.close();
  await dropPrivateSchemas(schemas);
  rmSync(tmp, { recursive: true, force: true });
});

/** A data directory path of its own (not created). */
let dirs = 0;
const dataDir = () => join(tmp, `data-${++dirs}`);

const serve = (env: Record<string, string>) =>
  runCli(['serve'], { ...embeddedEnv(), ONCEPAY_DATA_DIR: dataDir(), PORT: '0', ONCEPAY_LOG_LEVEL: 'warn', ...env }, 60_000);

/** Exit 1, one line `oncepay serve: <message>` matching `re`, no stack trace, nothing on stdout. */
function assertRefused(r: CliResult, re: RegExp): void {
  assert.equal(r.code, 1, show(r));
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line expected:\n${show(r)}`);
  assert.match(lines[0], /^oncepay serve: /, show(r));
  assert.match(lines[0], re, show(r));
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  assert.doesNotMatch(r.stdout, /listening/, show(r));
}

/** A TCP server that accepts connections and never answers (a PostgreSQL that hangs). */
async function silentServer(): Promise<{ port: number; accepted: Promise<void> }> {
  let onAccept!: () => void;
  const accepted = new Promise<void>((r) => { onAccept = r; });
  const sockets: Socket[] = [];
  const server = createServer((s) => { sockets.push(s); onAccept(); });
  server.on('close', () => sockets.forEach((s) => s.destroy()));
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as { port: number }).port, accepted };
}

describe('oncepay serve start-up errors', { concurrency: 4 }, () => {
  test('DATABASE_URL=not-a-url names DATABASE_URL and shows the URL expected', async () => {
    assertRefused(await serve({ DATABASE_URL: 'not-a-url' }), /DATABASE_URL: expected a PostgreSQL URL such as postgres:\/\/.*got "not-a-url"/);
  });

  test('DATABASE_URL=mysql://… is refused (PostgreSQL only), without echoing its password', async () => {
    const r = await serve({ DATABASE_URL: 'mysql://root:hunter2secret@127.0.0.1:3306/shop' });
    assertRefused(r, /DATABASE_URL: .*PostgreSQL only: expected a postgres:\/\/ or postgresql:\/\/ URL.*got a mysql:\/\/ URL/);
    assert.doesNotMatch(r.stderr, /hunter2secret/);
  });

  test('an unreachable PostgreSQL names DATABASE_URL and its host:port', async () => {
    const port = await freePort(); // nothing listens there
    const r = await serve({ DATABASE_URL: `postgres://oncepay:pw@127.0.0.1:${port}/oncepay` });
    assertRefused(r, new RegExp(`DATABASE_URL: cannot reach PostgreSQL at 127\\.0\\.0\\.1:${port}: connection refused`));
  });

  test('a PostgreSQL that never answers is named after the connect timeout', async () => {
    const { port } = await silentServer();
    const r = await serve({ DATABASE_URL: `postgres://oncepay:pw@127.0.0.1:${port}/oncepay` });
    assertRefused(r, new RegExp(`DATABASE_URL: cannot reach PostgreSQL at 127\\.0\\.0\\.1:${port}: no answer within 5 s`));
  });

  test('ONCEPAY_LOG_LEVEL=loud lists the valid levels', async () => {
    assertRefused(await serve({ ONCEPAY_LOG_LEVEL: 'loud' }), /ONCEPAY_LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace, silent, got "loud"/);
  });

  test('PORT=abc and PORT=99999 name PORT and its range', async () => {
    for (const port of ['abc', '99999']) {
      assertRefused(await serve({ PORT: port }), new RegExp(`PORT: expected a port number from 0 to 65535, got "${port}"`));
    }
  });

  test('a bad key in a comma-separated ONCEPAY_SECRET_KEY is named by its position, never printed whole', async () => {
    const bad = 'sk_live_thisIsARealLookingSecret123';
    const r = await serve({ ONCEPAY_SECRET_KEY: `sk_test_goodkey12345,${bad},sk_test_another12345` });
    assertRefused(r, new RegExp(`ONCEPAY_SECRET_KEY: key 2 of 3 \\("sk_live_\\.\\.\\.", ${bad.length} characters\\) does not look like sk_test_`));
    assert.doesNotMatch(r.stderr, /thisIsARealLookingSecret/);
  });

  test('an unwritable data directory (a path under a regular file: fails for root too) is a clear error', async () => {
    const file = join(tmp, 'a-file');
    writeFileSync(file, 'not a directory');
    const r = await serve({ ONCEPAY_DATA_DIR: join(file, 'data') });
    assertRefused(r, new RegExp(`ONCEPAY_DATA_DIR: cannot create the data directory ${file}/data: ${file} is a file, not a directory`));
  });

  test('a data directory this user may not write (not root: root may write anywhere)', { skip: process.getuid?.() === 0 && 'running as root' }, async () => {
    const dir = join(tmp, 'read-only');
    rmSync(dir, { recursive: true, force: true });
    (await import('node:fs')).mkdirSync(dir, { mode: 0o500 });
    assertRefused(await serve({ ONCEPAY_DATA_DIR: dir }), /ONCEPAY_DATA_DIR: cannot write in the data directory .*permission denied/);
  });

  test('a busy port fails naming PORT, HOST and the address, and creates nothing', async () => {
    const holder = createServer();
    servers.push(holder);
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
    const port = (holder.address() as { port: number }).port;
    const dir = dataDir();
    let env: Record<string, string> = { ONCEPAY_DATA_DIR: dir, PORT: String(port), HOST: '127.0.0.1' };
    let schema: string | undefined;
    if (usingPostgres()) {
      const s = await createPrivateSchema('startup');
      schemas.push(s.schema);
      schema = s.schema;
      env = { ...env, DATABASE_URL: s.url };
    }
    const r = await serve(env);
    assertRefused(r, new RegExp(`PORT: 127\\.0\\.0\\.1:${port} is already in use by another process: stop it, or choose another PORT \\(or HOST\\)`));
    assert.ok(!existsSync(dir), `the data directory was left alone: ${existsSync(dir) ? readdirSync(dir).join(', ') : ''}`);
    if (schema) {
      const client = new pg.Client({ connectionString: process.env.DATABASE_URL });
      await client.connect();
      try {
        const { rows } = await client.query('SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = $1', [schema]);
        assert.equal(rows[0].n, 0, 'no table (so no account) was created in PostgreSQL');
      } finally {
        await client.end();
      }
    }
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    test(`${signal} during start-up stops the process`, async () => {
      // Start-up waits on a PostgreSQL that accepted the connection and never answers.
      const { port, accepted } = await silentServer();
      const p = startCli(['serve'], { PORT: '0', ONCEPAY_LOG_LEVEL: 'warn', DATABASE_URL: `postgres://oncepay:pw@127.0.0.1:${port}/oncepay` });
      await accepted;
      p.child.kill(signal);
      const r = await p.exited;
      assert.equal(r.code, signal === 'SIGTERM' ? 143 : 130, show(r));
      assert.match(r.stderr, new RegExp(`^oncepay serve: stopped by ${signal} during start-up\\n$`), show(r));
    });
  }
});
