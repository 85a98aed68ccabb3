/**
 * `oncepay serve`: start the API server (what `npm start` runs).
 *
 * The embedded data directory is locked for this process (src/cli/data_lock.ts: a pid file
 * removed on exit): a second server refuses it, and `oncepay keys ...` goes through this
 * server's PostgreSQL (PGlite: refuses meanwhile).
 */
import { mkdirSync } from 'node:fs';
import { loadConfig } from '../../config.ts';
import { createOncepay } from '../../server.ts';
import { acquireDataDirLock } from '../data_lock.ts';
import { describeStore } from '../local_db.ts';

export async function serve(opts: { inMemory?: boolean } = {}): Promise<void> {
  const config = loadConfig();
  // --in-memory is ONCEPAY_DATA_DIR=memory://: the embedded database lives in RAM and dies with the server.
  if (opts.inMemory) config.dataDir = 'memory://';
  // Released when the process exits. An in-memory database is this process's alone.
  if (!config.databaseUrl && !config.dataDir.startsWith('memory://')) {
    mkdirSync(config.dataDir, { recursive: true });
    acquireDataDirLock(config.dataDir, 'serve');
  }
  const oncepay = await createOncepay(config);
  const { app, logger } = oncepay;
  await app.listen({ port: config.port, host: config.host });
  const where = describeStore(config, oncepay.db);
  process.stdout.write(`Oncepay listening on http://${config.host}:${config.port} (${where})\n`);
  if (oncepay.firstKey) {
    process.stdout.write(`\nCreated a test-mode account. Its secret key is shown only this once:\n\n  ${oncepay.firstKey}\n\n` +
      `Use it with the official client: new Stripe(key, { host: '${config.host}', port: ${config.port}, protocol: 'http' })\n\n`);
  }
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
}
