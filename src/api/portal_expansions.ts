/**
 * The expandable fields of the customer portal's objects, for the registry of src/api/expansion.ts:
 * a session's configuration by id; a configuration's application (Oncepay has no Connect
 * applications) and cancellation feedback options (not offered): never filled.
 */
import { alwaysNull, byId, type ExpansionTable } from './expansion_kit.ts';
import { portalConfigurations } from '../portal/portal_objects.ts';

export const PORTAL_EXPANSIONS: ExpansionTable = {
  'billing_portal.session': {
    configuration: byId(portalConfigurations),
  },
  'billing_portal.configuration': {
    application: alwaysNull,
    // Feedback options (Billing.FeedbackOption) are not offered: always null.
    'features.subscription_cancel.cancellation_reason.feedback_options': alwaysNull,
  },
};
