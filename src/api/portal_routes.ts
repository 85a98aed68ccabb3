/**
 * Routes of the customer portal (src/portal/): Stripe's configurations (create, retrieve, update,
 * list) and session create. Stripe has no retrieve or list of portal sessions, so neither has
 * Oncepay; the portal page finds its session by the token in its URL (portalSessionByToken).
 */
import { command, listRoute, retrieveRoute, type Route } from './route_kit.ts';
import { portalConfigurations } from '../portal/portal_objects.ts';
import { createPortalConfiguration, updatePortalConfiguration } from '../portal/configurations.ts';
import { createPortalSession } from '../portal/sessions.ts';
import {
  checkCreateSession, createConfigurationParams, createSessionParams, listConfigurationFilters, updateConfigurationParams,
} from '../portal/portal_params.ts';

export const portalRoutes: Route[] = [
  command({
    method: 'POST', path: '/v1/billing_portal/configurations', summary: 'Create a portal configuration', params: createConfigurationParams,
    command: createPortalConfiguration, response: 'billing_portal.configuration',
  }),
  retrieveRoute('/v1/billing_portal/configurations', 'configuration', portalConfigurations),
  command({
    method: 'POST', path: '/v1/billing_portal/configurations/:configuration', summary: 'Update a portal configuration', params: updateConfigurationParams,
    command: updatePortalConfiguration, response: 'billing_portal.configuration',
  }),
  listRoute('/v1/billing_portal/configurations', portalConfigurations, listConfigurationFilters),
  command({
    method: 'POST', path: '/v1/billing_portal/sessions', summary: 'Create a portal session', params: createSessionParams,
    command: createPortalSession, response: 'billing_portal.session', check: checkCreateSession,
  }),
];
