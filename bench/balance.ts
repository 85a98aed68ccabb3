/**
 * GET /v1/balance at 10 and at 200k balance transactions. With the server stopped, the bench
 * opens the system's own database the way the server does (src/store/db.ts openDatabase),
 * creates two accounts and inserts their balance transactions directly, one INSERT … SELECT
 * generate_series each: the path every product write takes (the running-balance triggers of
 * migration 11 run in that statement). Then the server starts again on that data (the
 * "existing data dir" start) and each balance is read: median latency of sequential GETs, and
 * the amount checked.
 */
import { openDatabase } from '../src/store/db.ts';
import { createAccount } from '../src/accounts/keys.ts';
import type { System } from './systems.ts';
import { median } from './stats.ts';

export const BALANCE_SIZES = [10, 200_000] as const;
const AMOUNT = 1000;

export interface BalanceFigures { insertMs: Record<number, number>; getMs: Record<number, number> }

export async function seedBalances(system: System): Promise<{ keys: Record<number, string>; insertMs: Record<number, number> }> {
  const db = await openDatabase({ ...system.database!, poolSize: 2 });
  try {
    const keys: Record<number, string> = {};
    const insertMs: Record<number, number> = {};
    for (const n of BALANCE_SIZES) {
      const { accountId, key } = await createAccount(db);
      const now = Math.floor(Date.now() / 1000);
      const started = performance.now();
      await db.query(
        `INSERT INTO balance_transactions (account_id, id, created, data, source, type)
         SELECT $1, 'txn_bench' || g, $3, json_build_object(
                  'id', 'txn_bench' || g, 'object', 'balance_transaction', 'amount', $4::int, 'available_on', $3::bigint,
                  'balance_type', 'payments', 'created', $3::bigint, 'currency', 'usd', 'description', NULL, 'exchange_rate', NULL,
                  'fee', 0, 'fee_details', json_build_array(), 'net', $4::int, 'reporting_category', 'charge',
                  'source', 'ch_bench' || g, 'status', 'available', 'type', 'charge'),
                'ch_bench' || g, 'charge'
           FROM generate_series(1, $2::int) g`, [accountId, n, now, AMOUNT]);
      insertMs[n] = performance.now() - started;
      keys[n] = key;
    }
    return { keys, insertMs };
  } finally {
    await db.close();
  }
}

/** Median of `samples` sequential GET /v1/balance after a few unmeasured ones; checks the amount. */
export async function timeBalance(base: string, key: string, n: number, samples = 60): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < samples + 5; i++) {
    const started = performance.now();
    const res = await fetch(`${base}/v1/balance`, { headers: { authorization: `Bearer ${key}` } });
    const body = await res.json() as { available?: { amount: number }[] };
    if (i >= 5) times.push(performance.now() - started);
    if (res.status !== 200 || body.available?.[0]?.amount !== n * AMOUNT) {
      throw new Error(`GET /v1/balance with ${n} balance transactions: HTTP ${res.status}, ${JSON.stringify(body).slice(0, 300)} (expected ${n * AMOUNT})`);
    }
  }
  return median(times);
}
