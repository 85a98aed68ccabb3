/**
 * Oncepay benchmark (`npm run bench`). Not a test: it measures, prints a table and one
 * machine-readable last line.
 *
 * It spawns the real server against PostgreSQL and drives it with autocannon:
 *   A "create+confirm": POST /v1/payment_intents (confirm=true), a fresh Idempotency-Key per request
 *   B "replay":         the same POST replaying ~200 finished keys round-robin (stored responses)
 *   C create+confirm at 4 connections: the latency a request sees when the server is not saturated
 *   webhooks: commit-to-delivery delay at BENCH_WEBHOOK_RATE events/s (default 500), and saturation (bench/webhooks.ts)
 *   billing: BENCH_INVOICES drafts (default 1000) finalized concurrently vs created concurrently (the
 *     numbering lock's cost), and BENCH_SUBSCRIPTIONS monthly subscriptions (default 200) renewed
 *     over a 12-month test clock advance (bench/billing.ts)
 * and measures, in the same run, a baseline: bare `BEGIN; INSERT; COMMIT` transactions from
 * node-postgres with the same concurrency.
 *
 * Ratio definition: a create+confirm request costs TX_PER_REQUEST = 3 database transactions
 * (first phase, the acquirer's ledger write, last phase; each one commit) plus one key lookup,
 * so the bare-transaction ceiling for it is baseline_tx_per_s / 3 requests per second, and
 *   ratio = create_confirm_rps / (baseline_tx_per_s / TX_PER_REQUEST)
 * says how close the server gets to that ceiling.
 *
 * Environment: DATABASE_URL (default postgres://oncepay:oncepay@127.0.0.1:5432/oncepay),
 * BENCH_DURATION seconds per scenario (default 10), BENCH_CONNECTIONS (default 32),
 * BENCH_WARMUP seconds of unreported create+confirm load first (default 2),
 * BENCH_CPU_PROF=<dir> to run the server with --cpu-prof into that directory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import autocannon from 'autocannon';
import pg from 'pg';
import { runWebhookBench } from './webhooks.ts';
import { runBillingBench } from './billing.ts';

const TX_PER_REQUEST = 3;
const DATABASE_URL = process.env.DATABASE_URL || 'postgres://oncepay:oncepay@127.0.0.1:5432/oncepay';
const DURATION_S = positiveNumber('BENCH_DURATION', 10);
const CONNECTIONS = positiveNumber('BENCH_CONNECTIONS', 32);
const WARMUP_S = positiveNumber('BENCH_WARMUP', 2, true);
const REPLAY_KEYS = 200;
const LIGHT_CONNECTIONS = 4;
const WEBHOOK_RATE = positiveNumber('BENCH_WEBHOOK_RATE', 500);
const CPU_PROF_DIR = process.env.BENCH_CPU_PROF || undefined;
const BILLING_DRAFTS = positiveNumber('BENCH_INVOICES', 1000);
const BILLING_SUBSCRIPTIONS = positiveNumber('BENCH_SUBSCRIPTIONS', 200);

const RUN_ID = randomBytes(6).toString('hex');
const SECRET_KEY = `sk_test_bench_${RUN_ID}`;
const BODY = 'amount=2000&currency=usd&payment_method=pm_card_visa&confirm=true';
const HEADERS = {
  authorization: `Bearer ${SECRET_KEY}`,
  'content-type': 'application/x-www-form-urlencoded',
};

function positiveNumber(name: string, fallback: number, zeroOk = false): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0 || (n === 0 && !zeroOk)) throw new Error(`${name}: expected a positive number, got "${raw}"`);
  return n;
}

/** The URL without its password, for messages. */
function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable DATABASE_URL)';
  }
}

async function checkDatabase(): Promise<void> {
  const client = new pg.Client({ connectionString: DATABASE_URL, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (err) {
    throw new Error(`cannot reach PostgreSQL at ${redact(DATABASE_URL)}: ${(err as Error).message}\n` +
      'Start PostgreSQL (see .ci/run for the setup) or point DATABASE_URL at a reachable database.');
  } finally {
    await client.end().catch(() => {});
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** The server child process, with the tail of its output kept for error messages. */
interface Server {
  child: ChildProcess;
  base: string;
  output(): string;
}

async function startServer(): Promise<Server> {
  const port = await freePort();
  const args = ['--import', 'tsx'];
  if (CPU_PROF_DIR) args.push('--cpu-prof', `--cpu-prof-dir=${CPU_PROF_DIR}`);
  args.push('src/cli/main.ts', 'serve');
  const child = spawn(process.execPath, args, {
    env: {
      ...process.env, PORT: String(port), HOST: '127.0.0.1', DATABASE_URL, ONCEPAY_SECRET_KEY: SECRET_KEY,
      ONCEPAY_LOG_LEVEL: 'warn', ONCEPAY_DB_POOL_SIZE: '32', ONCEPAY_RATE_LIMIT: '0',
      // The wall-clock billing run would work through whatever the shared database holds (test
      // leftovers); the billing scenarios use a test clock, which bills when advanced.
      ONCEPAY_BILLING_INTERVAL: '1h',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let tail = '';
  const keep = (chunk: Buffer) => { tail = (tail + chunk.toString()).slice(-16_000); };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const server: Server = { child, base: `http://127.0.0.1:${port}`, output: () => tail };

  // Ready when any HTTP answer comes back; fail early if the process dies.
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`server exited during startup (${child.exitCode ?? child.signalCode}):\n${tail}`);
    }
    try {
      await fetch(`${server.base}/v1/balance`, { headers: HEADERS, signal: AbortSignal.timeout(1000) });
      return server;
    } catch {
      await sleep(200);
    }
  }
  await stopServer(server);
  throw new Error(`server did not answer within 60 s:\n${tail}`);
}

/** SIGTERM (graceful: lets --cpu-prof write its profile), SIGKILL after 15 s. */
async function stopServer(server: Server): Promise<void> {
  const { child } = server;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

async function post(server: Server, key: string): Promise<Response> {
  return fetch(`${server.base}/v1/payment_intents`, {
    method: 'POST', headers: { ...HEADERS, 'idempotency-key': key }, body: BODY,
  });
}

interface Scenario {
  name: string;
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  non2xx: number;
  errors: number;
  statusCodes: string;
}

/** Runs autocannon with one POST whose Idempotency-Key comes from nextKey() per request. */
async function load(server: Server, name: string, durationS: number, nextKey: () => string, connections = CONNECTIONS): Promise<Scenario> {
  const result = await autocannon({
    url: `${server.base}/v1/payment_intents`,
    connections,
    duration: durationS,
    method: 'POST',
    headers: HEADERS,
    body: BODY,
    requests: [{
      // Called for every request: same body, the key chosen by the scenario.
      setupRequest: (req) => ({ ...req, headers: { ...req.headers, 'idempotency-key': nextKey() } }),
    }],
  });
  const statusCodes = Object.entries(result.statusCodeStats ?? {}).map(([code, s]) => `${code}:${s.count ?? 0}`).join(' ');
  return {
    name,
    rps: result['2xx'] / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors,
    statusCodes,
  };
}

/** The ceiling: CONNECTIONS loops of bare BEGIN; INSERT; COMMIT for durationS seconds. */
async function baseline(durationS: number): Promise<{ txPerS: number }> {
  const pool = new pg.Pool({ connectionString: DATABASE_URL, max: CONNECTIONS });
  const table = `bench_baseline`;
  try {
    await pool.query(`DROP TABLE IF EXISTS ${table}`);
    await pool.query(`CREATE TABLE ${table} (id text PRIMARY KEY, payload jsonb)`);
    const payload = JSON.stringify({ amount: 2000, currency: 'usd', payment_method: 'pm_card_visa', status: 'succeeded' });
    let committed = 0;
    const start = performance.now();
    const end = start + durationS * 1000;
    const loop = async (n: number) => {
      for (let i = 0; performance.now() < end; i++) {
        const client = await pool.connect();
        try {
          await client.query('BEGIN');
          await client.query(`INSERT INTO ${table} (id, payload) VALUES ($1, $2)`, [`${RUN_ID}_${n}_${i}`, payload]);
          await client.query('COMMIT');
          committed++;
        } finally {
          client.release();
        }
      }
    };
    await Promise.all(Array.from({ length: CONNECTIONS }, (_, n) => loop(n)));
    const elapsedS = (performance.now() - start) / 1000;
    return { txPerS: committed / elapsedS };
  } finally {
    await pool.query(`DROP TABLE IF EXISTS ${table}`).catch(() => {});
    await pool.end();
  }
}

/** A sample create+confirm must succeed, and replays must carry Idempotent-Replayed: true. */
async function createReplayKeys(server: Server): Promise<void> {
  for (let i = 0; i < REPLAY_KEYS; i++) {
    const res = await post(server, `replay-${RUN_ID}-${i}`);
    const body = await res.json() as { status?: string };
    if (res.status !== 200 || body.status !== 'succeeded') {
      throw new Error(`setting up replay key ${i}: HTTP ${res.status}, ${JSON.stringify(body).slice(0, 500)}`);
    }
  }
}

async function checkReplaySample(server: Server, sample = 20): Promise<void> {
  for (let i = 0; i < sample; i++) {
    const n = Math.floor((i * REPLAY_KEYS) / sample);
    const res = await post(server, `replay-${RUN_ID}-${n}`);
    await res.arrayBuffer();
    if (res.status !== 200 || res.headers.get('idempotent-replayed') !== 'true') {
      throw new Error(`replay of key replay-${RUN_ID}-${n}: HTTP ${res.status}, Idempotent-Replayed=${res.headers.get('idempotent-replayed')}`);
    }
  }
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ')).join('\n');
}

async function main(): Promise<number> {
  await checkDatabase();
  console.log(`bench: PostgreSQL ${redact(DATABASE_URL)}, ${CONNECTIONS} connections, ${DURATION_S} s per scenario`);
  const server = await startServer();
  const stopOnSignal = () => { void stopServer(server).then(() => process.exit(130)); };
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);
  try {
    console.log(`bench: server up at ${server.base}`);

    console.log('bench: baseline (bare BEGIN; INSERT; COMMIT) ...');
    const base = await baseline(DURATION_S);

    let seq = 0;
    const freshKey = () => `bench-${RUN_ID}-${seq++}`;
    if (WARMUP_S > 0) {
      console.log(`bench: warm-up ${WARMUP_S} s ...`);
      await load(server, 'warm-up', WARMUP_S, freshKey);
    }
    console.log('bench: scenario A create+confirm ...');
    const a = await load(server, 'create+confirm', DURATION_S, freshKey);

    console.log(`bench: scenario C create+confirm at ${LIGHT_CONNECTIONS} connections (latency under light load) ...`);
    const c = await load(server, `create+confirm @${LIGHT_CONNECTIONS}`, DURATION_S, freshKey, LIGHT_CONNECTIONS);

    console.log(`bench: creating ${REPLAY_KEYS} finished keys for replay ...`);
    await createReplayKeys(server);
    await checkReplaySample(server);
    let next = 0;
    const replayKey = () => `replay-${RUN_ID}-${next++ % REPLAY_KEYS}`;
    console.log('bench: scenario B replay ...');
    const b = await load(server, 'replay', DURATION_S, replayKey);
    await checkReplaySample(server);

    console.log(`bench: webhooks: customer.created at ${WEBHOOK_RATE}/s for ${DURATION_S} s, then saturation ...`);
    const w = await runWebhookBench(server.base, SECRET_KEY, { rate: WEBHOOK_RATE, durationS: DURATION_S });

    console.log(`bench: billing: ${BILLING_DRAFTS} invoices created then finalized at ${CONNECTIONS} connections; ${BILLING_SUBSCRIPTIONS} subscriptions advanced 12 months ...`);
    const bill = await runBillingBench(server.base, SECRET_KEY, { drafts: BILLING_DRAFTS, subscriptions: BILLING_SUBSCRIPTIONS, connections: CONNECTIONS });

    const ceiling = base.txPerS / TX_PER_REQUEST;
    const ratio = a.rps / ceiling;
    console.log('');
    console.log(table([
      ['scenario', 'req/s', 'p50 ms', 'p99 ms', 'requests', 'non-2xx', 'errors'],
      ...[a, b, c].map((s) => [s.name, s.rps.toFixed(0), s.p50.toFixed(0), s.p99.toFixed(0), String(s.requests), String(s.non2xx), String(s.errors)]),
      ['baseline tx', base.txPerS.toFixed(0), '-', '-', '-', '-', '-'],
    ]));
    console.log('');
    console.log(`ratio = create_confirm_rps / (baseline_tx_per_s / ${TX_PER_REQUEST}) = ${a.rps.toFixed(0)} / ${ceiling.toFixed(0)} = ${ratio.toFixed(2)}`);
    console.log(`  (a create+confirm is ${TX_PER_REQUEST} transactions: first phase, acquirer ledger write, last phase; plus one key lookup)`);
    console.log(`replay / create+confirm = ${(b.rps / a.rps).toFixed(1)}x`);
    console.log('');
    console.log(`webhooks: ${w.delivered}/${w.sent} events delivered at ${w.targetRate}/s; commit-to-2xx delay p50 ${w.p50.toFixed(0)} ms, ` +
      `p99 ${w.p99.toFixed(0)} ms, max ${w.max.toFixed(0)} ms (from the API's answer); from the request's send: p50 ${w.p50FromSend.toFixed(0)} ms, p99 ${w.p99FromSend.toFixed(0)} ms`);
    console.log(`webhooks: saturation ${w.saturationEventsPerS.toFixed(0)} events/s delivered (32 concurrent creators)`);
    if (w.delivered < w.sent) console.log(`WARNING: ${w.sent - w.delivered} events not delivered within 30 s`);
    console.log(`billing: finalize ${bill.finalizePerS.toFixed(0)} invoices/s (numbers 1..${bill.drafts}, no gap) vs create ${bill.createPerS.toFixed(0)}/s at ${CONNECTIONS} connections: ` +
      `${(bill.finalizePerS / bill.createPerS).toFixed(2)}x`);
    console.log(`billing: ${bill.renewals} renewals (${bill.subscriptions} subscriptions × 12 months, each invoiced and paid) in ${bill.advanceS.toFixed(1)} s = ${bill.renewalsPerS.toFixed(0)} renewals/s`);
    // Little's law for a closed loop: with every connection always waiting on a request, the
    // mean latency is connections / throughput, whatever the server does per request.
    console.log(`latency floor at ${CONNECTIONS} busy connections = ${CONNECTIONS} / ${a.rps.toFixed(0)} rps = ${(1000 * CONNECTIONS / a.rps).toFixed(0)} ms mean ` +
      `(the bare-transaction ceiling itself would give ${(1000 * CONNECTIONS / ceiling).toFixed(0)} ms)`);

    let failed = false;
    for (const s of [a, b, c]) {
      if (s.non2xx > 0 || s.errors > 0) {
        failed = true;
        console.log(`WARNING: ${s.name}: ${s.non2xx} non-2xx responses, ${s.errors} connection errors (status codes: ${s.statusCodes})`);
      }
    }
    if (/"level":(40|50|60)/.test(server.output())) {
      console.log(`server warnings/errors (tail):\n${server.output().slice(-4000)}`);
    }
    console.log(`bench-billing: finalize_per_s=${Math.round(bill.finalizePerS)} create_invoice_per_s=${Math.round(bill.createPerS)} renewals_per_s=${Math.round(bill.renewalsPerS)}`);
    console.log(`bench-webhooks: rate=${w.targetRate} delivered=${w.delivered} sent=${w.sent} p50_ms=${Math.round(w.p50)} p99_ms=${Math.round(w.p99)} saturation_events_per_s=${Math.round(w.saturationEventsPerS)}`);
    console.log(`bench: create_confirm_rps=${Math.round(a.rps)} replay_rps=${Math.round(b.rps)} ` +
      `baseline_tx_per_s=${Math.round(base.txPerS)} ratio=${ratio.toFixed(2)} p50_ms=${Math.round(a.p50)} p99_ms=${Math.round(a.p99)}`);
    return failed ? 1 : 0;
  } finally {
    await stopServer(server);
  }
}

main().then(
  (code) => { process.exitCode = code; },
  (err) => {
    console.error(`bench: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
