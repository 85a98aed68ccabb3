/** The oncepay command. `serve` starts the API (what `npm start` runs). */
import { mkdirSync } from 'node:fs';
import { loadConfig } from '../config.ts';
import { createOncepay } from '../server.ts';

const USAGE = `Usage: oncepay <command>

Commands:
  serve     Start the API server (PORT, HOST, DATABASE_URL, ONCEPAY_* settings; see README)
  migrate   Run database migrations and exit
  help      Show this help
`;

async function serve(): Promise<void> {
  const config = loadConfig();
  if (!config.databaseUrl) mkdirSync(config.dataDir, { recursive: true });
  const oncepay = await createOncepay(config);
  const { app, logger } = oncepay;
  await app.listen({ port: config.port, host: config.host });
  const where = config.databaseUrl ? 'PostgreSQL' : `embedded PGlite at ${config.dataDir}`;
  process.stdout.write(`Oncepay listening on http://${config.host}:${config.port} (${where})\n`);
  if (oncepay.firstKey) {
    process.stdout.write(`\nCreated a test-mode account. Its secret key is shown only this once:\n\n  ${oncepay.firstKey}\n\n` +
      `Use it with the official client: new Stripe(key, { host: '${config.host}', port: ${config.port}, protocol: 'http' })\n\n`);
  }
  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, 'shutting down');
    const deadline = setTimeout(() => process.exit(1), 10_000);
    deadline.unref();
    await oncepay.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

async function migrateOnly(): Promise<void> {
  const config = loadConfig();
  if (!config.databaseUrl) mkdirSync(config.dataDir, { recursive: true });
  const { openDatabase } = await import('../store/db.ts');
  const { migrate } = await import('../store/migrations.ts');
  const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  const ran = await migrate(db);
  await db.close();
  process.stdout.write(ran.length ? `Applied migrations: ${ran.join(', ')}\n` : 'Database is up to date.\n');
}

const [command = 'help'] = process.argv.slice(2);
const commands: Record<string, () => Promise<void>> = { serve, migrate: migrateOnly };
if (command === 'help' || command === '--help' || command === '-h') {
  process.stdout.write(USAGE);
} else if (commands[command]) {
  commands[command]().catch((err) => {
    process.stderr.write(`oncepay ${command}: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
} else {
  process.stderr.write(`oncepay: unknown command "${command}"\n\n${USAGE}`);
  process.exit(2);
}
