/** Invoices, invoice items, subscriptions and test clock advances (commands). */
import type { Command } from '../idempotency/engine.ts';
import type { Processor } from '../processor/types.ts';

export function billingCommands(_processor: Processor): Command[] {
  return [];
}
