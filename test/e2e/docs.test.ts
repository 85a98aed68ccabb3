/**
 * /docs and /openapi.json as a reader meets them: the document's server is the address the
 * request reached, the page carries Oncepay's name and mark (no Fastify or Swagger branding),
 * every operation has a summary, and the description lists every test payment method with what
 * a payment with it does (generated from src/processor/cards.ts), the fault cards included.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { useTestServer } from '../helpers/server.ts';
import { TEST_CARDS } from '../../src/processor/cards.ts';
import { behaviourText } from '../../src/api/openapi/test_cards.ts';

const { server } = useTestServer();

/** GET with a chosen Host header (fetch does not let one set it). */
function getWithHost(path: string, host: string): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.port, path, headers: { host } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c) => { text += c; }).on('end', () => resolve({ status: res.statusCode!, json: JSON.parse(text) }));
    });
    req.on('error', reject).end();
  });
}

const docsJson = async () => {
  const res = await fetch(`${server.url}/docs/json`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  return res.json() as Promise<any>;
};

test('the document\'s server is the address the request reached, on both URLs', async () => {
  assert.notEqual(server.port, 4242);
  assert.deepEqual((await docsJson()).servers, [{ url: server.url }]);
  assert.deepEqual(((await (await fetch(`${server.url}/openapi.json`)).json()) as { servers: unknown }).servers, [{ url: server.url }]);
  for (const path of ['/docs/json', '/openapi.json']) {
    assert.deepEqual((await getWithHost(path, 'payments.example.test:8080')).json.servers, [{ url: 'http://payments.example.test:8080' }], path);
    assert.deepEqual((await getWithHost(path, '[::1]:9000')).json.servers, [{ url: 'http://[::1]:9000' }], path);
    // A Host that is no host name falls back to the listening address.
    assert.deepEqual((await getWithHost(path, 'bad host/<x>')).json.servers, [{ url: server.url }], path);
  }
});

test('every operation has a summary', async () => {
  const doc = await docsJson();
  const missing: string[] = [];
  let count = 0;
  for (const [path, methods] of Object.entries(doc.paths as Record<string, Record<string, { summary?: unknown }>>)) {
    for (const [method, op] of Object.entries(methods)) {
      count++;
      if (typeof op.summary !== 'string' || op.summary.trim().length < 5) missing.push(`${method.toUpperCase()} ${path}`);
    }
  }
  assert.ok(count > 90, `only ${count} operations`);
  assert.deepEqual(missing, [], `operations without a summary: ${missing.join(', ')}`);
});

test('the description lists every test payment method with what it does, fault cards included', async () => {
  const { info } = await docsJson();
  assert.equal(info.title, 'Oncepay');
  const description = String(info.description);
  const rows = new Map(description.split('\n').filter((l) => l.startsWith('| `pm_card_')).map((l) => [l.split('`')[1], l]));
  assert.deepEqual([...rows.keys()].sort(), Object.keys(TEST_CARDS).sort());
  for (const [id, card] of Object.entries(TEST_CARDS)) {
    const row = rows.get(id)!;
    assert.ok(row.includes(behaviourText(card.behaviour)), `${id}: ${row}`);
    assert.ok(row.includes(card.card.last4), `${id}: ${row}`);
  }
  assert.match(rows.get('pm_card_visa')!, /\| succeeds \|$/);
  assert.match(rows.get('pm_card_visa_chargeDeclinedInsufficientFunds')!, /402 `card_error` `card_declined` \/ `insufficient_funds`/);
  assert.match(rows.get('pm_card_authenticationRequired')!, /`requires_action`/);
  const faults = [...rows.entries()].filter(([, row]) => row.includes('fault card')).map(([id]) => id).sort();
  assert.deepEqual(faults, ['pm_card_oncepay_errorBeforeCharge', 'pm_card_oncepay_slow', 'pm_card_oncepay_timeoutAfterCharge']);
  assert.match(rows.get('pm_card_oncepay_slow')!, /after 3 s/);
});

test('the page carries Oncepay\'s name and mark, not Fastify\'s or Swagger\'s', async () => {
  const page = await fetch(`${server.url}/docs`);
  assert.equal(page.status, 200);
  const html = await page.text();
  assert.match(html, /<title>Oncepay API reference<\/title>/);
  assert.doesNotMatch(html, /<title>Swagger UI/);
  assert.doesNotMatch(html, /favicon-32x32\.png/, 'Swagger\'s favicon');
  const icon = html.match(/<link rel="icon" type="image\/svg\+xml" href="([^"]+)"/)?.[1];
  assert.ok(icon, 'an SVG favicon');
  const iconRes = await fetch(new URL(icon, `${server.url}/docs`));
  assert.equal(iconRes.status, 200);
  assert.match(await iconRes.text(), /^<svg/);
  const script = html.match(/src="([^"]*swagger-initializer\.js)"/)?.[1];
  assert.ok(script, 'the page loads the initializer');
  const initializer = await (await fetch(new URL(script, `${server.url}/docs`))).text();
  const logo = initializer.match(/data:image\/svg\+xml;base64,([A-Za-z0-9+/=]+)/)?.[1];
  assert.ok(logo, 'the initializer replaces the top bar\'s logo');
  const svg = Buffer.from(logo, 'base64').toString('utf8');
  assert.match(svg, />Oncepay</);
  assert.doesNotMatch(svg, /fastify/i);
});
