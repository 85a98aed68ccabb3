/**
 * The signing secret `oncepay listen` uses, kept so that it stays the same from one run to the
 * next (like `stripe listen`): one per API address and key, in
 * `$ONCEPAY_HOME/listen_secrets.json` (ONCEPAY_HOME defaults to ~/.oncepay), readable by the
 * user only.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { newWebhookSecret } from '../events/signing.ts';

export function cliHome(env: NodeJS.ProcessEnv = process.env): string {
  return env.ONCEPAY_HOME || join(homedir(), '.oncepay');
}

export const secretsFile = (env: NodeJS.ProcessEnv = process.env) => join(cliHome(env), 'listen_secrets.json');

/** Which secret: the API address and a digest of the key (never the key itself). */
export const secretSlot = (apiBase: string, apiKey: string) =>
  `${apiBase} ${createHash('sha256').update(apiKey).digest('hex').slice(0, 16)}`;

function readAll(path: string): Record<string, string> {
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8'));
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? parsed : {};
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return {};
    throw new Error(`cannot read ${path}: ${(err as Error).message} (delete it to start over)`);
  }
}

/** The stored secret for this address and key, or a new one (stored). */
export function listenSecret(apiBase: string, apiKey: string, env: NodeJS.ProcessEnv = process.env): { secret: string; created: boolean; file: string } {
  const file = secretsFile(env);
  const all = readAll(file);
  const slot = secretSlot(apiBase, apiKey);
  const existing = all[slot];
  if (typeof existing === 'string' && existing.startsWith('whsec_')) return { secret: existing, created: false, file };
  const secret = newWebhookSecret();
  mkdirSync(cliHome(env), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify({ ...all, [slot]: secret }, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
  return { secret, created: true, file };
}
