/**
 * The `oncepay` command line, run as a child process (`node bin/oncepay.js`, what `npx oncepay`
 * runs) against real servers:
 * - API commands (events, trigger, listen, logs tail) against an in-process test server
 *   (test/helpers/server.ts), each test with a fresh account;
 * - key commands on a database of their own: a private PostgreSQL schema when DATABASE_URL is
 *   set, else a new PGlite data directory, then a spawned server on it (revoked keys get 401;
 *   on PGlite, key commands refuse to open the directory while the server runs).
 * The two groups run side by side to keep the file short.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type Stripe from 'stripe';
import { useTestServer } from '../helpers/server.ts';
import {
  createPrivateSchema, dropPrivateSchemas, freePort, killAllServers, mapLimit, pollUntil, spawnServer, usingPostgres, type Store,
} from '../helpers/processes.ts';
import { killAllClis, runCli, show, startCli, type CliResult } from '../helpers/cli.ts';
import { uniqueKey } from '../helpers/unique.ts';
import { verifyWebhook } from '../../src/receiver/index.ts';
import { embeddedEngine, sharedStore } from '../helpers/store.ts';

after(async () => {
  await killAllClis();
  await killAllServers();
});

function assertExit(r: CliResult, code: number, stderr?: RegExp): void {
  assert.equal(r.code, code, show(r));
  if (stderr) {
    assert.match(r.stderr.trimEnd(), stderr, show(r));
    assert.equal(r.stderr.trim().split('\n').length, 1, `one line on stderr:\n${show(r)}`);
  }
}

describe('oncepay CLI', { concurrency: 2 }, () => {
  describe('help, usage errors and API commands', { concurrency: false }, () => {
    const { server: s } = useTestServer({ config: { webhookIntervalMs: 0 } });

    /** A fresh account on the test server: its events and logs hold only what the test did. */
    async function fresh(): Promise<{ key: string; stripe: Stripe; env: Record<string, string> }> {
      const { key } = await s.newAccount();
      return { key, stripe: s.stripe({ key }), env: { ONCEPAY_API_KEY: key, ONCEPAY_API_BASE: s.url } };
    }

    const flushLogs = async () => {
      await new Promise((r) => setImmediate(r));
      await s.oncepay.requestLogs.flush();
    };

    test('--help for every command and subcommand', async () => {
      const commands = [[], ['serve'], ['migrate'], ['keys'], ['keys', 'create'], ['keys', 'list'], ['keys', 'revoke'],
        ['logs'], ['logs', 'tail'], ['events'], ['events', 'list'], ['listen'], ['trigger']];
      const results = await mapLimit(commands, 4, (c) => runCli([...c, '--help']));
      commands.forEach((c, i) => {
        const r = results[i];
        assertExit(r, 0);
        assert.match(r.stdout, new RegExp(`^Usage: ${['oncepay', ...c].join(' ')} `), show(r));
        assert.equal(r.stderr, '');
      });
      const text = (c: string[]) => results[commands.findIndex((x) => x.join(' ') === c.join(' '))].stdout.replace(/\s+/g, ' ');
      assert.match(text(['keys', 'revoke']), /within their key cache time: 30 s/);
      assert.match(text(['keys']), /while a server runs on that directory this command refuses/);
      assert.match(text(['trigger']), /payment_intent\.succeeded/);
      assert.match(text(['listen']), /--forward-to <url>.*--events <types>.*--print-secret/);
      assert.match(text(['logs', 'tail']), /--idempotency-key.*--status.*--path.*--method.*--outcome.*--no-follow.*--limit.*--json/);
      for (const c of [['events', 'list'], ['logs', 'tail'], ['listen'], ['trigger']]) assert.match(text(c), /--api-key.*--api-base/);
      // No command at all: the overview.
      const bare = await runCli([]);
      assertExit(bare, 0);
      assert.match(bare.stdout, /^Usage: oncepay /);
    });

    test('bad command lines: one line on stderr naming the command, exit 2', async () => {
      const cases: [string[], RegExp][] = [
        [['events', 'list', '--bogus'], /^oncepay events list: unknown option '--bogus'/],
        [['events', 'list', '--limit', '0'], /^oncepay events list: option '--limit <n>' argument '0' is invalid/],
        [['trigger'], /^oncepay trigger: missing required argument 'event'/],
        [['frobnicate'], /^oncepay: unknown command 'frobnicate'/],
        [['logs', 'tail', '--outcome', 'nope'], /^oncepay logs tail: option '--outcome <outcome>' argument 'nope' is invalid/],
        [['logs', 'tail', '--method', 'PUT', '--no-follow'], /^oncepay logs tail: option '--method <method>' argument 'PUT' is invalid/],
        [['listen', '--api-key', 'sk_test_x'], /^oncepay listen: --forward-to <url> is required/],
        [['trigger', 'payment_intent.exploded', '--api-key', 'sk_test_x'], /^oncepay trigger: unsupported event "payment_intent.exploded"; supported events: .*payment_intent\.succeeded/],
      ];
      const results = await mapLimit(cases, 4, ([args]) => runCli(args, { ONCEPAY_API_BASE: s.url }));
      cases.forEach(([, re], i) => assertExit(results[i], 2, re));
    });

    test('server unreachable, invalid key, no key: clear errors, exit 1', async () => {
      const port = await freePort();
      const [down, badKey, noKey] = await Promise.all([
        runCli(['events', 'list', '--api-base', `http://127.0.0.1:${port}`], { ONCEPAY_API_KEY: 'sk_test_whatever1234' }),
        runCli(['events', 'list', '--api-key', 'rk_test_notarealkey1234', '--api-base', s.url]), // rk_: an unknown sk_test_ key gets an account (any-key mode)
        runCli(['events', 'list'], { ONCEPAY_API_BASE: s.url }),
      ]);
      assertExit(down, 1, new RegExp(`^oncepay events list: cannot reach Oncepay at http://127\\.0\\.0\\.1:${port}: connection refused$`));
      assertExit(badKey, 1, /^oncepay events list: Invalid API Key provided: rk_test_\*+1234 \(HTTP 401\)$/);
      assertExit(noKey, 1, /^oncepay events list: no API key: pass --api-key sk_test_\.\.\. or set ONCEPAY_API_KEY/);
      // STRIPE_API_KEY and PORT are honoured as defaults.
      const acct = await fresh();
      const viaStripeVar = await runCli(['events', 'list'], { STRIPE_API_KEY: acct.key, PORT: String(s.port) });
      assertExit(viaStripeVar, 0);
    });

    test('events list: lines, --type, --json', async () => {
      const { stripe, env } = await fresh();
      const customer = await stripe.customers.create({ email: 'ada@example.com' }, { idempotencyKey: uniqueKey('ev') });
      await stripe.customers.update(customer.id, { name: 'Ada' });
      const [plain, typed, json, none] = await Promise.all([
        runCli(['events', 'list'], env),
        runCli(['events', 'list', '--type', 'customer.created'], env),
        runCli(['events', 'list', '--json', '--limit', '1'], env),
        runCli(['events', 'list', '--type', 'payment_intent.*'], env),
      ]);
      assertExit(plain, 0);
      const lines = plain.stdout.trim().split('\n');
      assert.equal(lines.length, 2, show(plain));
      assert.match(lines[0], new RegExp(`^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\dZ  evt_\\w+  customer\\.updated  ${customer.id}  req_\\w+`));
      assert.match(lines[1], /customer\.created/);
      assert.equal(typed.stdout.trim().split('\n').length, 1, show(typed));
      const events = json.stdout.trim().split('\n').map((l) => JSON.parse(l));
      assert.equal(events.length, 1);
      assert.equal(events[0].object, 'event');
      assert.equal(events[0].type, 'customer.updated');
      assert.equal(events[0].data.object.id, customer.id);
      assertExit(none, 0);
      assert.equal(none.stdout, '');
      assert.match(none.stderr, /No payment_intent\.\* events/);
    });

    test('trigger payment_intent.succeeded: prints each step, the event exists, every write has a key of its own run', async () => {
      const { stripe, env } = await fresh();
      const first = await runCli(['trigger', 'payment_intent.succeeded'], env);
      assertExit(first, 0);
      assert.match(first.stdout, /^Setting up fixture for: payment_intent\.succeeded/m);
      const pi = first.stdout.match(/^Running fixture: creating payment intent .*… (pi_\w+) \(succeeded\)$/m)?.[1];
      assert.ok(pi, show(first));
      const evt = first.stdout.match(/^Trigger succeeded! payment_intent\.succeeded (evt_\w+)$/m)?.[1];
      assert.ok(evt, show(first));

      const events = (await stripe.events.list({ type: 'payment_intent.succeeded' })).data;
      assert.deepEqual(events.map((e) => e.id), [evt]);
      assert.equal((events[0].data.object as Stripe.PaymentIntent).id, pi);
      assert.equal((events[0].data.object as Stripe.PaymentIntent).amount, 2000);
      assert.equal((events[0].data.object as Stripe.PaymentIntent).currency, 'usd');
      assert.match(events[0].request?.idempotency_key ?? '', /^oncepay-trigger-\w+-1$/);

      // A second run makes a new payment: keys are per run, so nothing is replayed across runs.
      const second = await runCli(['trigger', 'payment_intent.succeeded'], env);
      assertExit(second, 0);
      const all = (await stripe.events.list({ type: 'payment_intent.succeeded' })).data;
      assert.equal(all.length, 2);
      assert.notEqual(all[0].request?.idempotency_key, all[1].request?.idempotency_key);
      await flushLogs();
      const { data: posts } = await (await fetch(`${s.url}/v1/request_logs?method=POST&limit=100`, { headers: { authorization: `Bearer ${env.ONCEPAY_API_KEY}` } })).json() as { data: any[] };
      assert.equal(posts.length, 2);
      for (const p of posts) {
        assert.match(p.idempotency_key, /^oncepay-trigger-/, 'every trigger write sends an Idempotency-Key');
        assert.equal(p.outcome, 'executed');
      }
    });

    test('trigger for orders, invoices and subscriptions: each fixture runs end to end and its event comes from it', async () => {
      const { stripe, env } = await fresh();
      const billingEvents = ['order.created', 'order.paid', 'invoice.created', 'invoice.finalized', 'invoice.paid', 'invoice.sent', 'invoice.voided', 'customer.subscription.created'];
      for (const event of billingEvents) {
        const r = await runCli(['trigger', event], env);
        assertExit(r, 0);
        const evt = r.stdout.match(new RegExp(`^Trigger succeeded! ${event.replace(/\./g, '\\.')} (evt_\\w+)$`, 'm'))?.[1];
        assert.ok(evt, show(r));
        const found = await stripe.events.retrieve(evt);
        assert.equal(found.type, event);
        assert.match(found.request?.idempotency_key ?? '', /^oncepay-trigger-\w+-\d+$/);
      }
      const paid = (await stripe.invoices.list({ status: 'paid' })).data;
      assert.deepEqual(paid.map((i) => i.billing_reason).sort(), ['manual', 'subscription_create'], 'invoice.paid pays one invoice, the subscription its first');
    });

    test('listen forwards new events, signed with the printed secret; a failing receiver is reported and listening goes on', async () => {
      const { stripe, env } = await fresh();
      await stripe.customers.create({ email: 'before@example.com' }); // before listen: not forwarded
      const received: { type: string; id: string; body: string; headers: IncomingHttpHeaders }[] = [];
      const receiver = createServer((req, res) => {
        let body = '';
        req.on('data', (d) => { body += d; }).on('end', () => {
          const event = JSON.parse(body);
          received.push({ type: event.type, id: event.id, body, headers: req.headers });
          res.writeHead(event.type === 'charge.succeeded' ? 500 : 200).end();
        });
      });
      await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
      const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/webhooks`;
      try {
        const listen = startCli(['listen', '--forward-to', url], env);
        const secret = (await listen.waitFor(/^Ready! Your webhook signing secret is (whsec_\S+) \(\^C to quit\)$/m))[1];
        const pi = await stripe.paymentIntents.create({ amount: 2000, currency: 'usd', payment_method: 'pm_card_visa', confirm: true });
        // The three events of a confirmed payment, each answered (in the order they were written).
        const answered = await pollUntil(async () => (listen.stdout().match(/^\S+ \S+ {2}<-- \[\d+\] POST /gm) ?? []).length, (k) => k >= 3, { timeoutMs: 20_000 });
        assert.equal(answered, 3, listen.stdout());
        const result = await listen.stop('SIGINT');
        assert.equal(result.code, 0, show(result));

        const types = received.map((r) => r.type);
        assert.deepEqual([...types].sort(), ['charge.succeeded', 'payment_intent.created', 'payment_intent.succeeded']);
        assert.ok(!types.includes('customer.created'), 'events from before listen started are not forwarded');
        for (const r of received) {
          const event = verifyWebhook({ body: r.body, headers: { 'stripe-signature': r.headers['stripe-signature'] }, secrets: secret });
          assert.equal(event.id, r.id);
          verifyWebhook({ body: r.body, headers: r.headers, secrets: secret }); // Standard Webhooks headers too
        }
        const succeeded = received.find((r) => r.type === 'payment_intent.succeeded')!;
        assert.equal(JSON.parse(succeeded.body).data.object.id, pi.id);
        assert.match(result.stdout, new RegExp(`--> payment_intent\\.succeeded \\[${succeeded.id}\\]`));
        const failed = received.find((r) => r.type === 'charge.succeeded')!;
        assert.match(result.stdout, new RegExp(`<-- \\[500\\] POST \\S+ \\[${failed.id}\\]`));

        // The secret is kept: the next run (and --print-secret) uses the same one.
        const printed = await runCli(['listen', '--print-secret'], env);
        assertExit(printed, 0);
        assert.equal(printed.stdout.trim(), secret);
      } finally {
        receiver.close();
      }
    });

    test('logs tail --no-follow shows the request made with a given idempotency key; --json too', async () => {
      const { stripe, env } = await fresh();
      const key = uniqueKey('tail');
      const customer = await stripe.customers.create({ email: 'tail@example.com' }, { idempotencyKey: key });
      await stripe.customers.create({ email: 'other@example.com' }, { idempotencyKey: uniqueKey('other') });
      await flushLogs();
      const [plain, json] = await Promise.all([
        runCli(['logs', 'tail', '--no-follow', '--idempotency-key', key], env),
        runCli(['logs', 'tail', '--no-follow', '--idempotency-key', key, '--json'], env),
      ]);
      assertExit(plain, 0);
      const lines = plain.stdout.trim().split('\n');
      assert.equal(lines.length, 1, show(plain));
      const reqId = customer.lastResponse.requestId;
      assert.match(lines[0], new RegExp(`^\\S+ \\S+  ${reqId}  POST /v1/customers +200  executed  key="${key}"  [\\d.]+ms$`));
      assertExit(json, 0);
      const entries = json.stdout.trim().split('\n').map((l) => JSON.parse(l));
      assert.equal(entries.length, 1);
      assert.equal(entries[0].id, reqId);
      assert.equal(entries[0].idempotency_key, key);
      assert.equal(entries[0].status, 200);
    });

    test('logs tail follows: a new matching request shows up, ^C exits 0', async () => {
      const { stripe, env } = await fresh();
      const key = uniqueKey('follow');
      const tail = startCli(['logs', 'tail', '--limit', '0', '--idempotency-key', key], env);
      await tail.waitFor(/^Tailing request logs of .* \(idempotency_key=.*\); \^C to quit$/m, { from: 'stderr' });
      const customer = await stripe.customers.create({ email: 'follow@example.com' }, { idempotencyKey: key });
      await stripe.customers.create({ email: 'follow@example.com' }, { idempotencyKey: key }); // a replay
      await flushLogs();
      await tail.waitFor(/replayed/);
      const result = await tail.stop('SIGINT');
      assert.equal(result.code, 0, show(result));
      const lines = result.stdout.trim().split('\n');
      assert.equal(lines.length, 2, show(result));
      assert.match(lines[0], new RegExp(`${customer.lastResponse.requestId}  POST /v1/customers +200  executed  key="${key}"`));
      assert.match(lines[1], new RegExp(`POST /v1/customers +200  replayed\\(${customer.lastResponse.requestId}\\)  key="${key}"`));
    });
  });

  describe('keys on the database', { concurrency: false }, () => {
    let store: Store;
    let env: Record<string, string>;
    let schema: string | undefined;
    let dataDir: string | undefined;
    let first: { key: string; accountId: string };
    let second: string;
    let restricted: string;

    before(async () => {
      if (usingPostgres()) {
        const p = await createPrivateSchema('cli');
        schema = p.schema;
        store = { databaseUrl: p.url, dispose() {} };
        env = { DATABASE_URL: p.url };
      } else {
        dataDir = mkdtempSync(join(tmpdir(), 'oncepay-cli-data-'));
        rmSync(dataDir, { recursive: true });
        store = { dataDir, dispose: () => rmSync(dataDir!, { recursive: true, force: true }) };
        env = { ONCEPAY_DATA_DIR: dataDir };
      }
    });
    after(async () => {
      store?.dispose();
      if (schema) await dropPrivateSchemas([schema]);
    });

    test('before any migration, listing is refused rather than answering "no keys"', async () => {
      const r = await runCli(['keys', 'list'], env);
      assertExit(r, 1, usingPostgres() ? /^oncepay keys list: PostgreSQL at .* has no Oncepay tables yet: run `oncepay migrate`/ : /^oncepay keys list: no Oncepay database in /);
      if (dataDir) assert.equal(existsSync(dataDir), false, 'nothing was created');
    });

    test('migrate shows each migration, then "up to date"', async () => {
      const r = await runCli(['migrate'], env, 60_000);
      assertExit(r, 0);
      assert.match(r.stdout, usingPostgres() ? /^Migrating PostgreSQL at \S+/ : new RegExp(`^Migrating embedded ${embeddedEngine() === 'pglite' ? 'PGlite' : 'PostgreSQL'} in `));
      assert.match(r.stdout, /^ {2}applying 1 core\.\.\. done \(\d+ ms\)$/m);
      assert.match(r.stdout, /^ {2}applying 3 request_logs\.\.\. done \(\d+ ms\)$/m);
      assert.match(r.stdout, /^Applied \d+ migrations; the database is up to date\.$/m);
      assert.ok(!r.stdout.includes('oncepay:oncepay'), 'no password in the output');
      const again = await runCli(['migrate'], env);
      assertExit(again, 0);
      assert.match(again.stdout, /^Database is up to date\.$/m);
    });

    test('keys create: a new account and its key; --account adds a key; an unknown account is refused', async () => {
      const created = await runCli(['keys', 'create'], env);
      assertExit(created, 0);
      const key = created.stdout.trim();
      assert.match(key, /^sk_test_[A-Za-z0-9]{48}$/, 'the key alone on stdout');
      const accountId = created.stderr.match(/Created account (acct_\w+)/)?.[1];
      assert.ok(accountId, show(created));
      first = { key, accountId };

      const more = await runCli(['keys', 'create', '--account', accountId], env);
      assertExit(more, 0);
      second = more.stdout.trim();
      assert.match(second, /^sk_test_\w+$/);
      assert.notEqual(second, key);
      assert.match(more.stderr, new RegExp(`new secret key for account ${accountId}`));

      assertExit(await runCli(['keys', 'create', '--account', 'acct_doesnotexist'], env), 1, /^oncepay keys create: No such account: acct_doesnotexist$/);
      assertExit(await runCli(['keys', 'create', '--account', 'nonsense'], env), 1, /expected an account id/);
    });

    test('keys list: account, hint, created, revoked', async () => {
      const r = await runCli(['keys', 'list', '--account', first.accountId], env);
      assertExit(r, 0);
      const lines = r.stdout.trim().split('\n');
      assert.match(lines[0], /^ACCOUNT +KIND +KEY +PERMISSIONS +CREATED +REVOKED$/);
      assert.equal(lines.length, 4, show(r)); // two secret keys and the account's publishable key
      const hint = `${first.key.slice(0, 12)}...${first.key.slice(-4)}`;
      assert.ok(lines.some((l) => new RegExp(`^${first.accountId}  secret +${hint.replace(/\./g, '\\.')} +- +\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\dZ  -$`).test(l)), show(r));
      assert.ok(lines.some((l) => new RegExp(`^${first.accountId}  publishable +pk_test_[0-9a-f]{48} +- `).test(l)), show(r));
      assert.ok(!r.stdout.includes(first.key), 'never the key itself');
    });

    test('keys create --restricted with permissions, --publishable; listed with their kind and permissions; bad values refused', async () => {
      const r = await runCli(['keys', 'create', '--restricted', '--account', first.accountId, '--permission', 'customers=read', '--permission', 'payment_intents=write'], env);
      assertExit(r, 0);
      restricted = r.stdout.trim();
      assert.match(restricted, /^rk_test_[A-Za-z0-9]{48}$/);
      assert.match(r.stderr, /customers=read payment_intents=write/);
      const pk = await runCli(['keys', 'create', '--publishable', '--account', first.accountId], env);
      assertExit(pk, 0);
      assert.match(pk.stdout.trim(), /^pk_test_[A-Za-z0-9]{48}$/);
      const list = await runCli(['keys', 'list', '--account', first.accountId, '--json'], env);
      assertExit(list, 0);
      const rows = list.stdout.trim().split('\n').map((l) => JSON.parse(l));
      assert.deepEqual(rows.find((k) => k.kind === 'restricted').permissions, { customers: 'read', payment_intents: 'write' });
      assert.ok(rows.some((k) => k.kind === 'publishable' && k.key_hint === pk.stdout.trim()), 'a publishable key is listed whole');
      const table = await runCli(['keys', 'list', '--account', first.accountId], env);
      assert.match(table.stdout, /restricted +rk_test_\w{4}\.\.\.\w{4} +customers=read payment_intents=write /);
      assertExit(await runCli(['keys', 'create', '--restricted', '--account', first.accountId, '--permission', 'coupons=read'], env), 1,
        /^oncepay keys create: --permission: unknown resource "coupons"; known: .*\bpayment_intents\b/);
      assertExit(await runCli(['keys', 'create', '--restricted', '--account', first.accountId, '--permission', 'customers=admin'], env), 1,
        /^oncepay keys create: --permission: expected <resource>=none\|read\|write/);
      assertExit(await runCli(['keys', 'create', '--restricted', '--permission', 'customers=read'], env), 1, /^oncepay keys create: --account: a restricted key belongs to an existing account/);
      assertExit(await runCli(['keys', 'create', '--permission', 'customers=read'], env), 1, /^oncepay keys create: --permission: only for a restricted key/);
    });

    test('keys revoke by hint; again by full key says already revoked; unknown hints are refused', async () => {
      const hint = `${first.key.slice(0, 12)}...${first.key.slice(-4)}`;
      const r = await runCli(['keys', 'revoke', hint], env);
      assertExit(r, 0);
      assert.match(r.stdout, new RegExp(`^Revoked key ${hint.replace(/\./g, '\\.')} of account ${first.accountId}\\. Running servers refuse it within 30 s`));
      const again = await runCli(['keys', 'revoke', first.key], env);
      assertExit(again, 0);
      assert.match(again.stdout, /already revoked/);
      assertExit(await runCli(['keys', 'revoke', 'sk_test_...zzzz'], env), 1, /^oncepay keys revoke: No key has the hint sk_test_\.\.\.zzzz\.$/);
    });

    test('a server on that database: the revoked key gets 401, the other key works', async () => {
      const srv = await spawnServer({ store });
      try {
        const as = (key: string) => fetch(`${srv.url}/v1/customers`, { headers: { authorization: `Bearer ${key}` } });
        const revoked = await as(first.key);
        assert.equal(revoked.status, 401);
        assert.match(((await revoked.json()) as any).error.message, /Invalid API Key/);
        assert.equal((await as(second)).status, 200);
        assert.equal((await as(restricted)).status, 200, 'customers=read lists customers');
        const refused = await fetch(`${srv.url}/v1/customers`, { method: 'POST', headers: { authorization: `Bearer ${restricted}` } });
        assert.equal(refused.status, 403);
        assert.match(((await refused.json()) as any).error.message, /'rak_customer_write'/);
        const cli = await runCli(['events', 'list', '--api-key', first.key, '--api-base', srv.url]);
        assertExit(cli, 1, /Invalid API Key provided/);

        const hint = `${first.key.slice(0, 12)}...${first.key.slice(-4)}`.replace(/\./g, '\\.');
        const listedRevoked = new RegExp(`${first.accountId}  secret +${hint} +- +\\S+ \\S+  \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\dZ`);
        if (sharedStore()) {
          // Several processes may share PostgreSQL (the embedded one through its server's socket): key commands work while servers run.
          const list = await runCli(['keys', 'list'], env);
          assertExit(list, 0);
          assert.match(list.stdout, listedRevoked, show(list));
        } else {
          // PGlite: one process at a time. Key commands and a second server refuse while this one runs.
          const busy = await runCli(['keys', 'list'], env);
          assertExit(busy, 1, new RegExp(`^oncepay keys list: an Oncepay server \\(pid ${srv.pid}, since .*\\) is using the embedded database in .*: stop the server first`));
          await assert.rejects(spawnServer({ store }), /only one server runs on an embedded data directory/);
          assert.equal((await as(second)).status, 200, 'the running server is undisturbed');
          // Killed without a chance to clean up: its pid file stays behind, stale, and is ignored.
          await srv.kill();
          assert.ok(existsSync(join(dataDir!, 'oncepay.pid')));
          const after = await runCli(['keys', 'list'], env);
          assertExit(after, 0);
          assert.match(after.stdout, listedRevoked, show(after));
        }
      } finally {
        await srv.kill();
      }
    });
  });
});
