/**
 * Oncepay benchmark (`npm run bench`). Not a test: it measures, prints tables and
 * machine-readable lines (`bench-<system>: key=value ...`, read by bench/compare.ts).
 *
 * Fair comparison: BENCH_ROUNDS rounds (default 5), each measuring every system in turn —
 * the baseline (bare `BEGIN; INSERT; COMMIT` from node-postgres against DATABASE_URL), Oncepay on
 * each embedded engine that starts (ONCEPAY_EMBEDDED=postgres, the default, and pglite; a fresh
 * temp data dir each round, as `npm start` with no storage configuration), Oncepay on
 * PostgreSQL (DATABASE_URL) and the peer stripe-stateful-mock (installed from npm into a temp
 * dir now) — so a machine's drift spreads over all of them. Every figure is reported as the
 * median over the rounds with its range. Per system and round:
 *   create+confirm at BENCH_CONNECTIONS (32): POST /v1/payment_intents confirm=true, a fresh key each (rps, p50, p99)
 *   create+confirm at 1 connection (p50)
 *   replay: the same POST replaying 200 finished keys round-robin (rps)
 *   memory of the whole process tree (server + embedded database processes): RSS and PSS idle
 *     (after start) and the peak under the 32-connection load
 *   time from spawn to the first HTTP answer, fresh data dir (each round)
 * Once per Oncepay system (last round): GET /v1/balance at 10 and at 200k balance transactions
 * (bench/balance.ts), and the start on the existing data dir that follows.
 * Then, once, on PostgreSQL: webhooks (bench/webhooks.ts), billing (bench/billing.ts) and the hosted
 * pages (bench/pages.ts: the Checkout page's GET against the JSON retrieve, a payment through it).
 *
 * The ratio: a create+confirm costs TX_PER_REQUEST = 3 database transactions, so
 *   ratio = create_confirm_rps / (baseline_tx_per_s / 3)  (per round, then the median).
 *
 * Environment: DATABASE_URL (default postgres://oncepay:oncepay@127.0.0.1:5432/oncepay),
 * BENCH_ROUNDS (5), BENCH_DURATION seconds per load scenario (5), BENCH_CONNECTIONS (32),
 * BENCH_WARMUP seconds (2), BENCH_SYSTEMS (comma list of baseline,embedded,pglite,postgres,mock;
 * default all), BENCH_BALANCE=0 skips the balance figures, BENCH_EXTRAS (comma list of
 * webhooks,billing,pages; default all; 0 for none), BENCH_WEBHOOK_RATE (500), BENCH_INVOICES (1000), BENCH_SUBSCRIPTIONS (200),
 * BENCH_CPU_PROF=<dir> runs Oncepay with --cpu-prof into that directory.
 */
import { randomBytes } from 'node:crypto';
import autocannon from 'autocannon';
import pg from 'pg';
import { runWebhookBench } from './webhooks.ts';
import { runBillingBench } from './billing.ts';
import { runPagesBench } from './pages.ts';
import { mockPeer, oncepaySystem, stopProcess, type Server, type System } from './systems.ts';
import { sampleMemory, treeMemory } from './procfs.ts';
import { BALANCE_SIZES, seedBalances, timeBalance } from './balance.ts';
import { median, spread, table } from './stats.ts';

const TX_PER_REQUEST = 3;
const DATABASE_URL = process.env.DATABASE_URL || 'postgres://oncepay:oncepay@127.0.0.1:5432/oncepay';
const ROUNDS = positiveNumber('BENCH_ROUNDS', 5);
const DURATION_S = positiveNumber('BENCH_DURATION', 5);
const CONNECTIONS = positiveNumber('BENCH_CONNECTIONS', 32);
const WARMUP_S = positiveNumber('BENCH_WARMUP', 2, true);
const REPLAY_KEYS = 200;
const WEBHOOK_RATE = positiveNumber('BENCH_WEBHOOK_RATE', 500);
const CPU_PROF_DIR = process.env.BENCH_CPU_PROF || undefined;
const BILLING_DRAFTS = positiveNumber('BENCH_INVOICES', 1000);
const BILLING_SUBSCRIPTIONS = positiveNumber('BENCH_SUBSCRIPTIONS', 200);
const ALL_SYSTEMS = ['baseline', 'embedded', 'pglite', 'postgres', 'mock'];
const SYSTEMS = (process.env.BENCH_SYSTEMS || ALL_SYSTEMS.join(',')).split(',').map((s) => s.trim()).filter(Boolean);
const BALANCE = process.env.BENCH_BALANCE !== '0';
const ALL_EXTRAS = ['webhooks', 'billing', 'pages'];
const EXTRA_LIST = process.env.BENCH_EXTRAS === '0' ? [] : (process.env.BENCH_EXTRAS || ALL_EXTRAS.join(',')).split(',').map((s) => s.trim()).filter(Boolean);
for (const x of EXTRA_LIST) if (!ALL_EXTRAS.includes(x)) throw new Error(`BENCH_EXTRAS: unknown "${x}" (expected some of ${ALL_EXTRAS.join(', ')}, or 0)`);
const EXTRAS = EXTRA_LIST.length > 0;

const RUN_ID = randomBytes(6).toString('hex');
const SECRET_KEY = `sk_test_bench_${RUN_ID}`;

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
      'Start PostgreSQL (see .ci/run for the setup) or point DATABASE_URL at a reachable database, or leave baseline and postgres out of BENCH_SYSTEMS.');
  } finally {
    await client.end().catch(() => {});
  }
}

interface Load { rps: number; p50: number; p99: number; requests: number; non2xx: number; errors: number; statusCodes: string }

/** autocannon with one POST whose Idempotency-Key comes from nextKey() per request. */
async function load(system: System, server: Server, durationS: number, nextKey: () => string, connections = CONNECTIONS): Promise<Load> {
  const result = await autocannon({
    url: `${server.base}${system.path}`,
    connections,
    duration: durationS,
    method: 'POST',
    headers: { authorization: `Bearer ${system.key}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: system.body,
    requests: [{ setupRequest: (req) => ({ ...req, headers: { ...req.headers, 'idempotency-key': nextKey() } }) }],
  });
  const statusCodes = Object.entries(result.statusCodeStats ?? {}).map(([code, s]) => `${code}:${s.count ?? 0}`).join(' ');
  return {
    rps: result['2xx'] / result.duration, p50: result.latency.p50, p99: result.latency.p99,
    requests: result.requests.total, non2xx: result.non2xx, errors: result.errors, statusCodes,
  };
}

async function post(system: System, server: Server, key: string): Promise<Response> {
  return fetch(`${server.base}${system.path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${system.key}`, 'content-type': 'application/x-www-form-urlencoded', 'idempotency-key': key },
    body: system.body,
  });
}

/** The ceiling: CONNECTIONS loops of bare BEGIN; INSERT; COMMIT for durationS seconds. */
async function baseline(durationS: number): Promise<number> {
  const pool = new pg.Pool({ connectionString: DATABASE_URL, max: CONNECTIONS });
  const name = 'bench_baseline';
  try {
    await pool.query(`DROP TABLE IF EXISTS ${name}`);
    await pool.query(`CREATE TABLE ${name} (id text PRIMARY KEY, payload jsonb)`);
    const payload = JSON.stringify({ amount: 2000, currency: 'usd', payment_method: 'pm_card_visa', status: 'succeeded' });
    let committed = 0;
    const start = performance.now();
    const end = start + durationS * 1000;
    const loop = async (n: number) => {
      for (let i = 0; performance.now() < end; i++) {
        const client = await pool.connect();
        try {
          await client.query('BEGIN');
          await client.query(`INSERT INTO ${name} (id, payload) VALUES ($1, $2)`, [`${RUN_ID}_${n}_${i}_${start}`, payload]);
          await client.query('COMMIT');
          committed++;
        } finally {
          client.release();
        }
      }
    };
    await Promise.all(Array.from({ length: CONNECTIONS }, (_, n) => loop(n)));
    return committed / ((performance.now() - start) / 1000);
  } finally {
    await pool.query(`DROP TABLE IF EXISTS ${name}`).catch(() => {});
    await pool.end();
  }
}

/** Figures of one system, one list of samples per figure (one per round). */
type Samples = Record<string, number[]>;
const push = (s: Samples, k: string, v: number) => { (s[k] ??= []).push(v); };

interface Result { system: System | { name: string; label: string; storage: string }; samples: Samples; problems: string[] }

/** One round of one Oncepay system or the peer: start fresh, idle memory, the three loads. */
async function sample(system: System, result: Result, round: number, last: boolean): Promise<void> {
  let server = await system.start({ fresh: true });
  const s = result.samples;
  try {
    push(s, 'start_fresh_ms', server.startMs);
    const idle = treeMemory(server.child.pid!);
    push(s, 'rss_idle_mb', idle.rssMb);
    push(s, 'pss_idle_mb', idle.pssMb);
    push(s, 'processes', idle.processes);
    let seq = 0;
    const freshKey = () => `bench-${RUN_ID}-${round}-${seq++}`;
    if (WARMUP_S > 0) await load(system, server, WARMUP_S, freshKey);
    const memory = sampleMemory(server.child.pid!);
    const a = await load(system, server, DURATION_S, freshKey);
    const peak = memory.stop();
    push(s, 'create_confirm_rps', a.rps);
    push(s, 'p50_ms', a.p50);
    push(s, 'p99_ms', a.p99);
    push(s, 'rss_load_mb', peak.rssMb);
    push(s, 'pss_load_mb', peak.pssMb);
    const one = await load(system, server, Math.max(2, DURATION_S / 2), freshKey, 1);
    push(s, 'p50_1conn_ms', one.p50);
    for (let i = 0; i < REPLAY_KEYS; i++) {
      const res = await post(system, server, `replay-${RUN_ID}-${round}-${i}`);
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`setting up replay key ${i}: HTTP ${res.status}`);
    }
    let next = 0;
    const b = await load(system, server, DURATION_S, () => `replay-${RUN_ID}-${round}-${next++ % REPLAY_KEYS}`);
    push(s, 'replay_rps', b.rps);
    if (system.oncepay) {
      const check = await post(system, server, `replay-${RUN_ID}-${round}-0`);
      await check.arrayBuffer();
      if (check.headers.get('idempotent-replayed') !== 'true') result.problems.push(`round ${round}: a replay lacked Idempotent-Replayed: true`);
      const claims = await webhookClaims(server);
      if (claims !== undefined) push(s, 'claims_per_request', claims / Math.max(1, seq));
    }
    for (const [name, l] of [['create+confirm', a], ['create+confirm @1', one], ['replay', b]] as const) {
      if (l.non2xx > 0 || l.errors > 0) result.problems.push(`round ${round}, ${name}: ${l.non2xx} non-2xx, ${l.errors} errors (${l.statusCodes})`);
    }
    if (last && BALANCE && system.oncepay) {
      await stopProcess(server);
      const seeded = await seedBalances(system);
      server = await system.start({ fresh: false });
      push(s, 'start_existing_ms', server.startMs);
      for (const n of BALANCE_SIZES) {
        push(s, `balance_insert_${n}_ms`, seeded.insertMs[n]);
        push(s, `balance_get_${n}_ms`, await timeBalance(server.base, seeded.keys[n], n));
      }
    }
    if (/"level":(40|50|60)/.test(server.output())) result.problems.push(`round ${round}: server warnings/errors: ${server.output().slice(-600)}`);
  } finally {
    await stopProcess(server);
  }
}

/** oncepay_webhook_claims_total from /metrics, when the server has it. */
async function webhookClaims(server: Server): Promise<number | undefined> {
  try {
    const text = await (await fetch(`${server.base}/metrics`)).text();
    const m = /^oncepay_webhook_claims_total (\d+(?:\.\d+)?)/m.exec(text);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

const FIGURES: [key: string, label: string][] = [
  ['create_confirm_rps', `create+confirm req/s @${CONNECTIONS}`],
  ['p50_ms', `p50 ms @${CONNECTIONS}`],
  ['p99_ms', `p99 ms @${CONNECTIONS}`],
  ['p50_1conn_ms', 'p50 ms @1'],
  ['replay_rps', 'replay req/s'],
  ['rss_idle_mb', 'RSS idle MB (tree)'],
  ['pss_idle_mb', 'PSS idle MB (tree)'],
  ['rss_load_mb', 'RSS under load MB'],
  ['pss_load_mb', 'PSS under load MB'],
  ['processes', 'processes in tree'],
  ['start_fresh_ms', 'start, fresh data ms'],
  ['start_existing_ms', 'start, existing data ms'],
  ...BALANCE_SIZES.flatMap((n): [string, string][] => [[`balance_get_${n}_ms`, `GET /v1/balance @${n} txns ms`], [`balance_insert_${n}_ms`, `insert ${n} txns ms`]]),
  ['claims_per_request', 'webhook claims/request'],
  ['ratio', 'ratio (rps / (baseline/3))'],
  ['tx_per_s', 'baseline tx/s'],
];

async function main(): Promise<number> {
  const wantsPg = SYSTEMS.includes('baseline') || SYSTEMS.includes('postgres') || EXTRAS;
  if (wantsPg) await checkDatabase();
  console.log(`bench: ${ROUNDS} rounds of [${SYSTEMS.join(', ')}], ${CONNECTIONS} connections, ${DURATION_S} s per load; PostgreSQL ${redact(DATABASE_URL)}`);
  const systems: System[] = [];
  const results: Result[] = [];
  const unavailable: string[] = [];
  const baselineResult: Result = { system: { name: 'baseline', label: 'bare BEGIN; INSERT; COMMIT', storage: 'PostgreSQL' }, samples: {}, problems: [] };
  if (SYSTEMS.includes('baseline')) results.push(baselineResult);
  const env = { ...process.env };
  for (const name of SYSTEMS) {
    if (name === 'embedded') systems.push(oncepaySystem({ name, label: 'Oncepay, npm start', storage: 'embedded (default engine)', key: SECRET_KEY, env, cpuProfDir: CPU_PROF_DIR }));
    else if (name === 'pglite') systems.push(oncepaySystem({ name, label: 'Oncepay', storage: 'embedded PGlite', key: SECRET_KEY, env, embedded: 'pglite', cpuProfDir: CPU_PROF_DIR }));
    else if (name === 'postgres') systems.push(oncepaySystem({ name, label: 'Oncepay', storage: 'PostgreSQL (DATABASE_URL)', key: SECRET_KEY, env, databaseUrl: DATABASE_URL, cpuProfDir: CPU_PROF_DIR }));
    else if (name === 'mock') {
      console.log('bench: installing stripe-stateful-mock from npm into a temp dir ...');
      const peer = mockPeer(SECRET_KEY);
      if ('unavailable' in peer) unavailable.push(`mock: ${peer.unavailable}`);
      else systems.push(peer);
    } else if (name !== 'baseline') throw new Error(`BENCH_SYSTEMS: unknown system "${name}" (expected some of ${ALL_SYSTEMS.join(', ')})`);
  }
  for (const system of systems) results.push({ system, samples: {}, problems: [] });
  const stopOnSignal = () => { for (const s of systems) s.cleanup(); process.exit(130); };
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);

  try {
    for (let round = 1; round <= ROUNDS; round++) {
      let txPerS: number | undefined;
      if (SYSTEMS.includes('baseline')) {
        console.log(`bench: round ${round}/${ROUNDS}: baseline ...`);
        txPerS = await baseline(DURATION_S);
        push(baselineResult.samples, 'tx_per_s', txPerS);
      }
      for (const r of results) {
        if (r.system.name === 'baseline' || unavailable.some((u) => u.startsWith(`${r.system.name}:`))) continue;
        const system = r.system as System;
        console.log(`bench: round ${round}/${ROUNDS}: ${system.name} (${system.label}, ${system.storage}) ...`);
        try {
          await sample(system, r, round, round === ROUNDS);
          if (txPerS && system.oncepay) push(r.samples, 'ratio', r.samples.create_confirm_rps.at(-1)! / (txPerS / TX_PER_REQUEST));
        } catch (err) {
          // An engine that does not start (not built yet, an unknown setting, a missing binary) is reported, not fatal.
          const reason = `${system.name}: ${(err as Error).message.split('\n')[0].slice(0, 300)}`;
          console.log(`bench: ${reason}`);
          if (Object.keys(r.samples).length === 0) unavailable.push(reason);
          else r.problems.push(`round ${round}: ${reason}`);
        }
      }
    }

    const shown = results.filter((r) => Object.keys(r.samples).length > 0);
    console.log(`\nmedian (min–max) over ${ROUNDS} alternating rounds, ${DURATION_S} s per load, ${CONNECTIONS} connections`);
    console.log(table([
      ['figure', ...shown.map((r) => r.system.name)],
      ['', ...shown.map((r) => r.system.storage)],
      ...FIGURES.filter(([k]) => shown.some((r) => r.samples[k])).map(([k, label]) => [label, ...shown.map((r) => spread(r.samples[k] ?? []))]),
    ]));
    if (shown.some((r) => r.system.name === 'mock')) console.log('(mock: POST /v1/charges with tok_visa, its nearest to create+confirm; it has no payment intents)');
    for (const u of unavailable) console.log(`unavailable: ${u}`);
    let failed = false;
    for (const r of results) for (const p of r.problems) { failed = true; console.log(`WARNING: ${r.system.name}: ${p}`); }

    if (EXTRAS) {
      const pgSystem = oncepaySystem({ name: 'postgres', label: 'Oncepay', storage: 'PostgreSQL', key: SECRET_KEY, env, databaseUrl: DATABASE_URL });
      const server = await pgSystem.start({ fresh: true });
      try {
        if (EXTRA_LIST.includes('webhooks')) {
          console.log(`\nbench: webhooks (PostgreSQL): customer.created at ${WEBHOOK_RATE}/s for ${DURATION_S} s, then saturation ...`);
          const w = await runWebhookBench(server.base, SECRET_KEY, { rate: WEBHOOK_RATE, durationS: DURATION_S });
          console.log(`webhooks: ${w.delivered}/${w.sent} events delivered at ${w.targetRate}/s; commit-to-2xx delay p50 ${w.p50.toFixed(0)} ms, ` +
            `p99 ${w.p99.toFixed(0)} ms, max ${w.max.toFixed(0)} ms; from the request's send: p50 ${w.p50FromSend.toFixed(0)} ms, p99 ${w.p99FromSend.toFixed(0)} ms`);
          console.log(`webhooks: saturation ${w.saturationEventsPerS.toFixed(0)} events/s delivered (32 concurrent creators)`);
          if (w.delivered < w.sent) console.log(`WARNING: ${w.sent - w.delivered} events not delivered within 30 s`);
          console.log(`bench-webhooks: rate=${w.targetRate} delivered=${w.delivered} sent=${w.sent} p50_ms=${Math.round(w.p50)} p99_ms=${Math.round(w.p99)} saturation_events_per_s=${Math.round(w.saturationEventsPerS)}`);
        }
        if (EXTRA_LIST.includes('billing')) {
          console.log(`bench: billing (PostgreSQL): ${BILLING_DRAFTS} invoices finalized at ${CONNECTIONS} connections; ${BILLING_SUBSCRIPTIONS} subscriptions advanced 12 months ...`);
          const bill = await runBillingBench(server.base, SECRET_KEY, { drafts: BILLING_DRAFTS, subscriptions: BILLING_SUBSCRIPTIONS, connections: CONNECTIONS });
          console.log(`billing: finalize ${bill.finalizePerS.toFixed(0)} invoices/s vs create ${bill.createPerS.toFixed(0)}/s (${(bill.finalizePerS / bill.createPerS).toFixed(2)}x); ` +
            `${bill.renewals} renewals in ${bill.advanceS.toFixed(1)} s = ${bill.renewalsPerS.toFixed(0)}/s`);
          console.log(`bench-billing: finalize_per_s=${Math.round(bill.finalizePerS)} create_invoice_per_s=${Math.round(bill.createPerS)} renewals_per_s=${Math.round(bill.renewalsPerS)}`);
        }
        if (EXTRA_LIST.includes('pages')) {
          console.log(`bench: hosted pages (PostgreSQL): Checkout page GET at 1 and ${CONNECTIONS} connections vs the JSON retrieve of the same sessions; 100 payments through the page ...`);
          const pages = await runPagesBench(server.base, SECRET_KEY, { durationS: DURATION_S, connections: CONNECTIONS });
          console.log(`pages: Checkout page GET p50 ${pages.pageP50At1} ms at 1 connection, p50 ${pages.pageP50} ms / p99 ${pages.pageP99} ms / ${pages.pageRps.toFixed(0)} rps at ${CONNECTIONS}; ` +
            `baseline GET /v1/checkout/sessions/:id p50 ${pages.apiP50At1} ms at 1, p50 ${pages.apiP50} ms / p99 ${pages.apiP99} ms / ${pages.apiRps.toFixed(0)} rps at ${CONNECTIONS}`);
          console.log(`pages: a payment through the page (POST to its 303) p50 ${pages.payP50.toFixed(1)} ms, p99 ${pages.payP99.toFixed(1)} ms over ${pages.payments}`);
          console.log(`bench-pages: page_p50_ms_at_1=${pages.pageP50At1} page_p50_ms=${pages.pageP50} page_p99_ms=${pages.pageP99} page_rps=${Math.round(pages.pageRps)} api_p50_ms_at_1=${pages.apiP50At1} api_p50_ms=${pages.apiP50} api_p99_ms=${pages.apiP99} api_rps=${Math.round(pages.apiRps)} pay_p50_ms=${pages.payP50.toFixed(1)} pay_p99_ms=${pages.payP99.toFixed(1)}`);
        }
      } finally {
        await stopProcess(server);
        pgSystem.cleanup();
      }
    }

    // Machine-readable: medians, one line per system (bench/compare.ts reads them).
    for (const r of shown) {
      const pairs = Object.entries(r.samples).map(([k, xs]) => `${k}=${+median(xs).toFixed(2)}`);
      console.log(`bench-${r.system.name}: ${pairs.join(' ')}`);
    }
    return failed ? 1 : 0;
  } finally {
    for (const s of systems) s.cleanup();
  }
}

main().then(
  (code) => { process.exitCode = code; },
  (err) => {
    console.error(`bench: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
