/** Component schema of the test-mode reset's answer (src/api/reset_routes.ts; an Oncepay extension). */
import { RESET_SCHEMA_NAMES } from './schema_names.ts';
import { type JsonSchema, shape, livemode, objectName } from './blocks.ts';

const reset = shape({
  object: objectName('test_helpers.reset'),
  livemode: livemode(),
  deleted: {
    type: 'object',
    description: 'Rows deleted, per table keyed by account (every such table is listed, 0 when it had none of the account\'s).',
    additionalProperties: { type: 'integer', minimum: 0 },
  },
}, { title: 'Test-mode reset', description: 'What POST /v1/test_helpers/reset deleted (Oncepay extension).' });

export const RESET_SCHEMAS: Record<(typeof RESET_SCHEMA_NAMES)[number], JsonSchema> = { 'test_helpers.reset': reset };
