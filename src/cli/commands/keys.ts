/**
 * `oncepay keys create|list|revoke`: API keys, straight in the server's database (same settings
 * as the server: DATABASE_URL, else the embedded database in ONCEPAY_DATA_DIR). Secret keys for
 * a new or an existing account, restricted keys with their permissions, publishable keys.
 */
import {
  createAccount, createKeyForAccount, createPublishableKey, createRestrictedKey, KeyAdminError, listKeys, revokeKey, type KeyRecord,
} from '../../accounts/keys.ts';
import { describePermissions, parsePermissions, resourceOfPath, type Permissions } from '../../accounts/permissions.ts';
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

/** The resources a restricted key may be granted: those of the API's routes. */
async function knownResources(): Promise<Set<string>> {
  const { apiRoutes } = await import('../../api/routes.ts');
  const { logRoutes } = await import('../../api/log_routes.ts');
  const routes = [...apiRoutes({ production: false, allow: [] }), ...logRoutes({ lockTimeoutMs: 1, retentionMs: 1 })];
  return new Set(routes.map((r) => resourceOfPath(r.path)));
}

export interface KeysCreateOptions {
  account?: string;
  restricted?: boolean;
  permission?: string[];
  publishable?: boolean;
}

export async function keysCreate(opts: KeysCreateOptions): Promise<void> {
  if (opts.account !== undefined && !/^acct_[A-Za-z0-9]+$/.test(opts.account)) {
    throw new CliError(`--account: expected an account id such as acct_1a2b3c (see \`oncepay keys list\`), got "${opts.account}"`);
  }
  const permissionValues = opts.permission ?? [];
  if (opts.restricted && opts.publishable) throw new CliError('--restricted and --publishable: choose one kind of key');
  if (permissionValues.length > 0 && !opts.restricted) throw new CliError('--permission: only for a restricted key (add --restricted)');
  if ((opts.restricted || opts.publishable) && opts.account === undefined) {
    throw new CliError(`--account: a ${opts.restricted ? 'restricted' : 'publishable'} key belongs to an existing account: pass --account acct_... (see \`oncepay keys list\`)`);
  }
  let permissions: Permissions | undefined;
  if (opts.restricted) {
    try {
      permissions = parsePermissions(permissionValues, await knownResources());
    } catch (err) {
      throw new CliError((err as Error).message);
    }
  }
  await withDatabase('keys create', opts.account !== undefined, async (local) => {
    if (opts.account === undefined) {
      const { accountId, key } = await createAccount(local.db);
      note(`Created account ${accountId} in ${local.where}, with this secret key (shown only this once):`);
      print(key);
    } else if (permissions) {
      const { accountId, key } = await createRestrictedKey(local.db, opts.account, permissions);
      note(`Created a restricted key for account ${accountId} in ${local.where} (${describePermissions(permissions)}), shown only this once:`);
      print(key);
    } else if (opts.publishable) {
      const { accountId, key } = await createPublishableKey(local.db, opts.account);
      note(`Created a publishable key for account ${accountId} in ${local.where} (public: \`keys list\` shows it too):`);
      print(key);
    } else {
      const { accountId, key } = await createKeyForAccount(local.db, opts.account);
      note(`Created a new secret key for account ${accountId} in ${local.where} (shown only this once):`);
      print(key);
    }
  });
}

const permissionsColumn = (k: KeyRecord) => (k.kind === 'restricted' ? describePermissions(k.permissions) : '-');

export async function keysList(opts: { account?: string; json?: boolean }): Promise<void> {
  await withDatabase('keys list', true, async (local) => {
    const keys = await listKeys(local.db, { accountId: opts.account });
    if (opts.json) {
      for (const k of keys) {
        print(JSON.stringify({ account: k.accountId, kind: k.kind, key_hint: k.hint, permissions: k.permissions, created: k.created, revoked_at: k.revokedAt }));
      }
      return;
    }
    if (keys.length === 0) {
      note(opts.account ? `No keys for account ${opts.account} in ${local.where}.` : `No keys in ${local.where}.`);
      return;
    }
    for (const line of keyRows(keys.map((k) => ({ ...k, permissions: permissionsColumn(k) })))) print(line);
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
