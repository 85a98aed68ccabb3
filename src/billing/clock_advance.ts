/**
 * Advancing a test clock: begin (the clock moves to the new time, status advancing), the
 * billing run for every customer on the clock at that time, then ready. The run between the
 * two phases is idempotent, so a retry of the advance, or the completer after a crash, runs it
 * again and produces nothing twice: exactly one invoice per period, however often it runs.
 */
import type { Command } from '../idempotency/engine.ts';
import { ApiError, invalidRequest, resourceMissing } from '../errors.ts';
import { expandParam, integer, nonEmptyString, object, type ParsedObject } from '../schema/params.ts';
import { emitEvent } from '../events/outbox.ts';
import { testClocks } from './billing_objects.ts';
import type { BillingDeps } from './billing_deps.ts';

export const advanceTestClockParams = object({
  test_clock: nonEmptyString(255),
  frozen_time: integer({ min: 0 }),
  expand: expandParam(),
});

type AdvanceParams = ParsedObject<typeof advanceTestClockParams.shape>;

export const advanceTestClock: Command<AdvanceParams, BillingDeps> = {
  name: 'test_clocks.advance',
  async run(ctx, p) {
    await ctx.atomic('begin', async (q) => {
      const clock = await testClocks.find(q, ctx.accountId, p.test_clock, { forUpdate: true });
      if (!clock || clock.deleted) throw resourceMissing('test_clock', p.test_clock);
      if (clock.status === 'advancing') {
        throw new ApiError(400, {
          type: 'invalid_request_error', code: 'test_clock_unexpected_state',
          message: `Test clock ${clock.id} is already advancing. Wait until its status is ready, then advance it again.`,
        });
      }
      if (p.frozen_time <= clock.frozen_time) {
        throw invalidRequest(`The new frozen_time (${p.frozen_time}) must be after the test clock's current frozen_time (${clock.frozen_time}): test clocks only move forward.`, 'frozen_time');
      }
      const before = { status: clock.status, frozen_time: clock.frozen_time };
      clock.status = 'advancing';
      clock.status_details = { advancing: { target_frozen_time: p.frozen_time } };
      // The customers' billing happens at the new time from now on.
      clock.frozen_time = p.frozen_time;
      testClocks.update(q, ctx.accountId, clock);
      emitEvent(q, ctx, 'test_helpers.test_clock.advancing', clock, before);
    });
    await ctx.deps.billingRun.run({ accountId: ctx.accountId, clock: p.test_clock });
    return ctx.finish('ready', async (q) => {
      const clock = await testClocks.get(q, ctx.accountId, p.test_clock, { forUpdate: true });
      if (clock.status === 'advancing') {
        clock.status = 'ready';
        clock.status_details = {};
        testClocks.update(q, ctx.accountId, clock);
        emitEvent(q, ctx, 'test_helpers.test_clock.ready', clock, { status: 'advancing' });
      }
      return { status: 200, body: clock };
    });
  },
};
