/**
 * Composition root: opens the database, migrates, makes sure the configured keys exist, wires
 * the engine, the processor and the HTTP app, and starts the background workers.
 */
import pino, { type Logger } from 'pino';
import type { FastifyInstance } from 'fastify';
import type { Config } from './config.ts';
import { openDatabase, type Db } from './store/db.ts';
import { migrate } from './store/migrations.ts';
import { IdempotencyEngine } from './idempotency/engine.ts';
import { startCompleter, startReaper, type Loop } from './idempotency/workers.ts';
import { TestAcquirer } from './processor/test_acquirer.ts';
import { customerCommands } from './payments/customers.ts';
import { paymentIntentCommands } from './payments/payment_intents.ts';
import { refundCommands } from './payments/refunds.ts';
import { KeyResolver, countKeys, createAccount, ensureKeys } from './accounts/keys.ts';
import { buildApp } from './http/app.ts';
import { parseFaults, type FaultHook } from './faults.ts';
import type { Processor } from './processor/types.ts';
import { apiRoutes } from './api/routes.ts';
import { endpointCommands } from './events/endpoints.ts';
import { DEFAULT_SCHEDULE_MS, WebhookDispatcher } from './events/dispatcher.ts';
import type { UrlPolicy } from './events/url_safety.ts';

export interface Oncepay {
  app: FastifyInstance;
  db: Db;
  engine: IdempotencyEngine;
  processor: Processor;
  completer: Loop;
  reaper: Loop;
  dispatcher: WebhookDispatcher;
  logger: Logger;
  /** Set when this start created the first account: the key is shown once. */
  firstKey?: string;
  close(): Promise<void>;
}

export async function createOncepay(config: Config, opts: { faults?: FaultHook; logger?: Logger; db?: Db } = {}): Promise<Oncepay> {
  const logger = opts.logger ?? pino({ level: config.logLevel });
  const db = opts.db ?? (await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolSize: config.poolSize }));
  await migrate(db);
  await ensureKeys(db, config.secretKeys);
  let firstKey: string | undefined;
  if (config.secretKeys.length === 0 && (await countKeys(db)) === 0) {
    firstKey = (await createAccount(db)).key;
  }
  const processor = new TestAcquirer(db);
  const policy: UrlPolicy = { production: config.production, allow: config.webhookAllowedHosts };
  const dispatcher = new WebhookDispatcher(db, {
    scheduleMs: config.webhookScheduleMs ?? DEFAULT_SCHEDULE_MS, timeoutMs: config.webhookTimeoutMs,
    leaseMs: Math.max(config.webhookTimeoutMs * 3, 30_000), disableAfterMs: config.webhookDisableAfterMs, batch: 32, policy, logger,
  });
  const engine = new IdempotencyEngine(db, {
    lockTimeoutMs: config.lockTimeoutMs, faults: opts.faults ?? parseFaults(config.faults), onCommit: () => dispatcher.wake(),
  });
  engine.register(...customerCommands, ...paymentIntentCommands(processor), ...refundCommands(processor), ...endpointCommands());
  const app = buildApp({ db, engine, processor, keys: new KeyResolver(db), logger, routes: apiRoutes(policy) });
  const completer = startCompleter(engine, config.completerIntervalMs, config.lockTimeoutMs, logger);
  const reaper = startReaper(engine, config.reaperIntervalMs, config.idempotencyRetentionMs, logger);
  if (config.webhookIntervalMs > 0) dispatcher.start(config.webhookIntervalMs);
  return {
    app, db, engine, processor, completer, reaper, dispatcher, logger, firstKey,
    async close() {
      await app.close();
      await dispatcher.stop();
      await completer.stop();
      await reaper.stop();
      if (!opts.db) await db.close();
    },
  };
}
