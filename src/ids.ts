import { randomBytes } from 'node:crypto';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

// Random bytes are drawn 4 KiB at a time: one system call serves a hundred ids.
const POOL_SIZE = 4096;
let pool = randomBytes(POOL_SIZE);
let offset = 0;

function nextByte(): number {
  if (offset === POOL_SIZE) {
    pool = randomBytes(POOL_SIZE);
    offset = 0;
  }
  return pool[offset++];
}

/** Random, URL-safe body for object ids: 24 characters from 62 (~143 bits). */
export function randomId(length = 24): string {
  let out = '';
  while (out.length < length) {
    const b = nextByte();
    if (b < 248) out += ALPHABET[b % 62]; // 248 = 4 * 62: no modulo bias
  }
  return out;
}

export const newId = (prefix: string) => `${prefix}_${randomId()}`;

/**
 * The token in a hosted page's URL (a Checkout Session's, a portal session's, an invoice's): 48
 * random characters (~286 bits), never derived from the object's id. A lookup checks the shape
 * first, so nothing else reaches the database.
 */
export const newPageToken = () => randomId(48);
export const isPageToken = (token: string) => /^[A-Za-z0-9]{48}$/.test(token);

export const nowSeconds = () => Math.floor(Date.now() / 1000);
