/**
 * `oncepay keys first`: the secret key the first start printed, read again from the embedded
 * data directory (src/cli/first_key.ts). No database is opened: it works while the server runs.
 * On PostgreSQL and in memory there is nothing to read back, and it says so.
 */
import { resolve } from 'node:path';
import { loadConfig } from '../../config.ts';
import { CliError } from '../errors.ts';
import { firstKeyPath, readFirstKey } from '../first_key.ts';
import { note, print } from '../output.ts';

export function keysFirst(): void {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    throw new CliError(`configuration: ${(err as Error).message}`);
  }
  if (config.databaseUrl) {
    throw new CliError('DATABASE_URL is set: on PostgreSQL the first key is not kept anywhere (the database stores keys hashed), ' +
      'only printed by the start that created it. `oncepay keys create` makes a new account and key (it works while servers run); ' +
      'or give the server your own keys with ONCEPAY_SECRET_KEY');
  }
  if (config.dataDir.startsWith('memory://')) {
    throw new CliError(`ONCEPAY_DATA_DIR=${config.dataDir} is in memory: an in-memory server's first key is only printed at its start`);
  }
  const first = readFirstKey(config.dataDir);
  if (!first) {
    throw new CliError(`no first key in ${resolve(firstKeyPath(config.dataDir))} (ONCEPAY_DATA_DIR): no server has started on this directory ` +
      'without ONCEPAY_SECRET_KEY yet, or it started before Oncepay kept the first key. `oncepay keys create` makes a new account and key');
  }
  note(`The first key of account ${first.account}, created ${first.created} (kept in ${resolve(firstKeyPath(config.dataDir))}; ` +
    'if it was revoked since, `oncepay keys list` shows it so):');
  print(first.key);
}
