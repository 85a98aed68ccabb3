/**
 * A run whose key was taken over while it was stalled (a paused process, presumed dead) and
 * that then fails in a phase before reaching its key-row guard — here on a unique index the
 * taker's committed phase already filled — stops as a lost lock (409 for its client), not as
 * an unexpected 500. Found by the fault campaign: a refund's record phase, resumed after a
 * SIGSTOP past the lock timeout, hit balance_transactions_source and answered 500.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { useTestServer } from '../helpers/server.ts';
import { LockLost, type Command } from '../../src/idempotency/engine.ts';

const table = `takeover_probe_${randomBytes(4).toString('hex')}`;
const { server } = useTestServer({
  setup: (s) => s.oncepay.db.exec(`CREATE TABLE ${table} (account_id text NOT NULL, k text NOT NULL, PRIMARY KEY (account_id, k))`),
});

test('a stalled run whose key was taken over fails its late phase as LockLost, and wrote nothing', async () => {
  let release!: () => void;
  const stalled = new Promise<void>((ok) => { release = ok; });
  let stall = true;
  const command: Command<{ n: string }> = {
    name: `test.takeover_${table}`,
    async run(ctx, p) {
      await ctx.atomic('begin', async () => 1);
      // The first run stalls between its phases; whoever takes the key over does not.
      await ctx.foreign('outside', async () => { if (stall) { stall = false; await stalled; } return 1; });
      return ctx.finish('record', async (q) => {
        q.write(`INSERT INTO ${table} (account_id, k) VALUES ($1, $2)`, [ctx.accountId, p.n]);
        return { status: 200, body: { recorded: p.n } };
      });
    },
  };
  const { engine, db } = server.oncepay;
  engine.register(command);
  const input = { accountId: server.accountId, requestId: 'req_takeover_1', key: `takeover-${table}`, method: 'POST', path: '/v1/test', command, params: { n: 'one' } };

  const first = engine.execute(input);
  await new Promise((r) => setTimeout(r, 100)); // the first run is waiting in its foreign step
  // Presume it dead: age its lock as a stopped heartbeat would, then take the key over.
  await db.query('UPDATE idempotency_keys SET locked_at = now() - interval \'1 hour\' WHERE account_id = $1 AND key = $2', [input.accountId, input.key]);
  const taken = await engine.execute({ ...input, requestId: 'req_takeover_2' });
  assert.equal(taken.status, 200);
  assert.equal(taken.outcome, 'executed');

  release();
  await assert.rejects(first, (err: unknown) => err instanceof LockLost, 'the stalled run stops as a lost lock');
  const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE account_id = $1`, [input.accountId]);
  assert.equal(rows[0].n, 1, 'one row: the taker\'s');
  const replay = await engine.execute({ ...input, requestId: 'req_takeover_3' });
  assert.deepEqual([replay.outcome, JSON.parse(replay.body)], ['replayed', { recorded: 'one' }]);
  await db.exec(`DROP TABLE ${table}`);
});
