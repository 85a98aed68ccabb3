/**
 * Charges as Stripe renders them: built from an intent, its card and the processor's answer,
 * and the decline error a refused one reports.
 */
import type { AuthorizeResult, CardDetails } from '../processor/types.ts';
import type { Charge, PaymentError, PaymentIntent } from './payment_objects.ts';
import { errorDocUrl } from '../errors.ts';
import { cardFields, type BillingDetails, type PaymentMethod } from './payment_methods.ts';

const RISK_SCORE = { normal: 20, elevated: 70, highest: 90 } as const;

/** What the statement shows: the intent's descriptor, or its suffix after Oncepay's account prefix. */
const statementOf = (pi: ChargeOrigin) => (pi.statement_descriptor ?? (pi.statement_descriptor_suffix ? `ONCEPAY* ${pi.statement_descriptor_suffix}` : 'ONCEPAY')).slice(0, 22).toUpperCase();

/** What a charge takes from what made it: a PaymentIntent, or a legacy charge's own parameters (id null). */
export type ChargeOrigin = Pick<PaymentIntent, 'customer' | 'description' | 'receipt_email' | 'shipping' | 'statement_descriptor'
  | 'statement_descriptor_suffix' | 'transfer_group'> & { id: string | null };

export function buildCharge(pi: ChargeOrigin, c: {
  id: string; paymentMethod: string; card: CardDetails; billingDetails: BillingDetails; amount: number; currency: string; capture: boolean;
  authenticated: boolean; created: number;
}, result: Exclude<AuthorizeResult, { outcome: 'requires_action' }>): Charge {
  const card = c.card;
  const approved = result.outcome === 'approved';
  const captured = approved && c.capture;
  const declined = result.outcome === 'declined' ? result : null;
  return {
    id: c.id, object: 'charge', amount: c.amount, amount_captured: captured ? c.amount : 0, amount_refunded: 0,
    application: null, application_fee: null, application_fee_amount: null, balance_transaction: null,
    billing_details: structuredClone(c.billingDetails), calculated_statement_descriptor: statementOf(pi),
    captured, created: c.created, currency: c.currency, customer: pi.customer, description: pi.description, disputed: false,
    failure_balance_transaction: null, failure_code: declined?.code ?? null, failure_message: declined?.message ?? null,
    fraud_details: {}, livemode: false, metadata: {}, on_behalf_of: null,
    outcome: {
      advice_code: declined?.advice_code ?? null, network_advice_code: null, network_decline_code: null,
      network_status: approved ? 'approved_by_network' : declined?.blocked ? 'not_sent_to_network' : 'declined_by_network',
      reason: approved ? null : declined?.blocked ? 'highest_risk_level' : (declined?.decline_code ?? declined?.code ?? null),
      risk_level: card.risk_level, risk_score: RISK_SCORE[card.risk_level],
      seller_message: approved ? 'Payment complete.'
        : declined?.blocked ? 'Stripe blocked this payment as too risky.' : 'The bank did not return any further details with this decline.',
      type: approved ? 'authorized' : declined?.blocked ? 'blocked' : 'issuer_declined',
    },
    paid: approved, payment_intent: pi.id, payment_method: c.paymentMethod,
    payment_method_details: {
      card: {
        ...cardFields(card), amount_authorized: approved ? c.amount : null, authorization_code: approved ? '123456' : null,
        electronic_commerce_indicator: null, extended_authorization: { status: 'disabled' }, incremental_authorization: { status: 'unavailable' }, installments: null,
        mandate: null, multicapture: { status: 'unavailable' }, network: card.network, network_token: { used: false },
        network_transaction_id: result.outcome === 'approved' ? result.network_transaction_id : null,
        overcapture: { maximum_amount_capturable: c.amount, status: 'unavailable' }, regulated_status: 'unregulated',
        three_d_secure: c.authenticated ? {
          authentication_flow: 'challenge', electronic_commerce_indicator: '05', exemption_indicator: null, result: 'authenticated',
          result_reason: null, transaction_id: `3ds_${c.id}`, version: '2.2.0',
        } : null,
        transaction_link_id: null, wallet: null,
      },
      type: 'card',
    },
    receipt_email: pi.receipt_email, receipt_number: null, receipt_url: null, refunded: false, review: null,
    shipping: pi.shipping, source: null, source_transfer: null,
    statement_descriptor: pi.statement_descriptor, statement_descriptor_suffix: pi.statement_descriptor_suffix,
    status: approved ? 'succeeded' : 'failed', transfer_data: null, transfer_group: pi.transfer_group,
  };
}

/** The card error of a declined charge, as the 402 and the intent's last_payment_error carry it. */
export function declineError(charge: Charge, result: Extract<AuthorizeResult, { outcome: 'declined' }>, method: PaymentMethod): PaymentError {
  return {
    type: 'card_error', code: result.code,
    ...(result.decline_code ? { decline_code: result.decline_code } : {}),
    ...(result.advice_code ? { advice_code: result.advice_code } : {}),
    ...(result.param ? { param: result.param } : {}),
    message: result.message, charge: charge.id, doc_url: errorDocUrl(result.code),
    payment_method: method,
    payment_method_type: 'card',
  };
}
