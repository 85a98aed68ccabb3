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

/**
 * The running balances (migration 11: kept by the statement that writes each balance
 * transaction), summed over their slots: at most 16 rows per currency, however many
 * transactions the account has. A currency appears once it has a balance transaction.
 */
export async function computeBalance(q: Queryable, accountId: string): Promise<Balance> {
  const { rows } = await q.query<{ currency: string; available: number; pending: number }>(
    `SELECT currency, sum(available)::int8 AS available, sum(pending)::int8 AS pending
       FROM balances WHERE account_id = $1 GROUP BY 1 HAVING sum(transactions) > 0 ORDER BY 1`, [accountId]);
  const amounts = rows.length > 0 ? rows : [{ currency: 'usd', available: 0, pending: 0 }];
  const entry = (amount: number, currency: string) => ({ amount, currency, source_types: { card: amount } });
  return {
    object: 'balance',
    available: amounts.map((r) => entry(r.available, r.currency)),
    pending: amounts.map((r) => entry(r.pending, r.currency)),
    livemode: false,
  };
}
