/**
 * `oncepay serve`: start the API server (what `npm start` runs).
 *
 * Nothing is created by a start that cannot succeed: the address, the data directory and
 * PostgreSQL are checked first (src/cli/startup.ts), and the first account is made only once the
 * server listens. Its key is printed, and kept in the embedded data directory for
 * `oncepay keys first` (src/cli/first_key.ts).
 *
 * The embedded data directory is locked for this process (src/cli/data_lock.ts: a pid file
 * removed on exit): a second server refuses it, and `oncepay keys ...` goes through this
 * server's PostgreSQL (PGlite: refuses meanwhile).
 */
import type { AddressInfo } from 'node:net';
import { loadConfig, type Config } from '../../config.ts';
import type { Oncepay } from '../../server.ts';
import { acquireDataDirLock } from '../data_lock.ts';
import { CliError } from '../errors.ts';
import { saveFirstKey } from '../first_key.ts';
import { checkAddressFree, checkDataDir, checkPostgres, describeListenError, exitOnSignalsDuringStartup } from '../startup.ts';

export async function serve(opts: { inMemory?: boolean } = {}): Promise<void> {
  const startup = exitOnSignalsDuringStartup('oncepay serve');
  const config = loadConfig();
  // --in-memory is ONCEPAY_DATA_DIR=memory://: the embedded database lives in RAM and dies with the server.
  if (opts.inMemory) config.dataDir = 'memory://';
  const onDisk = !config.databaseUrl && !config.dataDir.startsWith('memory://');
  await checkAddressFree(config.host, config.port);
  if (config.databaseUrl) await checkPostgres(config.databaseUrl);
  // Released when the process exits. An in-memory database is this process's alone.
  if (onDisk) {
    checkDataDir(config.dataDir);
    acquireDataDirLock(config.dataDir, 'serve');
  }
  // The server's modules load only now: a start that fails its checks fails fast.
  const { createOncepay } = await import('../../server.ts');
  const { describeStore } = await import('../local_db.ts');
  const oncepay = await createOncepay(config);
  const { app, logger } = oncepay;
  // From here on a signal closes what was opened (the embedded PostgreSQL, an in-memory cluster).
  startup.done();
  // Graceful shutdown (see Oncepay.close): drain up to ONCEPAY_SHUTDOWN_TIMEOUT, release the
  // locks of what is still running, stop workers, write buffered logs. The watchdog only
  // catches a shutdown that itself hangs.
  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    logger.info({ signal, timeoutMs: config.shutdownTimeoutMs }, 'shutting down');
    const watchdog = setTimeout(() => process.exit(1), config.shutdownTimeoutMs + 5_000);
    watchdog.unref();
    try {
      await oncepay.close({ timeoutMs: config.shutdownTimeoutMs });
    } catch (err) {
      logger.error({ err }, 'shutdown failed');
      process.exit(1);
    }
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  try {
    await app.listen({ port: config.port, host: config.host });
  } catch (err) {
    await oncepay.close({ timeoutMs: 0 }).catch(() => {});
    const message = describeListenError(err, config.host, config.port);
    throw message ? new CliError(message) : err;
  }
  const port = (app.server.address() as AddressInfo).port;
  const where = describeStore(config, oncepay.db);
  // Made before "listening" is printed: a harness that stops the server as soon as it reads that
  // line stops a server that has finished starting. Stopped meanwhile, the shutdown exits.
  const first = await createFirstAccount(oncepay, config, onDisk).catch((err) => {
    if (closing) return new Promise<never>(() => {});
    throw err;
  });
  process.stdout.write(`Oncepay listening on http://${config.host}:${port} (${where})\n`);
  if (first) {
    const again = first.keptIn
      ? `It is kept in ${first.keptIn} (readable by you only): \`oncepay keys first\` prints it again.`
      : 'It is not kept anywhere (the database stores keys hashed): note it now, or make another with `oncepay keys create`.';
    process.stdout.write(`\nCreated a test-mode account (${first.accountId}). Its secret key:\n\n  ${first.key}\n\n${again}\n` +
      `Use it with the official client: new Stripe(key, { host: '${config.host}', port: ${port}, protocol: 'http' })\n\n`);
  }
}

/**
 * With no ONCEPAY_SECRET_KEY and no secret key in the database, a test-mode account, made once
 * the server listens (a start that fails creates nothing). On disk, its key is kept for
 * `oncepay keys first`.
 */
async function createFirstAccount(oncepay: Oncepay, config: Config, onDisk: boolean): Promise<{ accountId: string; key: string; keptIn?: string } | undefined> {
  const { countKeys, createAccount } = await import('../../accounts/keys.ts');
  if (config.secretKeys.length > 0 || (await countKeys(oncepay.db)) > 0) return undefined;
  const { accountId, key } = await createAccount(oncepay.db);
  const keptIn = onDisk ? saveFirstKey(config.dataDir, { account: accountId, key, created: new Date().toISOString() }) : undefined;
  return { accountId, key, keptIn };
}
