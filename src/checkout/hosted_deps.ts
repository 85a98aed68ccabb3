/**
 * What the hosted sessions' commands are given (ctx.deps): everything billing commands get, and a
 * way to run the API's own commands. A Checkout Session's completion is made of the commands an
 * integration would call itself (create a customer, confirm a payment intent, create a
 * subscription, pay an invoice, confirm a setup intent), each run under a key derived from the
 * session and the attempt: a resumed completion asks again with the same key and gets the first
 * answer back (the engine's replay), so nothing is done twice however often it is resumed.
 */
import type { BillingDeps } from '../billing/billing_deps.ts';
import type { Command } from '../idempotency/engine.ts';

export interface CommandCall {
  accountId: string;
  /** The system's own idempotency key (never shown as a client's key). */
  key: string;
  /** The API operation the command stands for, as its request log and key row show it. */
  method: 'POST' | 'DELETE';
  path: string;
  command: Command<never, never>;
  params: Record<string, unknown>;
}

export interface CommandAnswer {
  status: number;
  /** The parsed response body: the object, or `{ error }`. */
  body: Record<string, unknown>;
}

export interface CommandRunner {
  /**
   * Runs a registered command through the idempotency engine, as the API would run it; a key that
   * ran before answers its stored response. Refusals of the engine itself (the key in use by a
   * run in flight, a key reused with other parameters) are thrown, as for an API request.
   */
  execute(call: CommandCall): Promise<CommandAnswer>;
}

export interface HostedDeps extends BillingDeps {
  commands: CommandRunner;
}
