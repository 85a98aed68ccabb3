import { randomBytes } from 'node:crypto';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Random, URL-safe body for object ids: 24 characters from 62 (~143 bits). */
export function randomId(length = 24): string {
  const bytes = randomBytes(length * 2);
  let out = '';
  for (let i = 0; i < bytes.length && out.length < length; i++) {
    const b = bytes[i];
    if (b < 248) out += ALPHABET[b % 62]; // 248 = 4 * 62: no modulo bias
  }
  return out.length === length ? out : out + randomId(length - out.length);
}

export const newId = (prefix: string) => `${prefix}_${randomId()}`;

export const nowSeconds = () => Math.floor(Date.now() / 1000);
