/**
 * What payments need from the layers around them, declared here so payments imports nothing of
 * theirs. billing/ implements the purposes and the customer's billing (src/billing/payment_ports.ts),
 * api/ implements expansion (src/api/expansion.ts), and server.ts hands them to the engine, which
 * gives them to every command as ctx.deps.
 *
 * Every hook runs inside the caller's phase transaction, so what it writes commits (or not) with
 * the payment's own writes. Lock order: the caller holds the payment intent (or charge) row, and a
 * hook may lock what the intent pays for after it, never before.
 */
import type { Queryable, Tx } from '../store/db.ts';
import type { CommandContext } from '../idempotency/engine.ts';
import type { EventSource } from '../events/outbox.ts';
import type { Processor } from '../processor/types.ts';
import type { Customer, PaymentIntent } from './payment_objects.ts';

/**
 * What a payment intent pays for (an order, an invoice: the intent's `order` and `invoice`
 * fields name it). Payments calls these at each step of an intent's life; an intent that pays
 * for nothing passes through them unchanged.
 */
export interface PaymentPurposes {
  /** A new intent, or a new amount or currency: may it pay for what it names? 4xx naming `param` if not. */
  checkAmount(q: Tx, accountId: string, intent: Pick<PaymentIntent, 'order' | 'amount' | 'currency'>, param: string): Promise<void>;
  /** In the phase that moves the intent to processing: reserve its amount (refusing an overpayment). */
  reserve(q: Tx, accountId: string, intent: PaymentIntent): Promise<void>;
  /** The processor answered a confirmation and the intent took its new status (succeeded, requires_capture, requires_action, requires_payment_method). */
  authorized(q: Tx, source: EventSource, intent: PaymentIntent): Promise<void>;
  /** A manual-capture intent was captured (amount_received is what moved). */
  captured(q: Tx, source: EventSource, intent: PaymentIntent): Promise<void>;
  /** A refund of the intent's charge succeeded. */
  refunded(q: Tx, source: EventSource, intent: PaymentIntent, amount: number): Promise<void>;
  /** The intent was canceled through /v1/payment_intents/:id/cancel (what it paid for may follow). */
  canceled(q: Tx, source: EventSource, intent: PaymentIntent): Promise<void>;
}

/** What a customer's life means for billing: its test clock and its subscriptions. */
export interface CustomerBilling {
  /**
   * A customer is created on this test clock: locks the clock (so a deletion of the clock either
   * sees the customer or is seen by it) and returns its time; resource_missing if it is gone.
   */
  attachToClock(q: Tx, accountId: string, clock: string): Promise<{ id: string; frozen_time: number }>;
  /** The customer (locked by the caller) is being deleted: whatever bills it ends now. */
  deleting(q: Tx, source: EventSource, customer: Customer): Promise<void>;
}

/**
 * `expand[]`: replaces ids with the objects they name, for the fields Stripe lets clients expand,
 * whichever domain owns them.
 */
export interface Expander {
  object<T extends object>(q: Queryable, accountId: string, obj: T, paths: readonly string[] | undefined): Promise<T>;
  /** The items of a list: paths start with `data.` as in Stripe. */
  list<T extends object>(q: Queryable, accountId: string, items: T[], paths: readonly string[] | undefined): Promise<T[]>;
}

/** What every payments command is given (ctx.deps). */
export interface PaymentDeps {
  processor: Processor;
  purposes: PaymentPurposes;
  customerBilling: CustomerBilling;
  expander: Expander;
}

export type PaymentContext = CommandContext<PaymentDeps>;

/** The response body of a command: its object with the request's `expand[]` applied. */
export function render<T extends object>(q: Queryable, ctx: CommandContext<{ expander: Expander }>, obj: T, expand: readonly string[] | undefined): Promise<T> {
  return ctx.deps.expander.object(q, ctx.accountId, obj, expand);
}
