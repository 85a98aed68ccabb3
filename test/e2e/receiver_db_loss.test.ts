/**
 * The webhook receiver helper when PostgreSQL ends its connection mid-transaction (a restart, a
 * failover, an admin's pg_terminate_backend): the delivery fails (runOnce rejects, nothing is
 * recorded), the host process lives on, and the next delivery succeeds.
 *
 * The receiver runs in a real child process (test/fixtures/receiver_db_loss_child.ts), so that
 * the process dying is observable. Instead of restarting the PostgreSQL server that other test
 * files share, the test terminates the child's backend: that sends the same FATAL 57P01
 * admin_shutdown a restart sends, and closes the connection.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { ChildCommand, ChildMessage } from '../fixtures/receiver_db_loss_child.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CHILD = fileURLToPath(new URL('../fixtures/receiver_db_loss_child.ts', import.meta.url));
const HOLD_MS = 4000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The child, its stdout as a queue of messages, and a way to wait for the next one. */
function startChild(env: Record<string, string>) {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', CHILD], {
    cwd: ROOT, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })));
  const queue: ChildMessage[] = [];
  let wake: (() => void) | undefined;
  createInterface({ input: child.stdout! }).on('line', (line) => {
    queue.push(JSON.parse(line) as ChildMessage);
    wake?.();
  });
  const alive = () => child.exitCode === null && child.signalCode === null;
  const describeExit = () => `child exited (code ${child.exitCode}, signal ${child.signalCode}); stderr:\n${stderr.slice(-3000)}`;

  /** The next message of this type (pool-error reports are kept aside); fails if the child dies first. */
  async function next<K extends ChildMessage['type']>(type: K, timeoutMs = 30_000): Promise<Extract<ChildMessage, { type: K }>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = queue.findIndex((m) => m.type === type);
      if (i >= 0) return queue.splice(i, 1)[0] as Extract<ChildMessage, { type: K }>;
      if (!alive()) assert.fail(`waiting for "${type}": ${describeExit()}`);
      if (Date.now() > deadline) assert.fail(`no "${type}" from the child within ${timeoutMs} ms; stderr:\n${stderr}`);
      await Promise.race([new Promise<void>((r) => { wake = r; }), exited, sleep(200)]);
    }
  }
  const send = (cmd: ChildCommand) => child.stdin!.write(JSON.stringify(cmd) + '\n');
  return { child, exited, next, send, alive, describeExit };
}

test('a lost database connection fails the delivery, not the receiver\'s process; the next delivery succeeds',
  { skip: !process.env.DATABASE_URL && 'needs PostgreSQL (DATABASE_URL)', timeout: 90_000 }, async () => {
    const suffix = `${process.pid}_${randomBytes(4).toString('hex')}`;
    const table = `processed_events_${suffix}`;
    const appName = `oncepay_receiver_db_loss_${suffix}`;
    const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await admin.connect();
    const recorded = async (id: string) =>
      Number((await admin.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE event_id = $1`, [id])).rows[0].n);
    const terminate = async () =>
      (await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [appName])).rowCount ?? 0;

    const c = startChild({ RECEIVER_TABLE: table, RECEIVER_APP_NAME: appName });
    try {
      await c.next('ready', 60_000); // tsx's first start on a busy 2-core machine takes a while

      for (const hold of ['idle', 'query'] as const) {
        const id = `evt_${randomBytes(12).toString('hex')}`;
        const label = hold === 'idle' ? 'between queries' : 'inside a query';

        // The handler holds its transaction open; its backend is terminated meanwhile.
        c.send({ op: 'run', id, hold, ms: HOLD_MS });
        const inTx = await c.next('in-transaction');
        const started = Date.now();
        await sleep(300);
        const [{ application_name: owner }] = (await admin.query<{ application_name: string }>(
          'SELECT application_name FROM pg_stat_activity WHERE pid = $1', [inTx.pid])).rows;
        assert.equal(owner, appName, 'the handler\'s backend is the one terminated by application_name');
        assert.ok((await terminate()) >= 1, 'the child\'s backend was terminated');

        const failed = await c.next('result');
        assert.equal(failed.id, id);
        assert.ok(!failed.ok, `${label}: runOnce must reject, it resolved ${JSON.stringify(failed)}`);
        assert.match(failed.message, /database connection was lost/i);
        assert.equal(failed.cause?.code, '57P01', `${label}: the cause is the server's admin_shutdown: ${JSON.stringify(failed.cause)}`);
        if (hold === 'idle') assert.ok(Date.now() - started >= HOLD_MS - 1000, 'the result came after the handler\'s time');
        await sleep(200);
        assert.ok(c.alive(), `${label}: the receiver's process must survive: ${c.describeExit()}`);
        assert.equal(await recorded(id), 0, `${label}: the failed delivery is not recorded`);

        // The redelivery, in the same process: processed once, then a duplicate.
        c.send({ op: 'run', id, hold: 'none' });
        await c.next('in-transaction');
        const retried = await c.next('result');
        assert.deepEqual(retried, { type: 'result', id, ok: true, outcome: { processed: true, result: 'handled' } });
        c.send({ op: 'run', id, hold: 'none' });
        const again = await c.next('result');
        assert.deepEqual(again, { type: 'result', id, ok: true, outcome: { processed: false, reason: 'duplicate' } });
        assert.equal(await recorded(id), 1, `${label}: recorded exactly once`);
      }

      c.child.stdin!.end(); // the child ends its pool and exits
      await c.next('done');
      const exit = await Promise.race([c.exited, sleep(15_000).then(() => 'still running')]);
      assert.deepEqual(exit, { code: 0, signal: null }, c.describeExit());
    } finally {
      if (c.alive()) c.child.kill('SIGKILL');
      await admin.query(`DROP TABLE IF EXISTS ${table}`);
      await admin.end();
    }
  });
