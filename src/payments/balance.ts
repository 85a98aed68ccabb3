/** Balance transactions: one per captured charge and one per refund, so money reconciles. */
import type { Queryable, Tx } from '../store/db.ts';
import { newId } from '../ids.ts';
import { balanceTransactions, type BalanceTransaction } from './payment_objects.ts';

export async function recordBalanceTransaction(
  q: Tx, accountId: string, now: number,
  entry: { amount: number; currency: string; source: string; type: 'charge' | 'refund'; description: string | null },
): Promise<string> {
  const txn: BalanceTransaction = {
    id: newId('txn'),
    object: 'balance_transaction',
    amount: entry.amount,
    available_on: now,
    balance_type: 'payments',
    created: now,
    currency: entry.currency,
    description: entry.description,
    exchange_rate: null,
    fee: 0,
    fee_details: [],
    net: entry.amount,
    reporting_category: entry.type,
    source: entry.source,
    status: 'available',
    type: entry.type,
  };
  balanceTransactions.insert(q, accountId, txn);
  return txn.id;
}

export interface Balance {
  object: 'balance';
  available: { amount: number; currency: string; source_types: { card: number } }[];
  pending: { amount: number; currency: string; source_types: { card: number } }[];
  livemode: false;
}

export async function computeBalance(q: Queryable, accountId: string): Promise<Balance> {
  const { rows } = await q.query<{ currency: string; amount: number }>(
    `SELECT data->>'currency' AS currency, SUM((data->>'net')::bigint)::int8 AS amount
       FROM balance_transactions WHERE account_id = $1 GROUP BY 1 ORDER BY 1`, [accountId]);
  const available = rows.length > 0
    ? rows.map((r) => ({ amount: r.amount, currency: r.currency, source_types: { card: r.amount } }))
    : [{ amount: 0, currency: 'usd', source_types: { card: 0 } }];
  return {
    object: 'balance',
    available,
    pending: available.map((a) => ({ amount: 0, currency: a.currency, source_types: { card: 0 } })),
    livemode: false,
  };
}
