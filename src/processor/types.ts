/**
 * The processor adapter: what Oncepay asks of an acquirer. Every call carries a downstream
 * idempotency key derived from our own ids (charge id, refund id), so repeating a call after a
 * crash or a lost answer never moves money twice.
 */
export type CheckResult = 'pass' | 'fail' | 'unavailable' | 'unchecked';

export interface CardDetails {
  brand: string;
  last4: string;
  exp_month: number;
  exp_year: number;
  funding: 'credit' | 'debit' | 'prepaid';
  country: string;
  /** The card network that carries its payments (a co-branded card's is not its brand). */
  network: string;
  /** The same card number has the same fingerprint. */
  fingerprint: string;
  checks: { address_line1_check: CheckResult | null; address_postal_code_check: CheckResult | null; cvc_check: CheckResult | null };
  /** Radar's assessment of payments with this card. */
  risk_level: 'normal' | 'elevated' | 'highest';
}

/** A refused authorization as Stripe reports it (the error's and the charge's outcome fields). */
export interface Decline {
  code: string;
  decline_code?: string;
  message: string;
  /** The card field at fault (`exp_month`, `cvc`). */
  param?: string;
  advice_code?: 'confirm_card_data' | 'do_not_try_again' | 'try_again_later';
  /** Blocked by Radar before reaching the network (not an issuer decline). */
  blocked?: boolean;
}

export type AuthorizeResult =
  | { outcome: 'approved'; captured: boolean; network_transaction_id: string }
  | ({ outcome: 'declined' } & Decline)
  | { outcome: 'requires_action' };

export interface AuthorizeRequest {
  accountId: string;
  downstreamKey: string;
  /** Our object this money belongs to (the payment intent id): the ledger is searchable by it. */
  reference: string;
  paymentMethod: string;
  /** The acquirer's reference of the card (what its vault filed the number under). */
  cardRef: string;
  amount: number;
  currency: string;
  /** Capture in the same step (a sale) or only hold the funds. */
  capture: boolean;
  /** The customer completed authentication (3-D Secure) for this payment. */
  authenticated: boolean;
  /** The customer is not there to authenticate (a saved card charged later, a renewal). */
  offSession: boolean;
  /** The card was set up for off-session payments (a setup, or a payment that set it up, authenticated). */
  setUpForOffSession: boolean;
}

/**
 * A card check without moving money (a zero-amount authorization): attaching a card to a
 * customer, or a setup. `setup`: a setup intent, where a card that needs authentication asks for it.
 */
export interface VerifyRequest {
  accountId: string;
  downstreamKey: string;
  reference: string;
  paymentMethod: string;
  cardRef: string;
  setup: boolean;
  authenticated: boolean;
}

export type VerifyResult = { outcome: 'approved' } | ({ outcome: 'declined' } & Decline) | { outcome: 'requires_action' };

export interface FollowUpRequest {
  accountId: string;
  downstreamKey: string;
  reference: string;
  /** The downstream key of the authorization this acts on. */
  authorization: string;
  amount: number;
  currency: string;
}

export interface LedgerEntry {
  downstream_key: string;
  kind: 'sale' | 'authorization' | 'capture' | 'void' | 'refund' | 'verification';
  reference: string;
  payment_method: string;
  amount: number;
  currency: string;
  outcome: string;
  attempts: number;
  created_at: string;
}

export interface Processor {
  authorize(req: AuthorizeRequest): Promise<AuthorizeResult>;
  verify(req: VerifyRequest): Promise<VerifyResult>;
  capture(req: FollowUpRequest): Promise<{ outcome: 'captured' }>;
  void(req: FollowUpRequest): Promise<{ outcome: 'voided' }>;
  refund(req: FollowUpRequest): Promise<{ outcome: 'refunded' }>;
  lookup(accountId: string, downstreamKey: string): Promise<LedgerEntry | undefined>;
  ledger(accountId: string, reference?: string): Promise<LedgerEntry[]>;
}

/** The processor answered 5xx: nothing happened there; the call may be repeated. */
export class ProcessorUnavailable extends Error {}
/** The answer was lost: the operation may or may not have happened; repeat with the same key. */
export class ProcessorTimeout extends Error {}
/** The processor refused the follow-up as invalid (e.g. capture more than authorized). */
export class ProcessorRejected extends Error {}
