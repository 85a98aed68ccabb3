/**
 * Composition root: opens the database, migrates, makes sure the configured keys exist, wires
 * the engine, the processor and the HTTP app, and starts the background workers.
 */
import type { Logger } from 'pino';
import type { FastifyInstance } from 'fastify';
import type { Config } from './config.ts';
import { openDatabase, type Db } from './store/db.ts';
import { migrate, pendingMigrations } from './store/migrations.ts';
import { IdempotencyEngine } from './idempotency/engine.ts';
import { startCompleter, startLoop, startReaper, type Loop } from './idempotency/workers.ts';
import { TestAcquirer } from './processor/test_acquirer.ts';
import { BillingRun } from './billing/billing_run.ts';
import type { CommandRunner, HostedDeps } from './checkout/hosted_deps.ts';
import { expireOverdueSessions } from './checkout/expiry.ts';
import { failPaymentAuthentication, failSetupAuthentication } from './payments/authentication.ts';
import type { AddressInfo } from 'node:net';
import { newId } from './ids.ts';
import { customerBilling, paymentPurposes } from './billing/payment_ports.ts';
import { expander } from './api/expansion.ts';
import { KeyResolver, ensureKeys } from './accounts/keys.ts';
import { buildApp } from './http/app.ts';
import { parseFaults, type FaultHook } from './faults.ts';
import type { Processor } from './processor/types.ts';
import { apiRoutes, routeCommands } from './api/routes.ts';
import { DEFAULT_SCHEDULE_MS, WebhookDispatcher } from './events/dispatcher.ts';
import type { UrlPolicy } from './events/url_safety.ts';
import { logRoutes } from './api/log_routes.ts';
import { buildOpenApiDocument } from './api/openapi/document.ts';
import { registerDocs } from './http/docs.ts';
import { webPages } from './web/pages.ts';
import { RequestLogWriter, reapRequestLogs } from './logs/request_log.ts';
import { Metrics } from './ops/metrics.ts';
import type { Readiness } from './http/ops_routes.ts';
import { processLogger } from './logs/process_log.ts';

export interface Oncepay {
  app: FastifyInstance;
  db: Db;
  engine: IdempotencyEngine<HostedDeps>;
  /** Where browsers reach this server: the base of the hosted pages' URLs. */
  publicUrl(): string;
  processor: Processor;
  completer: Loop;
  reaper: Loop;
  /** Renewals, collection and reminders on the wall clock (test clocks run theirs when advanced). */
  billingLoop: Loop;
  billing: BillingRun;
  dispatcher: WebhookDispatcher;
  requestLogs: RequestLogWriter;
  metrics: Metrics;
  logger: Logger;
  /**
   * Graceful stop: refuse new requests, let in-flight ones finish for up to `timeoutMs`, then
   * release the locks of any still running and cut their connections; stop the workers, write
   * the buffered request logs and close the database.
   */
  close(opts?: { timeoutMs?: number }): Promise<void>;
}

export async function createOncepay(config: Config, opts: { faults?: FaultHook; logger?: Logger; db?: Db } = {}): Promise<Oncepay> {
  const logger = opts.logger ?? processLogger(config.logLevel);
  const db = opts.db ?? (await openDatabase({
    databaseUrl: config.databaseUrl, dataDir: config.dataDir, embedded: config.embedded, poolSize: config.poolSize,
    onLog: (line) => logger.debug({ postgres: line }, 'embedded PostgreSQL'),
    onFallback: (reason) => logger.warn({ reason }, 'the embedded PostgreSQL cannot run here: using embedded PGlite (slower; set ONCEPAY_EMBEDDED=postgres to make this an error)'),
  }));
  await migrate(db);
  await ensureKeys(db, config.secretKeys);
  const processor = new TestAcquirer(db);
  const policy: UrlPolicy = { production: config.production, allow: config.webhookAllowedHosts };
  const metrics = new Metrics(db, { lockTimeoutMs: config.lockTimeoutMs });
  const dispatcher = new WebhookDispatcher(db, {
    scheduleMs: config.webhookScheduleMs ?? DEFAULT_SCHEDULE_MS, timeoutMs: config.webhookTimeoutMs,
    leaseMs: config.webhookLeaseMs, disableAfterMs: config.webhookDisableAfterMs, batch: 32, policy, logger,
    onAttempt: (a) => metrics.webhookAttempts.inc({ outcome: a.outcome }),
    onClaim: () => metrics.webhookClaims.inc(),
  });
  const faults = opts.faults ?? parseFaults(config.faults);
  // The billing run executes commands through the engine whose commands (a test clock advance)
  // drive the billing run: the engine's deps reach it through this late-bound port.
  let billing: BillingRun | undefined;
  let app: FastifyInstance | undefined;
  // Commands made of the API's own commands (a Checkout Session's completion) run them through this engine.
  const commands: CommandRunner = {
    async execute(call) {
      const res = await engine.execute({ ...call, command: call.command as never, requestId: newId('req'), internal: true });
      return { status: res.status, body: JSON.parse(res.body) as Record<string, unknown> };
    },
  };
  // Known once the server listens (PORT=0 picks a free port): read when a URL is made.
  const publicUrl = () => config.publicUrl
    ?? `http://localhost:${(app?.server.address() as AddressInfo | null)?.port ?? config.port}`;
  const engine: IdempotencyEngine<HostedDeps> = new IdempotencyEngine<HostedDeps>(db, {
    lockTimeoutMs: config.lockTimeoutMs, faults, onCommit: (q) => dispatcher.committed(q),
    onEvent: (event) => metrics.idempotency.inc({ event }),
    deps: {
      processor, purposes: paymentPurposes, customerBilling, expander,
      billingRun: { run: (scope) => billing!.run(scope) },
      publicUrl,
      commands,
    },
  });
  billing = new BillingRun(db, engine, { reminderOffsets: config.invoiceReminderOffsets, logger, faults, publicUrl });
  const requestLogs = new RequestLogWriter(db, { logger, onDropped: (n) => metrics.requestLogsDropped.inc(n) });
  let stopping = false;
  const readiness = async (): Promise<Readiness> => {
    const checks: Readiness['checks'] = {};
    try {
      const pending = await pendingMigrations(db);
      checks.database = { ok: true };
      checks.migrations = pending === 0 ? { ok: true } : { ok: false, detail: `${pending} migration(s) not applied` };
    } catch (err) {
      checks.database = { ok: false, detail: (err as Error).message };
      checks.migrations = { ok: false, detail: 'database unreachable' };
    }
    checks.workers = stopping ? { ok: false, detail: 'shutting down' } : { ok: true };
    return { ready: Object.values(checks).every((c) => c.ok), checks };
  };
  const routes = [...apiRoutes(policy), ...logRoutes({ lockTimeoutMs: config.lockTimeoutMs, retentionMs: config.idempotencyRetentionMs, pendingLogs: requestLogs })];
  // Besides the routes' commands: the hosted pages' own (failing 3-D Secure on the test step).
  engine.register(...routeCommands(routes), failPaymentAuthentication as never, failSetupAuthentication as never);
  app = await buildApp({
    db, engine, processor, keys: new KeyResolver(db, { acceptAnyKey: config.acceptAnyKey }), logger, routes, requestLogs, metrics, readiness,
    rateLimitPerSecond: config.rateLimitPerSecond,
    extras: async (app) => {
      await registerDocs(app, buildOpenApiDocument(routes));
      await app.register(webPages({ db, commands, publicUrl }));
    },
  });
  const completer = startCompleter(engine, config.completerIntervalMs, config.lockTimeoutMs, logger);
  const reaper = startReaper(engine, config.reaperIntervalMs, config.idempotencyRetentionMs, logger);
  const billingLoop = startLoop('billing', config.billingIntervalMs, () => billing.run({ clock: null }), logger);
  const checkoutExpiry = startLoop('checkout expiry', config.billingIntervalMs, () => expireOverdueSessions(db, commands), logger);
  const logReaper = startLoop('request log reaper', config.reaperIntervalMs, () => reapRequestLogs(db, config.requestLogRetentionMs), logger);
  if (config.webhookIntervalMs > 0) dispatcher.start(config.webhookIntervalMs);
  let closed: Promise<void> | undefined;
  const close = async (timeoutMs: number) => {
    stopping = true;
    const drained = app.close();
    // Kept-alive client connections would hold close() open until the deadline: cut each one
    // as soon as it has no request in flight.
    const idleCloser = setInterval(() => app.server.closeIdleConnections(), 25);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      drained.then(() => false),
      new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(true), timeoutMs); }),
    ]);
    clearTimeout(timer);
    clearInterval(idleCloser);
    if (timedOut) {
      const released = await engine.releaseLocks();
      logger.warn({ released, inFlight: engine.inFlight }, 'shutdown deadline passed: released locks of unfinished requests and closed their connections');
      app.server.closeAllConnections();
      await drained;
    }
    await Promise.all([dispatcher.stop(), completer.stop(), reaper.stop(), logReaper.stop(), billingLoop.stop(), checkoutExpiry.stop()]);
    await engine.releaseLocks();
    await requestLogs.flush();
    if (!opts.db) await db.close();
  };
  return {
    app, db, engine, publicUrl, processor, completer, reaper, billingLoop, billing, dispatcher, requestLogs, metrics, logger,
    close: (o = {}) => (closed ??= close(o.timeoutMs ?? config.shutdownTimeoutMs)),
  };
}
