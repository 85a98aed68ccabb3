/**
 * `oncepay trigger <event>`: makes an event happen by creating, through the API, the objects
 * whose changes emit it (like `stripe trigger`). Every write carries an Idempotency-Key made of
 * this run's id and the step number: a retried step (dropped connection, 409, 5xx) replays
 * instead of running twice, while the next run creates new objects.
 */
import { randomUUID } from 'node:crypto';
import { ApiRequestError, type ApiClient } from '../api_client.ts';
import { CliError } from '../errors.ts';
import { print } from '../output.ts';

type Obj = Record<string, any>;

interface Step {
  /** What the step does, as printed: "creating payment intent". */
  label: string;
  method: 'POST' | 'DELETE';
  path: (objs: Obj) => string;
  body?: (objs: Obj) => Obj;
  /** Saves the answer under this name for later steps. */
  as: string;
  /** A 402 card_error is the expected outcome (the declined payment intent is saved). */
  declines?: boolean;
}

export interface Fixture {
  description: string;
  steps: Step[];
}

const customer: Step = {
  label: 'creating customer', method: 'POST', path: () => '/v1/customers', as: 'customer',
  body: () => ({ email: 'jenny.rosen@example.com', name: 'Jenny Rosen', description: '(created by oncepay trigger)' }),
};

const intent = (label: string, extra: Obj, declines = false): Step => ({
  label, method: 'POST', path: () => '/v1/payment_intents', as: 'payment_intent', declines,
  body: () => ({ amount: 2000, currency: 'usd', description: '(created by oncepay trigger)', ...extra }),
});

const succeededIntent = intent('creating payment intent (2000 usd, pm_card_visa, confirm=true)', { payment_method: 'pm_card_visa', confirm: 'true' });
const declinedIntent = intent('creating payment intent (2000 usd, pm_card_visa_chargeDeclined, confirm=true)',
  { payment_method: 'pm_card_visa_chargeDeclined', confirm: 'true' }, true);
const manualIntent = intent('creating payment intent (2000 usd, pm_card_visa, capture_method=manual, confirm=true)',
  { payment_method: 'pm_card_visa', capture_method: 'manual', confirm: 'true' });

const refund: Step = {
  label: 'creating refund', method: 'POST', path: () => '/v1/refunds', as: 'refund',
  body: (o) => ({ payment_intent: o.payment_intent.id }),
};

const payingCustomer: Step = {
  label: 'creating customer with a default card (pm_card_visa)', method: 'POST', path: () => '/v1/customers', as: 'customer',
  body: () => ({ email: 'jenny.rosen@example.com', name: 'Jenny Rosen', payment_method: 'pm_card_visa', description: '(created by oncepay trigger)' }),
};
const invoiceItem: Step = {
  label: 'creating invoice item (2000 usd)', method: 'POST', path: () => '/v1/invoiceitems', as: 'invoiceitem',
  body: (o) => ({ customer: o.customer.id, amount: 2000, currency: 'usd', description: '(created by oncepay trigger)' }),
};
const draftInvoice = (extra: Obj = {}): Step => ({
  label: 'creating draft invoice with the pending item', method: 'POST', path: () => '/v1/invoices', as: 'invoice',
  body: (o) => ({ customer: o.customer.id, pending_invoice_items_behavior: 'include', ...extra }),
});
const invoiceAction = (action: string): Step => ({
  label: `${action === 'pay' ? 'paying' : `${action.replace(/e$/, '')}ing`} invoice`, method: 'POST', path: (o) => `/v1/invoices/${o.invoice.id}/${action}`, as: 'invoice',
});
const order: Step = {
  label: 'creating order (2 × 1000 usd)', method: 'POST', path: () => '/v1/orders', as: 'order',
  body: () => ({ currency: 'usd', line_items: [{ amount: 1000, quantity: 2, description: '(created by oncepay trigger)' }] }),
};
const subscription: Step = {
  label: 'creating subscription (1000 usd a month)', method: 'POST', path: () => '/v1/subscriptions', as: 'subscription',
  body: (o) => ({ customer: o.customer.id, items: [{ price: o.price.id, quantity: 1 }] }),
};
const monthlyPrice: Step = {
  label: 'creating monthly price (1000 usd) and its product', method: 'POST', path: () => '/v1/prices', as: 'price',
  body: () => ({ currency: 'usd', unit_amount: 1000, recurring: { interval: 'month' }, product_data: { name: '(created by oncepay trigger)' } }),
};

/** A card refund is created succeeded; what updates it afterwards is its metadata (refund.updated and charge.refund.updated). */
const refundUpdate: Fixture = {
  description: 'creates a succeeded payment intent, refunds it, then updates the refund',
  steps: [succeededIntent, refund, {
    label: 'updating refund', method: 'POST', path: (o) => `/v1/refunds/${o.refund.id}`, as: 'refund',
    body: () => ({ metadata: { triggered: 'true' } }),
  }],
};

export const FIXTURES: Record<string, Fixture> = {
  'invoice.created': { description: 'creates a customer, an invoice item and a draft invoice', steps: [payingCustomer, invoiceItem, draftInvoice()] },
  'invoice.finalized': {
    description: 'creates a draft invoice, then finalizes it', steps: [payingCustomer, invoiceItem, draftInvoice(), invoiceAction('finalize')],
  },
  'invoice.paid': {
    description: 'creates and finalizes an invoice, then pays it with the customer\'s card',
    steps: [payingCustomer, invoiceItem, draftInvoice(), invoiceAction('finalize'), invoiceAction('pay')],
  },
  'invoice.sent': {
    description: 'creates and finalizes a send_invoice invoice, then sends it',
    steps: [payingCustomer, invoiceItem, draftInvoice({ collection_method: 'send_invoice', days_until_due: 30 }), invoiceAction('finalize'), invoiceAction('send')],
  },
  'invoice.voided': {
    description: 'creates and finalizes an invoice, then voids it', steps: [payingCustomer, invoiceItem, draftInvoice(), invoiceAction('finalize'), invoiceAction('void')],
  },
  'customer.subscription.created': {
    description: 'creates a customer with a card, a monthly price, and a subscription to it', steps: [payingCustomer, monthlyPrice, subscription],
  },
  'order.created': { description: 'creates an order', steps: [order] },
  'order.paid': {
    description: 'creates an order, then pays it in full with a payment intent',
    steps: [order, {
      label: 'creating payment intent for the order (2000 usd, pm_card_visa, confirm=true)', method: 'POST', path: () => '/v1/payment_intents', as: 'payment_intent',
      body: (o) => ({ amount: 2000, currency: 'usd', order: o.order.id, payment_method: 'pm_card_visa', confirm: 'true' }),
    }],
  },
  'customer.created': { description: 'creates a customer', steps: [customer] },
  'customer.updated': {
    description: 'creates a customer, then updates it',
    steps: [customer, {
      label: 'updating customer', method: 'POST', path: (o) => `/v1/customers/${o.customer.id}`, as: 'customer',
      body: () => ({ description: '(updated by oncepay trigger)', metadata: { triggered: 'true' } }),
    }],
  },
  'customer.deleted': {
    description: 'creates a customer, then deletes it',
    steps: [customer, { label: 'deleting customer', method: 'DELETE', path: (o) => `/v1/customers/${o.customer.id}`, as: 'deleted' }],
  },
  'payment_intent.created': {
    description: 'creates a payment intent (2000 usd) without confirming it',
    steps: [intent('creating payment intent (2000 usd)', {})],
  },
  'payment_intent.succeeded': { description: 'creates and confirms a payment intent (2000 usd, pm_card_visa)', steps: [succeededIntent] },
  'payment_intent.payment_failed': {
    description: 'creates and confirms a payment intent with a declined card (pm_card_visa_chargeDeclined)', steps: [declinedIntent],
  },
  'payment_intent.canceled': {
    description: 'creates a payment intent, then cancels it',
    steps: [intent('creating payment intent (2000 usd)', {}), {
      label: 'canceling payment intent', method: 'POST', path: (o) => `/v1/payment_intents/${o.payment_intent.id}/cancel`, as: 'payment_intent',
      body: () => ({ cancellation_reason: 'requested_by_customer' }),
    }],
  },
  'payment_intent.amount_capturable_updated': {
    description: 'creates and confirms a payment intent with capture_method=manual', steps: [manualIntent],
  },
  'payment_intent.requires_action': {
    description: 'creates and confirms a payment intent with a card that needs authentication (pm_card_authenticationRequired)',
    steps: [intent('creating payment intent (2000 usd, pm_card_authenticationRequired, confirm=true)',
      { payment_method: 'pm_card_authenticationRequired', confirm: 'true' })],
  },
  'charge.succeeded': { description: 'creates and confirms a payment intent (pm_card_visa)', steps: [succeededIntent] },
  'charge.failed': { description: 'creates and confirms a payment intent with a declined card', steps: [declinedIntent] },
  'charge.captured': {
    description: 'creates a payment intent with capture_method=manual, then captures it',
    steps: [manualIntent, {
      label: 'capturing payment intent', method: 'POST', path: (o) => `/v1/payment_intents/${o.payment_intent.id}/capture`, as: 'payment_intent',
    }],
  },
  'charge.refunded': { description: 'creates a succeeded payment intent, then refunds it', steps: [succeededIntent, refund] },
  'refund.created': { description: 'creates a succeeded payment intent, then refunds it', steps: [succeededIntent, refund] },
  'refund.updated': refundUpdate,
  'charge.refund.updated': refundUpdate,
};

export const SUPPORTED_EVENTS = Object.keys(FIXTURES).sort();

function describe(obj: Obj | undefined): string {
  if (!obj || typeof obj.id !== 'string') return 'done';
  return obj.status ? `${obj.id} (${obj.status})` : obj.deleted ? `${obj.id} (deleted)` : obj.id;
}

interface EventSummary { id: string; type: string; request?: { idempotency_key: string | null } | null }

export async function trigger(client: ApiClient, event: string): Promise<void> {
  const fixture = FIXTURES[event];
  if (!fixture) {
    throw new CliError(`unsupported event "${event}"; supported events: ${SUPPORTED_EVENTS.join(', ')}`, 2);
  }
  const run = randomUUID().replace(/-/g, '').slice(0, 16);
  const keys: string[] = [];
  const objs: Obj = {};
  print(`Setting up fixture for: ${event} (${fixture.description})`);
  for (const [i, step] of fixture.steps.entries()) {
    const key = `oncepay-trigger-${run}-${i + 1}`;
    keys.push(key);
    process.stdout.write(`Running fixture: ${step.label}… `);
    try {
      const body = step.body?.(objs);
      objs[step.as] = step.method === 'DELETE'
        ? await client.del(step.path(objs), { idempotencyKey: key })
        : await client.post(step.path(objs), body ?? {}, { idempotencyKey: key });
      print(describe(objs[step.as]));
    } catch (err) {
      if (step.declines && err instanceof ApiRequestError && err.status === 402 && err.error.type === 'card_error') {
        objs[step.as] = (err.error as Obj).payment_intent;
        print(`${describe(objs[step.as])}, declined as expected: ${err.error.message} (${err.error.decline_code ?? err.error.code})`);
        continue;
      }
      print('failed');
      throw err;
    }
  }
  // The event must now exist, emitted by one of this run's requests.
  const recent = await client.get<{ data: EventSummary[] }>('/v1/events', { type: event, limit: 100 });
  const emitted = recent.data.find((e) => e.request?.idempotency_key && keys.includes(e.request.idempotency_key));
  if (!emitted) throw new CliError(`the fixture ran, but no ${event} event came from it (see \`oncepay events list\`)`);
  print(`Trigger succeeded! ${event} ${emitted.id}`);
}
