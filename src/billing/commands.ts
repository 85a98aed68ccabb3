/** Invoices, invoice items, subscriptions and test clock advances (commands). */
import type { Command } from '../idempotency/engine.ts';
import type { Processor } from '../processor/types.ts';
import type { BillingRun } from './billing_run.ts';
import { invoiceCommands } from './invoices.ts';
import { invoiceItemCommands } from './invoice_items.ts';
import { subscriptionCommands } from './subscriptions.ts';
import { advanceTestClock } from './clock_advance.ts';

export function billingCommands(processor: Processor, billing: BillingRun): Command[] {
  return [...invoiceCommands(processor), ...invoiceItemCommands, ...subscriptionCommands(processor), advanceTestClock(billing)];
}
