/** Routes of SetupIntents (src/payments/setup_intents.ts). */
import { command, listPage, listParams, retrieveRoute, type Route } from './route_kit.ts';
import { read } from './route_kit.ts';
import { boolean, nonEmptyString, optional, string } from '../schema/params.ts';
import { checkPaymentMethod } from '../payments/payment_methods.ts';
import {
  cancelSetupIntent, cancelSetupIntentParams, checkCreateSetupIntent, confirmSetupIntent, confirmSetupIntentParams, createSetupIntent,
  createSetupIntentParams, setupIntents, updateSetupIntent, updateSetupIntentParams,
} from '../payments/setup_intents.ts';
import { REFUSED } from '../payments/payment_params.ts';

const id = () => nonEmptyString(255);

export const setupIntentRoutes: Route[] = [
  command({
    method: 'POST', path: '/v1/setup_intents', summary: 'Create a SetupIntent', params: createSetupIntentParams,
    command: createSetupIntent, response: 'setup_intent', check: checkCreateSetupIntent, declines: true,
  }),
  retrieveRoute('/v1/setup_intents', 'intent', setupIntents, { client_secret: optional(string({ max: 500 })) }),
  command({
    method: 'POST', path: '/v1/setup_intents/:intent', summary: 'Update a SetupIntent', params: updateSetupIntentParams,
    command: updateSetupIntent, response: 'setup_intent', check: (p) => checkPaymentMethod(p.payment_method),
  }),
  command({
    method: 'POST', path: '/v1/setup_intents/:intent/confirm', summary: 'Confirm a SetupIntent', params: confirmSetupIntentParams,
    command: confirmSetupIntent, response: 'setup_intent', check: (p) => checkPaymentMethod(p.payment_method), declines: true,
  }),
  command({
    method: 'POST', path: '/v1/setup_intents/:intent/cancel', summary: 'Cancel a SetupIntent', params: cancelSetupIntentParams,
    command: cancelSetupIntent, response: 'setup_intent',
  }),
  read({
    path: '/v1/setup_intents', summary: 'List SetupIntents', response: 'list:setup_intent',
    params: listParams({ customer: optional(id()), payment_method: optional(id()), attach_to_self: optional(boolean()), customer_account: REFUSED.customerAccount() }),
    read(ctx, p) {
      // No setup intent is attached to the platform's own account (attach_to_self is Connect's): true lists none.
      if (p.attach_to_self) return Promise.resolve({ object: 'list', data: [], has_more: false, url: '/v1/setup_intents' });
      const where: Record<string, string> = {};
      if (p.customer) where.customer = p.customer;
      if (p.payment_method) where.payment_method = p.payment_method;
      return listPage(ctx, p, setupIntents, '/v1/setup_intents', { where });
    },
  }),
];
