/**
 * The first account's secret key, kept in the embedded data directory (first_key.json, mode
 * 0600, readable by its owner only) so that `oncepay keys first` can show it again. On
 * PostgreSQL (DATABASE_URL) it is not kept anywhere: the database stores every key hashed, and
 * the server may run on another machine than the one reading it back.
 */
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const FIRST_KEY_FILE = 'first_key.json';

export interface FirstKey {
  account: string;
  key: string;
  /** ISO time of the start that created it. */
  created: string;
}

export const firstKeyPath = (dataDir: string) => join(dataDir, FIRST_KEY_FILE);

export function saveFirstKey(dataDir: string, first: FirstKey): string {
  const path = firstKeyPath(dataDir);
  writeFileSync(path, `${JSON.stringify(first)}\n`, { mode: 0o600 });
  chmodSync(path, 0o600); // an existing file keeps its mode through writeFileSync
  return path;
}

/** The kept key, or null when the directory has none. */
export function readFirstKey(dataDir: string): FirstKey | null {
  let text: string;
  try {
    text = readFileSync(firstKeyPath(dataDir), 'utf8');
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return null;
    throw err;
  }
  const first = JSON.parse(text) as FirstKey;
  if (typeof first.key !== 'string' || typeof first.account !== 'string') throw new Error(`${firstKeyPath(dataDir)}: not a first key file`);
  return first;
}
