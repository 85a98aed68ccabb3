/**
 * JSON as api.stripe.com sends it: two-space indentation, so shell tooling that greps
 * `"status": "succeeded"` works against Oncepay too. Every response body and webhook payload is
 * written by this one function; replays send the stored text, byte for byte.
 */
export function wireJson(value: unknown): string {
  return JSON.stringify(value, null, 2);
}
