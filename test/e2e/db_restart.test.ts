/**
 * The server survives its database connections being ended under load, as a PostgreSQL restart
 * ends them: the process lives on, requests caught in the cut answer 503 database_unavailable
 * (never 500), and their retries with the same key finish them exactly once. Before the fix a
 * pooled client checked out by a transaction had no 'error' listener, and the first connection
 * the database ended took the whole process down with an unhandled 'error' event (57P01).
 *
 * The connections are ended with pg_terminate_backend, which sends the same 57P01 error a
 * restart does, so the PostgreSQL that other test files share keeps running.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { cleanupServersAndStores, explain, newSecretKey, newStore, spawnServer, usingPostgres } from '../helpers/processes.ts';

after(cleanupServersAndStores);

test('connections ended under load: the server lives, cut requests answer 503 and their retries finish once', {
  timeout: 90_000, skip: !usingPostgres() && 'needs PostgreSQL (DATABASE_URL)',
}, async () => {
  const store = await newStore();
  const appName = `oncepay_cut_${process.pid}_${Date.now()}`;
  const url = `${store.databaseUrl}&application_name=${appName}`;
  const server = await spawnServer({ store: { ...store, databaseUrl: url }, key: newSecretKey() });
  const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
  await admin.connect();
  try {
    let stop = false;
    const statuses = new Map<number, number>();
    const unfinished = new Set<string>();
    const worker = async (w: number) => {
      for (let i = 0; !stop; i++) {
        const key = `cut-${w}-${i}`;
        const r = await server.raw('POST', '/v1/payment_intents', {
          body: 'amount=1200&currency=usd&payment_method=pm_card_visa&confirm=true', headers: { 'Idempotency-Key': key },
        }).catch(() => ({ status: 0, json: undefined }));
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        if (r.status !== 200) unfinished.add(key);
      }
    };
    const workers = [0, 1, 2, 3].map(worker);
    for (let cut = 0; cut < 5; cut++) {
      await new Promise((r) => setTimeout(r, 400));
      const { rows } = await admin.query('SELECT pg_terminate_backend(pid) AS ended FROM pg_stat_activity WHERE application_name = $1', [appName]);
      assert.ok(rows.length > 0, 'the server had connections to end');
    }
    await new Promise((r) => setTimeout(r, 300));
    stop = true;
    await Promise.all(workers);

    assert.equal(server.child.exitCode, null, `the server is alive:\n${server.output().slice(-2000)}`);
    const seen = Object.fromEntries(statuses);
    for (const status of statuses.keys()) assert.ok([200, 503].includes(status), `only 200 and 503 answers: ${JSON.stringify(seen)}`);
    // Every cut request finishes with its own key, once: one sale per intent.
    for (const key of unfinished) {
      let r: Awaited<ReturnType<typeof server.raw>> | undefined;
      for (let attempt = 0; attempt < 20; attempt++) {
        r = await server.raw('POST', '/v1/payment_intents', {
          body: 'amount=1200&currency=usd&payment_method=pm_card_visa&confirm=true', headers: { 'Idempotency-Key': key },
        });
        if (r.status === 200) break;
        await new Promise((ok) => setTimeout(ok, 300)); // 409 while the cut run's lock is fresh
      }
      assert.equal(r!.status, 200, `${key}: ${r!.text}`);
      assert.equal(r!.json.status, 'succeeded');
      const sold = (await server.ledger(r!.json.id as string)).filter((e) => e.kind === 'sale');
      assert.equal(sold.length, 1, `${key}: one sale`);
    }
    assert.ok((statuses.get(200) ?? 0) > 20, `requests went through between the cuts: ${JSON.stringify(seen)}`);
  } catch (err) {
    explain(err, [server]);
  } finally {
    await admin.end();
    await server.kill();
    store.dispose();
  }
});
