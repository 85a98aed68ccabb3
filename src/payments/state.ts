/**
 * The payment intent state machine as Stripe documents it, as data: which status may move to
 * which, and which actions each status allows. Tests walk these tables exhaustively.
 */
export const PAYMENT_INTENT_STATUSES = [
  'requires_payment_method', 'requires_confirmation', 'requires_action', 'processing',
  'requires_capture', 'succeeded', 'canceled',
] as const;
export type PaymentIntentStatus = (typeof PAYMENT_INTENT_STATUSES)[number];

export const TRANSITIONS: Readonly<Record<PaymentIntentStatus, readonly PaymentIntentStatus[]>> = {
  requires_payment_method: ['requires_confirmation', 'processing', 'canceled'],
  requires_confirmation: ['requires_payment_method', 'processing', 'canceled'],
  requires_action: ['requires_payment_method', 'requires_confirmation', 'processing', 'canceled'],
  processing: ['requires_payment_method', 'requires_action', 'requires_capture', 'succeeded'],
  requires_capture: ['succeeded', 'canceled'],
  succeeded: [],
  canceled: [],
};

export type PaymentIntentAction = 'update' | 'confirm' | 'capture' | 'cancel';

export const ALLOWED: Readonly<Record<PaymentIntentAction, readonly PaymentIntentStatus[]>> = {
  update: ['requires_payment_method', 'requires_confirmation', 'requires_action'],
  confirm: ['requires_payment_method', 'requires_confirmation', 'requires_action'],
  capture: ['requires_capture'],
  cancel: ['requires_payment_method', 'requires_confirmation', 'requires_action', 'requires_capture'],
};

export function canTransition(from: PaymentIntentStatus, to: PaymentIntentStatus): boolean {
  return from === to || TRANSITIONS[from].includes(to);
}

export function allows(action: PaymentIntentAction, status: PaymentIntentStatus): boolean {
  return ALLOWED[action].includes(status);
}
