/**
 * POST /v1/test_helpers/reset (Oncepay extension, test mode only): deletes everything of the
 * calling account (src/accounts/reset.ts), as a command of the idempotency engine, so a retry
 * with the same Idempotency-Key replays the first answer. Secret keys only (src/http/auth.ts
 * refuses restricted and publishable keys); refused when ONCEPAY_ENV=production.
 */
import { object } from '../schema/params.ts';
import { invalidRequest } from '../errors.ts';
import type { Command } from '../idempotency/engine.ts';
import { resetAccount } from '../accounts/reset.ts';
import { command, type Route } from './route_kit.ts';

export const resetParams = object({});

export const resetTestAccount: Command<unknown> = {
  name: 'test_helpers.reset',
  run: (ctx) => ctx.finish('reset', async (q) => ({
    status: 200,
    body: {
      object: 'test_helpers.reset',
      livemode: false,
      deleted: await resetAccount(q, ctx.accountId, { idempotencyKey: ctx.idempotencyKey, requestId: ctx.requestId }),
    },
  })),
};

export function resetRoutes(opts: { production: boolean }): Route[] {
  return [
    command({
      method: 'POST', path: '/v1/test_helpers/reset', response: 'test_helpers.reset', params: resetParams, command: resetTestAccount,
      summary: 'Delete every object, event, webhook endpoint, request log and idempotency key of the calling account (Oncepay extension; test mode, secret keys only)',
      check() {
        if (opts.production) throw invalidRequest('POST /v1/test_helpers/reset is available in test mode only: this server runs with ONCEPAY_ENV=production.');
      },
    }),
  ];
}
