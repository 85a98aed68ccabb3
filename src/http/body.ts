/**
 * Request bodies and query strings: Stripe's form encoding with bracket nesting (through qs)
 * and JSON. Both refuse absurd nesting with a clear error instead of silently flattening it.
 */
import qs from 'qs';
import { invalidRequest } from '../errors.ts';

export const MAX_DEPTH = 5;

const QS_OPTIONS = {
  depth: MAX_DEPTH,
  strictDepth: true,
  // No Stripe list parameter takes more than 100 items; past that index qs itself refuses.
  arrayLimit: 100,
  parameterLimit: 2000,
  throwOnLimitExceeded: true,
  allowPrototypes: false,
  plainObjects: true,
} as const;

export function parseForm(text: string): Record<string, unknown> {
  try {
    return qs.parse(text, QS_OPTIONS) as Record<string, unknown>;
  } catch (err) {
    const why = err instanceof RangeError ? err.message : 'malformed form encoding';
    const hint = /depth/i.test(why) ? ` Parameters may nest at most ${MAX_DEPTH} levels deep (for example metadata[key]=value).` : '';
    throw invalidRequest(`Invalid request body: ${why}.${hint}`);
  }
}

function depth(value: unknown): number {
  if (value === null || typeof value !== 'object') return 0;
  let max = 0;
  for (const v of Object.values(value)) max = Math.max(max, depth(v));
  return max + 1;
}

export function parseJson(text: string): Record<string, unknown> {
  if (text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text, (key, v) => (key === '__proto__' || key === 'constructor' ? undefined : v));
  } catch (err) {
    throw invalidRequest(`Invalid JSON body: ${(err as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalidRequest('Invalid JSON body: expected an object of parameters at the top level.');
  }
  if (depth(value) > MAX_DEPTH + 1) {
    throw invalidRequest(`Invalid JSON body: parameters may nest at most ${MAX_DEPTH} levels deep.`);
  }
  return value as Record<string, unknown>;
}
