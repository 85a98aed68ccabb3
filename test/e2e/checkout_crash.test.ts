/**
 * The hosted Checkout page's submission, crashed: a server armed with
 * ONCEPAY_TEST_FAULTS=kill:<command>:<step> SIGKILLs itself right after that step of the page's
 * payment (creating the card, the session's completion, the payment intent it confirms). A new
 * process on the same database then finishes it exactly once, either because the customer's
 * browser posts the same form again (a reload that re-posts, the page's retry) or because the
 * completer finishes what the dead process left, with no browser at all. The acquirer's ledger,
 * the session, its payment intent and its checkout.session.completed event are the ground truth.
 *
 * The page is driven over HTTP here (its cookie and hidden fields, as a browser sends them): a
 * browser adds nothing to a connection cut by SIGKILL, and the browser tests cover the page itself.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type Stripe from 'stripe';
import {
  cleanupServersAndStores, explain, newSecretKey, newStore, pollUntil, spawnServer, STORE, withTimeout, type ServerProcess,
} from '../helpers/processes.ts';

after(cleanupServersAndStores);

const PARALLEL = Number(process.env.CRASH_PARALLEL ?? 3);
const ROW_TIMEOUT = 120_000;
const AMOUNT = 3000;

/** Every step of the page's payment, in order: [command, step]. */
const STEPS: Array<[string, string]> = [
  ['payment_methods.create', 'create'],
  ['checkout_sessions.complete', 'begin'],
  ['payment_intents.create', 'create'],
  ['payment_intents.create', 'authorize'],
  ['payment_intents.create', 'record'],
  ['checkout_sessions.complete', 'pay'],
  ['checkout_sessions.complete', 'record'],
];

interface Form { path: string; cookie: string; fields: Record<string, string> }

/** GETs the page as a browser does, keeps its cookie, and fills the card form. */
async function loadForm(srv: ServerProcess, session: Stripe.Checkout.Session): Promise<Form> {
  const path = new URL(session.url!).pathname;
  const res = await fetch(`${srv.url}${path}`);
  assert.equal(res.status, 200);
  const html = await res.text();
  const hidden = (name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1] ?? assert.fail(`no ${name} in the page`);
  const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0]!;
  assert.match(cookie, /^oncepay_csrf=/);
  return {
    path, cookie,
    fields: {
      csrf: hidden('csrf'), attempt: hidden('attempt'), submission: hidden('submission'),
      email: 'crash@example.com', cardNumber: '4242 4242 4242 4242', cardExpiry: `12 / ${(new Date().getUTCFullYear() + 2) % 100}`, cardCvc: '123', billingName: 'Crash Test',
    },
  };
}

const submit = (srv: ServerProcess, form: Form) => fetch(`${srv.url}${form.path}`, {
  method: 'POST', redirect: 'manual',
  headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: form.cookie, origin: srv.url },
  body: new URLSearchParams(form.fields),
});

/** Arms a server, opens a session's page, submits it, and watches the process die mid-payment. */
async function crashAt(command: string, step: string, store: Awaited<ReturnType<typeof newStore>>) {
  const fault = `kill:${command}:${step}`;
  const secret = newSecretKey();
  const faulted = await spawnServer({ store, key: secret, faults: fault });
  try {
    const session = await faulted.stripe().checkout.sessions.create({
      mode: 'payment', success_url: 'https://shop.example/thanks?session_id={CHECKOUT_SESSION_ID}',
      line_items: [{ price_data: { currency: 'usd', unit_amount: AMOUNT / 2, product_data: { name: 'T-shirt' } }, quantity: 2 }],
    });
    const form = await loadForm(faulted, session);
    const settled = await withTimeout(submit(faulted, form).then((r) => ({ ok: true as const, status: r.status }), () => ({ ok: false as const })), 30_000, `the submission to the server armed with ${fault}`);
    assert.equal(settled.ok, false, `fault ${fault} did not fire: the page answered ${JSON.stringify(settled)}\n${faulted.output()}`);
    const exit = await withTimeout(faulted.exited, 10_000, 'exit');
    assert.equal(exit.signal, 'SIGKILL');
    return { secret, session, form };
  } catch (err) {
    explain(err, [faulted]);
  } finally {
    await faulted.kill();
  }
}

/** Paid once: the session complete with a succeeded intent, one sale in the whole account's ledger, one completed event. */
async function assertPaidOnce(srv: ServerProcess, sessionId: string): Promise<void> {
  const stripe = srv.stripe();
  const s = await stripe.checkout.sessions.retrieve(sessionId, { expand: ['payment_intent'] });
  assert.equal(s.status, 'complete');
  assert.equal(s.payment_status, 'paid');
  const pi = s.payment_intent as Stripe.PaymentIntent;
  assert.equal(pi.status, 'succeeded');
  assert.equal(pi.amount, AMOUNT);
  const ledger = await srv.ledger();
  assert.deepEqual(ledger.map((e) => `${e.kind}:${e.amount}:${e.outcome}:${e.reference}`), [`sale:${AMOUNT}:approved:${pi.id}`], 'one sale in the account');
  const completed = (await stripe.events.list({ type: 'checkout.session.completed', limit: 100 })).data;
  assert.deepEqual(completed.map((e) => (e.data.object as { id: string }).id), [sessionId], 'checkout.session.completed once');
  assert.equal((await stripe.paymentIntents.list({ limit: 100 })).data.length, 1, 'one payment intent');
}

describe(`Checkout page crashed [${STORE}]: SIGKILL after each step of its payment, then the same form posted again`, { concurrency: PARALLEL }, () => {
  for (const [command, step] of STEPS) {
    test(`killed after ${command}:${step} -> the re-post pays once and lands on success_url`, { timeout: ROW_TIMEOUT }, async () => {
      const store = await newStore();
      let restarted: ServerProcess | undefined;
      try {
        const { secret, session, form } = (await crashAt(command, step, store))!;
        restarted = await spawnServer({ store, key: secret });
        const res = await submit(restarted, form);
        assert.equal(res.status, 303, await res.text());
        assert.equal(res.headers.get('location'), `https://shop.example/thanks?session_id=${session.id}`);
        await assertPaidOnce(restarted, session.id);
        // Once more (the back button, then the form posted again): still paid once.
        const again = await submit(restarted, form);
        assert.equal(again.status, 303);
        assert.equal(again.headers.get('location'), `https://shop.example/thanks?session_id=${session.id}`);
        await assertPaidOnce(restarted, session.id);
      } catch (err) {
        explain(err, [restarted]);
      } finally {
        await restarted?.kill();
        store.dispose();
      }
    });
  }
});

describe(`Checkout page crashed [${STORE}]: no browser comes back, the completer finishes the payment`, { concurrency: PARALLEL }, () => {
  // From the completion's first step on, the engine knows the run and finishes it; before that
  // (the card made, nothing asked of the session yet) there is nothing to finish: nothing was paid.
  for (const [command, step] of STEPS) {
    const started = STEPS.findIndex(([c]) => c === 'checkout_sessions.complete') <= STEPS.findIndex(([c, s]) => c === command && s === step);
    test(`killed after ${command}:${step} -> ${started ? 'completed by the completer, once' : 'nothing paid, the session still open'}`, { timeout: ROW_TIMEOUT }, async () => {
      const store = await newStore();
      let restarted: ServerProcess | undefined;
      try {
        const { secret, session } = (await crashAt(command, step, store))!;
        restarted = await spawnServer({ store, key: secret, completerInterval: '200ms', lockTimeout: '1s' });
        const stripe = restarted.stripe();
        if (!started) {
          // Give the completer several rounds to prove it has nothing to do.
          await new Promise((r) => setTimeout(r, 1500));
          const s = await stripe.checkout.sessions.retrieve(session.id);
          assert.equal(s.status, 'open');
          assert.equal(s.payment_intent, null);
          assert.deepEqual(await restarted.ledger(), []);
          return;
        }
        const s = await pollUntil(() => stripe.checkout.sessions.retrieve(session.id), (x) => x.status === 'complete', { timeoutMs: 20_000 });
        assert.equal(s.status, 'complete', `the completer should have finished the session\n${restarted.output()}`);
        await assertPaidOnce(restarted, session.id);
        // The page shows it complete (no form to pay again).
        const page = await (await fetch(`${restarted.url}${new URL(session.url!).pathname}`)).text();
        assert.match(page, /This checkout session is complete/);
        assert.doesNotMatch(page, /name="cardNumber"/);
      } catch (err) {
        explain(err, [restarted]);
      } finally {
        await restarted?.kill();
        store.dispose();
      }
    });
  }
});

