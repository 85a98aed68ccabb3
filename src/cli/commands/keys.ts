/**
 * `oncepay keys create|list|revoke`: API keys, straight in the server's database (same settings
 * as the server: DATABASE_URL, else PGlite in ONCEPAY_DATA_DIR). With PGlite the server must
 * not be running on that directory (see src/cli/data_lock.ts).
 */
import { createAccount, createKeyForAccount, KeyAdminError, listKeys, revokeKey } from '../../accounts/keys.ts';
import { CliError } from '../errors.ts';
import { openLocalDatabase, requireSchema, type LocalDatabase } from '../local_db.ts';
import { formatTime, keyRows, note, print } from '../output.ts';

async function withDatabase<T>(command: string, mustExist: boolean, fn: (local: LocalDatabase) => Promise<T>): Promise<T> {
  const local = await openLocalDatabase(command, { mustExist });
  try {
    if (mustExist) await requireSchema(local);
    else await (await import('../../store/migrations.ts')).migrate(local.db);
    return await fn(local);
  } catch (err) {
    if (err instanceof KeyAdminError) throw new CliError(err.message);
    throw err;
  } finally {
    await local.close();
  }
}

export async function keysCreate(opts: { account?: string }): Promise<void> {
  if (opts.account !== undefined && !/^acct_[A-Za-z0-9]+$/.test(opts.account)) {
    throw new CliError(`--account: expected an account id such as acct_1a2b3c (see \`oncepay keys list\`), got "${opts.account}"`);
  }
  await withDatabase('keys create', opts.account !== undefined, async (local) => {
    if (opts.account === undefined) {
      const { accountId, key } = await createAccount(local.db);
      note(`Created account ${accountId} in ${local.where}, with this secret key (shown only this once):`);
      print(key);
    } else {
      const { accountId, key } = await createKeyForAccount(local.db, opts.account);
      note(`Created a new secret key for account ${accountId} in ${local.where} (shown only this once):`);
      print(key);
    }
  });
}

export async function keysList(opts: { account?: string; json?: boolean }): Promise<void> {
  await withDatabase('keys list', true, async (local) => {
    const keys = await listKeys(local.db, { accountId: opts.account });
    if (opts.json) {
      for (const k of keys) print(JSON.stringify({ account: k.accountId, key_hint: k.hint, created: k.created, revoked_at: k.revokedAt }));
      return;
    }
    if (keys.length === 0) {
      note(opts.account ? `No keys for account ${opts.account} in ${local.where}.` : `No keys in ${local.where}.`);
      return;
    }
    for (const line of keyRows(keys)) print(line);
  });
}

export async function keysRevoke(keyOrHint: string): Promise<void> {
  await withDatabase('keys revoke', true, async (local) => {
    const { key, alreadyRevoked } = await revokeKey(local.db, keyOrHint);
    if (alreadyRevoked) {
      print(`Key ${key.hint} of account ${key.accountId} was already revoked (${formatTime(key.revokedAt)}).`);
    } else {
      print(`Revoked key ${key.hint} of account ${key.accountId}. Running servers refuse it within 30 s (their key cache).`);
    }
  });
}
