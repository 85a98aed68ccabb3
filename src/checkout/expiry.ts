/**
 * Sessions whose expires_at passed are expired by the clock, as Stripe does: each through the
 * expire command under the system's own key (`oncepay_checkout_expire_<session>`), so two
 * processes sweeping at once expire it once, and checkout.session.expired is emitted once. A
 * session being completed right now is busy: the next sweep looks again (and finds it complete).
 */
import type { Db } from '../store/db.ts';
import { ApiError } from '../errors.ts';
import { nowSeconds } from '../ids.ts';
import type { CommandRunner } from './hosted_deps.ts';
import type { Command } from '../idempotency/engine.ts';
import { expireCheckoutSession } from './sessions.ts';

/** Expires up to `batch` overdue open sessions; returns how many it expired. */
export async function expireOverdueSessions(db: Db, commands: CommandRunner, batch = 100): Promise<number> {
  const { rows } = await db.query<{ account_id: string; id: string }>(
    `SELECT account_id, id FROM checkout_sessions WHERE status = 'open' AND expires_at <= $1 ORDER BY expires_at LIMIT $2`,
    [nowSeconds(), batch]);
  let expired = 0;
  for (const r of rows) {
    try {
      const res = await commands.execute({
        accountId: r.account_id, key: `oncepay_checkout_expire_${r.id}`, method: 'POST', path: `/v1/checkout/sessions/${r.id}/expire`,
        command: expireCheckoutSession as Command<never, never>, params: { session: r.id },
      });
      if (res.status === 200) expired++;
    } catch (err) {
      // Busy (a completion in flight) or the key in use by the other process's sweep: next time.
      if (!(err instanceof ApiError && err.status === 409)) throw err;
    }
  }
  return expired;
}
