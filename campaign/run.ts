/**
 * Oncepay's fault campaign (`npm run campaign -- --help`): two server processes on one
 * PostgreSQL cluster of the campaign's own, each behind a lossy proxy; a webhook receiver built
 * from src/receiver/; N workers doing business through the official client with journaled
 * idempotency keys; a fault loop killing, pausing and restarting servers and PostgreSQL. Then it
 * quiesces and checks the invariants (campaign/invariants.ts), prints a summary, and exits 0
 * only if nothing was violated. See README.md, "Fault campaign".
 */
import { randomBytes } from 'node:crypto';
import { appendFileSync, chmodSync, mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import pg from 'pg';
import { ACTION_KINDS, ActionAborted, DEFAULT_WEIGHTS, newModel, runAction, type ActionKind } from './actions.ts';
import { CampaignClient, HungRequest, Journal, makeStripe, newRequestStats, type ServerError } from './client.ts';
import { durationMs, parseConfig, usage, type CampaignConfig } from './config.ts';
import { FaultLoop, newFaultCounts } from './faults.ts';
import {
  check5xx, checkExactlyOnce, checkInvoiceNumbers, checkLedgerAgrees, checkNoHang, checkOutcomes, checkReplays,
  checkServerExits, checkUnfinishedKeys, checkWebhooks, loadWorld, type Direct, type InvariantResult,
} from './invariants.ts';
import { LossyProxy } from './lossy_proxy.ts';
import { freePort } from './net_util.ts';
import { PgCluster } from './pg_cluster.ts';
import { Rng, randomSeed, sleep } from './prng.ts';
import { Receiver } from './receiver.ts';
import { OncepayServer, type UnexpectedExit } from './servers.ts';

let cfg: CampaignConfig;
try {
  const parsed = parseConfig(process.argv.slice(2), process.env);
  if (parsed === 'help') {
    process.stdout.write(usage());
    process.exit(0);
  }
  cfg = parsed;
} catch (err) {
  process.stderr.write(`campaign: ${(err as Error).message}\n`);
  process.exit(2);
}

const seed = cfg.seed ?? randomSeed();
const rng = new Rng(seed);
const runId = `c${seed.toString(36)}`;
const t0 = Date.now();
const runDir = mkdtempSync(join(tmpdir(), 'oncepay-campaign-'));
chmodSync(runDir, 0o755); // the postgres user must reach its cluster directory inside
const logFile = join(runDir, 'campaign.log');
const elapsed = () => ((Date.now() - t0) / 1000).toFixed(1).padStart(6);
function log(msg: string): void {
  const line = `[${elapsed()}s] ${msg}`;
  appendFileSync(logFile, line + '\n');
  if (cfg.verbose) console.log(line);
}
function say(msg: string): void {
  appendFileSync(logFile, `[${elapsed()}s] ${msg}\n`);
  console.log(`[${elapsed()}s] ${msg}`);
}

say(`Oncepay fault campaign: seed ${seed} (repeat with --seed ${seed}), ${cfg.duration} s, ${cfg.workers} workers, faults every ~${cfg.faultInterval} s: ${cfg.faults.join(', ') || 'none'}`);
say(`run directory ${runDir}`);

// ------------------------------------------------------------------------------------------
// Everything the campaign starts, so that teardown (normal, failure, SIGINT) stops all of it.
const pgc = new PgCluster(runDir);
const servers: OncepayServer[] = [];
const proxies: LossyProxy[] = [];
let receiverProxy: LossyProxy | undefined;
let receiver: Receiver | undefined;
const dbClients: pg.Client[] = [];
let faultLoop: FaultLoop | undefined;
let stopWorkers = false;
let tornDown = false;

async function teardown(keepDir: boolean): Promise<void> {
  if (tornDown) return;
  tornDown = true;
  stopWorkers = true;
  await Promise.race([faultLoop?.stop(), sleep(15_000)]).catch(() => {});
  await Promise.all(servers.map((s) => s.shutdown().catch(() => {})));
  await Promise.all(proxies.map((p) => p.close().catch(() => {})));
  await receiverProxy?.close().catch(() => {});
  await receiver?.close().catch(() => {});
  await Promise.all(dbClients.map((c) => c.end().catch(() => {})));
  await pgc.stop().catch(() => {});
  pgc.removeData();
  if (!keepDir) rmSync(runDir, { recursive: true, force: true });
  else console.log(`kept ${runDir} (journal.jsonl, campaign.log, server-*.log, pg/postgresql.log)`);
}

process.on('exit', () => {
  for (const s of servers) s.killSync();
  pgc.stopSync();
});
let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    console.error(`\ncampaign: ${signal}, tearing down`);
    void teardown(true).finally(() => process.exit(130));
  });
}

// ------------------------------------------------------------------------------------------
const faultCounts = newFaultCounts();
const reqStats = newRequestStats();
const serverErrors: ServerError[] = [];
const unexpectedExits: UnexpectedExit[] = [];
const campaignErrors: string[] = [];
const model = newModel();
const actions: { kind: ActionKind; ms: number; outcome: 'ok' | 'aborted' | 'hung' | 'error'; error?: string }[] = [];

async function connectDb(url: string): Promise<pg.Client> {
  for (let i = 0; ; i++) {
    const c = new pg.Client({ connectionString: url });
    c.on('error', () => {});
    try {
      await c.connect();
      dbClients.push(c);
      return c;
    } catch (err) {
      await c.end().catch(() => {});
      if (i >= 30) throw err;
      await sleep(500);
    }
  }
}

async function main(): Promise<number> {
  await pgc.start();
  await pgc.createDatabase('oncepay');
  await pgc.createDatabase('receiver');
  say(`PostgreSQL (${pgc.dataDir}) on 127.0.0.1:${pgc.port}: databases oncepay and receiver`);

  receiver = new Receiver(pgc.url('receiver'), cfg.receiverFail, rng.fork('receiver'), log);
  await receiver.setup();
  await receiver.listen();
  receiverProxy = new LossyProxy('receiver-proxy', receiver.port,
    { drop: cfg.receiverDrop, reset: cfg.receiverReset, latency: 0.1, latencyMaxMs: 200 }, rng.fork('receiver-proxy'));
  await receiverProxy.listen();

  const key = `sk_test_campaign_${randomBytes(12).toString('hex')}`;
  const lockTimeoutMs = durationMs(cfg.lockTimeout);
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '',
    HOST: '127.0.0.1',
    DATABASE_URL: pgc.url('oncepay'),
    ONCEPAY_SECRET_KEY: key,
    ONCEPAY_IDEMPOTENCY_LOCK_TIMEOUT: cfg.lockTimeout,
    ONCEPAY_COMPLETER_INTERVAL: '1s',
    ONCEPAY_WEBHOOK_RETRY_SCHEDULE: '200ms,500ms,1s,2s,4s,8s,15s,30s',
    ONCEPAY_WEBHOOK_TIMEOUT: '2s',
    ONCEPAY_WEBHOOK_LEASE: '6s',
    ONCEPAY_BILLING_INTERVAL: '2s',
    ONCEPAY_SHUTDOWN_TIMEOUT: '5s',
    ONCEPAY_DB_POOL_SIZE: '10',
    ONCEPAY_LOG_LEVEL: 'warn',
  };
  faultLoop = new FaultLoop(servers, pgc, rng.fork('faults'), {
    kinds: cfg.faults, intervalMs: cfg.faultInterval * 1000, lockTimeoutMs, pauseExtraMs: cfg.pauseExtra * 1000, webhookLeaseMs: durationMs(env.ONCEPAY_WEBHOOK_LEASE), armProbability: 0.6, rearmProbability: 0.3,
  }, faultCounts, log);
  const fl = faultLoop;
  const hooks = {
    chooseRule: (_s: OncepayServer, after: 'fault' | 'self_kill' | 'crash' | 'start') => fl.chooseRule(after),
    onSelfKill: (s: OncepayServer, rule: string) => fl.onSelfKill(s, rule),
    onUnexpectedExit: (e: UnexpectedExit) => {
      unexpectedExits.push(e);
      say(`server ${e.server} exited by itself: code ${e.exit.code}, signal ${e.exit.signal}`);
    },
    log,
  };
  for (const name of ['A', 'B']) servers.push(new OncepayServer(name, await freePort(), env, runDir, hooks));
  await Promise.all([servers[0].start(), servers[1].start(fl.chooseRule('start'))]);
  say(`servers A (:${servers[0].port}) and B (:${servers[1].port}) up${servers[1].rule ? `, B armed with ${servers[1].rule}` : ''}`);

  for (const s of servers) {
    const p = new LossyProxy(`proxy-${s.name}`, s.port, { drop: cfg.drop, reset: cfg.reset, latency: cfg.latency, latencyMaxMs: cfg.latencyMaxMs }, rng.fork(`proxy-${s.name}`));
    await p.listen();
    proxies.push(p);
  }
  const direct: Direct = { stripes: servers.map((s) => makeStripe(key, s.port, 30_000)), urls: servers.map((s) => s.url), key };
  const journal = new Journal(join(runDir, 'journal.jsonl'));
  const deadlineMs = cfg.actionDeadline * 1000;

  // The webhook endpoint, sent like any write (journaled, replayed at the end), unproxied.
  const setup = new CampaignClient(-1, direct.stripes.map((s, i) => ({ name: `direct-${servers[i].name}`, stripe: s })), journal, reqStats, serverErrors, rng.fork('setup'), { runId, deadlineMs });
  const ep = await setup.send('setup', 'webhook_endpoints.create', { params: { url: `http://127.0.0.1:${receiverProxy.port}/webhooks`, enabled_events: ['*'] } });
  if (ep.status !== 200 || !ep.body.secret) throw new Error(`could not create the webhook endpoint: ${ep.status} ${JSON.stringify(ep.body)}`);
  receiver.secret = ep.body.secret;
  const endpointId = ep.body.id as string;
  say(`webhook endpoint ${endpointId} -> receiver :${receiver.port} through its proxy :${receiverProxy.port}`);

  // ----------------------------------------------------------------------------------------
  // Load under faults.
  const weights = ACTION_KINDS.map((k) => [k, DEFAULT_WEIGHTS[k]] as const);
  const workerDone: boolean[] = [];
  const workers = Array.from({ length: cfg.workers }, async (_, w) => {
    const wrng = rng.fork(`worker${w}`);
    const client = new CampaignClient(w, proxies.map((p) => ({ name: p.name, stripe: makeStripe(key, p.port, cfg.requestTimeoutMs) })),
      journal, reqStats, serverErrors, wrng.fork('client'), { runId, deadlineMs, log: cfg.verbose ? log : undefined });
    for (let i = 0; !stopWorkers; i++) {
      const kind = wrng.weighted(weights);
      const started = Date.now();
      let outcome: 'ok' | 'aborted' | 'hung' | 'error' = 'ok';
      let error: string | undefined;
      try {
        await runAction(kind, { client, rng: wrng, model, id: `${kind}${i}` });
      } catch (err) {
        error = (err as Error).message;
        if (err instanceof ActionAborted) outcome = 'aborted';
        else if (err instanceof HungRequest) outcome = 'hung';
        else {
          outcome = 'error';
          campaignErrors.push(`worker ${w} ${kind}: ${(err as Error).stack ?? err}`);
        }
        log(`worker ${w}: ${kind} ${outcome}: ${error}`);
      }
      actions.push({ kind, ms: Date.now() - started, outcome, error });
    }
    workerDone[w] = true;
  });

  fl.start();
  const loadEnd = Date.now() + cfg.duration * 1000;
  const progress = setInterval(() => {
    const f = faultCounts;
    say(`actions ${actions.length}, requests ${reqStats.definitive} (${reqStats.attempts} attempts), faults: kill ${f.kill}, self-kill ${f.self_kill}, pg ${f.pg_restart_fast + f.pg_restart_immediate}, pause ${f.pause}, term ${f.term}; servers ${servers.map((s) => `${s.name}:${s.state}`).join(' ')}`);
  }, 15_000);
  const loadStart = Date.now();
  while (Date.now() < loadEnd && campaignErrors.length === 0) await sleep(250);
  const loadSeconds = (Date.now() - loadStart) / 1000;

  // ----------------------------------------------------------------------------------------
  // Quiesce: no more faults; both servers up and unarmed; workers finish their last action;
  // the completer and the dispatcher drain.
  say('quiescing: faults off, workers finishing their last action');
  const qStart = Date.now();
  const qDeadline = qStart + cfg.quiesceTimeout * 1000;
  await fl.stop();
  for (const p of proxies) p.enabled = false;
  receiverProxy.enabled = false;
  receiver.injecting = false;
  stopWorkers = true;
  if (!(await pgc.isUp())) await pgc.restart('fast').catch((err) => say(`PostgreSQL did not come back: ${err.message}`));
  // Up, then unarmed: a server still carrying a self-kill rule (also one that was starting
  // with it) is stopped gracefully and started again without one (arming is off now).
  let up = await Promise.all(servers.map((s) => s.ensureUp(90_000)));
  for (const s of servers) {
    if (s.rule && s.state === 'up') {
      log(`server ${s.name} still armed with ${s.rule}: restarting it unarmed (SIGTERM)`);
      await s.term();
    }
  }
  up = await Promise.all(servers.map((s) => s.ensureUp(90_000)));
  if (!up.every(Boolean)) say(`servers not up after quiescing: ${servers.map((s) => `${s.name}:${s.state}`).join(' ')}`);
  await Promise.race([Promise.all(workers), sleep(Math.max(0, qDeadline - Date.now()))]);
  const unfinishedWorkers = cfg.workers - workerDone.filter(Boolean).length;
  clearInterval(progress);

  const db = await connectDb(pgc.url('oncepay'));
  const rdb = await connectDb(pgc.url('receiver'));
  let drained = false;
  let lastDrain = '';
  while (Date.now() < qDeadline) {
    const { rows: [k] } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM idempotency_keys WHERE finished_at IS NULL');
    const { rows: [d] } = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM webhook_deliveries WHERE status = 'pending'");
    lastDrain = `${k.n} unfinished keys, ${d.n} pending deliveries`;
    if (k.n === 0 && d.n === 0) { drained = true; break; }
    log(`draining: ${lastDrain}`);
    await sleep(1000);
  }
  const quiesceSeconds = (Date.now() - qStart) / 1000;
  say(drained ? `quiesced in ${quiesceSeconds.toFixed(1)} s` : `not drained after ${quiesceSeconds.toFixed(1)} s: ${lastDrain}`);

  if (cfg.selfTest) await plantViolations(db, rdb, journal, deadlineMs);

  // ----------------------------------------------------------------------------------------
  // Invariants.
  const cStart = Date.now();
  const results: InvariantResult[] = [];
  results.push(await checkUnfinishedKeys(db));
  results.push(await checkInvoiceNumbers(db));
  results.push(await checkWebhooks(db, rdb, endpointId, receiver.counts));
  const world = await loadWorld(direct);
  const subInvoices = new Map<string, any[]>();
  for (const inv of world.invoices) {
    if (!inv.subscription) continue;
    const list = subInvoices.get(inv.subscription) ?? [];
    list.push(inv);
    subInvoices.set(inv.subscription, list);
  }
  results.push(checkExactlyOnce(world, journal, model, subInvoices));
  results.push(checkLedgerAgrees(world, model));
  const { rows: [before] } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM events');
  const replays = await checkReplays(direct, journal);
  const { rows: [after] } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM events');
  if (after.n !== before.n) replays.violations.push(`replaying wrote ${after.n - before.n} events (replays must run nothing)`);
  results.push(replays);
  results.push(check5xx(serverErrors, pgc.outages, 5000));
  results.push(checkNoHang(actions, deadlineMs, unfinishedWorkers, journal));
  results.push(checkOutcomes(model));
  results.push(checkServerExits(unexpectedExits, campaignErrors, servers.reduce((n, s) => n + s.starts, 0)));
  const checkSeconds = (Date.now() - cStart) / 1000;

  // ----------------------------------------------------------------------------------------
  const byKind: Record<string, Record<string, number>> = {};
  for (const k of ACTION_KINDS) byKind[k] = { total: 0, ok: 0, aborted: 0, hung: 0, error: 0 };
  for (const a of actions) { byKind[a.kind].total++; byKind[a.kind][a.outcome]++; }
  const sumProxy = (key: keyof LossyProxy['counts']) => proxies.reduce((s, p) => s + p.counts[key], 0);
  const violations = results.reduce((s, r) => s + r.violations.length, 0);
  const summary = {
    seed, passed: violations === 0 && drained,
    config: cfg,
    duration_s: { load: round(loadSeconds), quiesce: round(quiesceSeconds), checks: round(checkSeconds), total: round((Date.now() - t0) / 1000) },
    drained, drain_state: lastDrain,
    actions: { total: actions.length, by_kind: byKind },
    requests: { ...reqStats, journaled_keys: journal.entries.size },
    faults: {
      kills: faultCounts.kill, self_kills: faultCounts.self_kill, armed_starts: faultCounts.armed,
      pg_restarts: faultCounts.pg_restart_fast + faultCounts.pg_restart_immediate,
      pg_restarts_fast: faultCounts.pg_restart_fast, pg_restarts_immediate: faultCounts.pg_restart_immediate, pg_restart_failures: faultCounts.pg_restart_failed,
      pauses: faultCounts.pause, sigterms: faultCounts.term,
      dropped_responses: sumProxy('dropped'), resets: sumProxy('resets'), delayed: sumProxy('delayed'),
      upstream_down: sumProxy('upstreamErrors'), proxied_requests: sumProxy('requests'),
      self_kills_by_rule: faultCounts.selfKillsByRule,
      server_starts: Object.fromEntries(servers.map((s) => [s.name, s.starts])),
      server_start_failures: Object.fromEntries(servers.map((s) => [s.name, s.startFailures])),
    },
    receiver: { ...receiver.counts, proxy: receiverProxy.counts },
    invariants: Object.fromEntries(results.map((r) => [r.name, { description: r.description, checked: r.checked, violations: r.violations.length, details: r.violations, notes: r.notes }])),
    violations,
    run_dir: runDir,
  };
  printSummary(summary, results);
  if (cfg.selfTest) {
    const missed = results.filter((r) => r.violations.length === 0).map((r) => r.name);
    say(missed.length ? `SELF-TEST FAILED: planted violations not caught by ${missed.join(', ')}` : `SELF-TEST PASSED: each of the ${results.length} invariants caught its planted violation`);
    Object.assign(summary, { self_test: { missed } });
    summary.passed = missed.length === 0;
  }
  if (cfg.summary) {
    const file = resolve(cfg.summary);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify(summary, null, 2) + '\n');
    say(`summary written to ${file}`);
  }
  return summary.passed ? 0 : 1;
}

/**
 * --self-test: one planted violation per invariant, after quiescing (the database is the
 * campaign's own and is thrown away). A check that reports nothing here checks nothing.
 */
async function plantViolations(db: pg.Client, rdb: pg.Client, journal: Journal, deadlineMs: number): Promise<void> {
  say('self-test: planting one violation of every invariant');
  const { rows: [acct] } = await db.query<{ account_id: string }>('SELECT account_id FROM api_keys LIMIT 1');
  // An unfinished key, held (locked_at ahead) so that no completer touches it.
  await db.query(`INSERT INTO idempotency_keys (account_id, key, client_supplied, method, path, command, fingerprint, params, request_id, locked_at, lock_token)
    VALUES ($1, 'campaign-self-test', true, 'POST', '/v1/customers', 'customers.create', 'self-test', '{}', 'req_selftest', now() + interval '1 hour', 'self-test')`, [acct.account_id]);
  // A gap: the counter ahead of the highest number.
  await db.query('UPDATE invoice_counters SET last_number = last_number + 1 WHERE account_id = $1', [acct.account_id]);
  // An event handled twice by the receiver.
  await rdb.query('INSERT INTO campaign_received (event_id, event_type) SELECT event_id, event_type FROM campaign_received ORDER BY seq LIMIT 1');
  // A second sale for an intent that succeeded.
  const paid = model.payments.find((p) => p.expect === 'succeeded');
  if (paid) {
    await db.query(`INSERT INTO acquirer_operations (account_id, downstream_key, kind, reference, payment_method, amount, currency, outcome, result)
      VALUES ($1, 'ch_selftest_twice', 'sale', $2, 'pm_card_visa', 100, 'usd', 'approved', '{}')`, [acct.account_id, paid.pi]);
  }
  // A first answer that the replay will not match.
  const answered = [...journal.entries.values()].find((e) => e.status === 200);
  if (answered) {
    answered.body = { ...answered.body, self_test: 'planted' };
    answered.text = JSON.stringify(answered.body);
  }
  serverErrors.push({ at: Date.now() + 3_600_000, op: 'customers.create', key: 'self-test', via: 'self-test', status: 500, body: { error: { type: 'api_error', message: 'planted by --self-test' } } });
  actions.push({ kind: 'card_payment', ms: deadlineMs + 1, outcome: 'hung', error: 'planted by --self-test' });
  model.unexpected.push({ action: 'self-test', step: 'planted', expected: '200', status: 500 });
  unexpectedExits.push({ server: 'self-test', at: Date.now(), exit: { code: 1, signal: null }, rule: undefined, outputTail: '', signature: 'planted by --self-test' });
}

const round = (x: number) => Math.round(x * 10) / 10;

function printSummary(s: any, results: InvariantResult[]): void {
  const row = (k: string, v: string) => console.log(`${k.padEnd(22)}${v}`);
  console.log(`\n==== Fault campaign summary (seed ${s.seed}) ====`);
  row('duration', `${s.duration_s.load} s load + ${s.duration_s.quiesce} s quiesce + ${s.duration_s.checks} s checks = ${s.duration_s.total} s`);
  row('actions', `${s.actions.total}: ${Object.entries(s.actions.by_kind as Record<string, Record<string, number>>).map(([k, v]) => `${k} ${v.total}${v.total !== v.ok ? ` (${v.ok} ok${v.aborted ? `, ${v.aborted} aborted` : ''}${v.hung ? `, ${v.hung} hung` : ''}${v.error ? `, ${v.error} errors` : ''})` : ''}`).join(', ')}`);
  const r = s.requests;
  row('requests', `${r.definitive} answered definitively (${r.journaled_keys} keys journaled) in ${r.attempts} attempts: ${r.network} network errors, ${r.status5xx} 5xx, ${r.inUse409} 409 in use, ${r.lockTimeout409} 409 lock_timeout, ${r.rateLimited429} 429; ${r.replayedAnswers} definitive answers were replays`);
  const f = s.faults;
  row('faults', `kill -9 ${f.kills}, self-kills ${f.self_kills} (of ${f.armed_starts} armed starts), PG restarts ${f.pg_restarts} (${f.pg_restarts_fast} fast, ${f.pg_restarts_immediate} immediate${f.pg_restart_failures ? `, ${f.pg_restart_failures} failed` : ''}), SIGSTOP pauses ${f.pauses}, SIGTERMs ${f.sigterms}`);
  row('proxies', `${f.proxied_requests} requests: dropped responses ${f.dropped_responses}, resets ${f.resets}, delayed ${f.delayed}, server down ${f.upstream_down}`);
  const rc = s.receiver;
  row('receiver', `${rc.deliveries} deliveries: ${rc.processed} processed, ${rc.duplicates} duplicates skipped, ${rc.injectedFailures} injected failures, ${rc.storeFailures} store failures; proxy dropped ${rc.proxy.dropped}, reset ${rc.proxy.resets}`);
  if (!s.drained) row('drain', `NOT DRAINED: ${s.drain_state}`);
  console.log('invariants');
  for (const res of results) {
    console.log(`  ${res.name.padEnd(26)}${String(res.violations.length).padStart(5)} violations  (${res.checked} checked)`);
    for (const line of res.violations.slice(0, 15)) console.log(`      - ${line}`);
    if (res.violations.length > 15) console.log(`      ... ${res.violations.length - 15} more in the JSON summary`);
  }
  const fivexx = results.find((x) => x.name === 'no_undocumented_5xx')?.notes as { bodies?: string[] } | undefined;
  if (fivexx?.bodies?.length) {
    console.log('5xx seen by the workers');
    for (const b of fivexx.bodies.slice(0, 15)) console.log(`      ${b}`);
  }
  console.log(`RESULT: ${s.passed ? 'PASS' : 'FAIL'} (${s.violations} violations${s.drained ? '' : ', not drained'})`);
}

let code = 1;
try {
  code = await main();
} catch (err) {
  console.error(`campaign failed: ${(err as Error).stack ?? err}`);
  code = 1;
}
await teardown(cfg.keep || code !== 0);
process.exit(code);
