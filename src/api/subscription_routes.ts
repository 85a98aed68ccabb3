/** Routes of subscriptions (src/billing/subscriptions.ts). */
import { enumOf, expandParam, nonEmptyString, object, optional, unsupported } from '../schema/params.ts';
import { command, createdFilter, listPage, listParams, read, type Route } from './route_kit.ts';
import { expandObject } from './expansion.ts';
import { SUBSCRIPTION_STATUSES, subscriptions } from '../billing/billing_objects.ts';
import {
  cancelSubscription, cancelSubscriptionParams, checkCreateSubscription, checkResumeSubscription, checkUpdateSubscription,
  createSubscription, createSubscriptionParams, resumeSubscription, resumeSubscriptionParams, subscriptionListFilter,
  updateSubscription, updateSubscriptionParams,
} from '../billing/subscriptions.ts';

const id = () => nonEmptyString(255);

export const subscriptionRoutes: Route[] = [
  command({
    method: 'POST', path: '/v1/subscriptions', summary: 'Create a subscription (with a trial: trial_end, trial_period_days or trial_from_plan)',
    params: createSubscriptionParams, command: createSubscription, response: 'subscription', check: checkCreateSubscription,
  }),
  read({
    path: '/v1/subscriptions/:subscription', summary: 'Retrieve a subscription', response: 'subscription',
    params: object({ subscription: id(), expand: expandParam() }),
    read: async (ctx, p) => expandObject(ctx.q, ctx.accountId, await subscriptions.get(ctx.q, ctx.accountId, p.subscription), p.expand),
  }),
  command({
    method: 'POST', path: '/v1/subscriptions/:subscription', summary: 'Update a subscription', params: updateSubscriptionParams,
    command: updateSubscription, response: 'subscription', check: checkUpdateSubscription,
  }),
  command({
    method: 'DELETE', path: '/v1/subscriptions/:subscription', summary: 'Cancel a subscription', params: cancelSubscriptionParams,
    command: cancelSubscription, response: 'subscription',
  }),
  command({
    method: 'POST', path: '/v1/subscriptions/:subscription/resume', summary: 'Resume a paused subscription: a full period starts now, with its invoice',
    params: resumeSubscriptionParams, command: resumeSubscription, response: 'subscription', check: checkResumeSubscription,
  }),
  read({
    path: '/v1/subscriptions', response: 'list:subscription',
    summary: 'List subscriptions (by default those not canceled; status=all lists every one)',
    params: listParams({
      customer: optional(id()),
      status: optional(enumOf([...SUBSCRIPTION_STATUSES, 'ended', 'all'] as const)),
      test_clock: optional(id()),
      collection_method: optional(enumOf(['charge_automatically', 'send_invoice'] as const)),
      price: optional(id()),
      plan: optional(id()),
      current_period_start: createdFilter(),
      current_period_end: createdFilter(),
      automatic_tax: unsupported('Oncepay calculates no tax: no subscription has automatic_tax enabled.', {
        noop: (v) => typeof v === 'object' && v !== null && ['false', false].includes((v as { enabled?: unknown }).enabled as string),
      }),
      customer_account: unsupported('Oncepay has no Accounts v2: filter by customer.'),
    }),
    read: (ctx, p) => listPage(ctx, p, subscriptions, '/v1/subscriptions', subscriptionListFilter(p)),
  }),
];
