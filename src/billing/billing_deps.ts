/**
 * What billing commands are given (ctx.deps): everything payments commands get, and the billing
 * run, which a test clock advance drives between its phases. The run is a port rather than the
 * class itself because the run executes commands through the engine that executes the advance.
 */
import type { PaymentDeps } from '../payments/ports.ts';
import type { BillingScope } from './billing_run.ts';

export interface BillingRunner {
  /** One pass of renewals, finalization, collection and reminders for the scope; how many things it did. */
  run(scope: BillingScope): Promise<number>;
}

export interface BillingDeps extends PaymentDeps {
  billingRun: BillingRunner;
  /**
   * Where browsers reach this server (ONCEPAY_PUBLIC_URL, or http://localhost:<port>), without a
   * trailing slash: the base of the hosted pages' URLs (an invoice's hosted_invoice_url).
   */
  publicUrl(): string;
}
