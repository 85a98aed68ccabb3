/** Reading request headers the way the API means them. */
import type { FastifyRequest } from 'fastify';

/** A header's value, the first one if it was sent several times; null if absent. */
export function firstHeader(req: FastifyRequest, name: string): string | null {
  const v = req.headers[name];
  return (Array.isArray(v) ? v[0] : v) ?? null;
}

/**
 * Node reads header bytes as Latin-1; clients (stripe-node included) send non-ASCII keys as
 * UTF-8. Valid UTF-8 is read as such, so `clé` stays `clé` in storage, logs and inspection URLs.
 */
export function utf8Header(value: string | null): string | null {
  if (value === null || !/[\u0080-\u00ff]/.test(value)) return value;
  const bytes = Buffer.from(value, 'latin1');
  const text = bytes.toString('utf8');
  return Buffer.from(text, 'utf8').equals(bytes) ? text : value;
}
