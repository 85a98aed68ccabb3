/**
 * Every list answers a request with both cursors (starting_after and ending_before) with Stripe's
 * 400 naming ending_before. Events, webhook endpoints and delivery attempts once paged through a
 * copy of the list code that had lost this check and silently ignored ending_before.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rawRequest, useTestServer } from '../helpers/server.ts';
import { apiRoutes } from '../../src/api/routes.ts';

const { server, stripe } = useTestServer();

async function assertBothCursorsRefused(path: string, first: string, second: string): Promise<void> {
  const sep = path.includes('?') ? '&' : '?';
  const r = await rawRequest(server, 'GET', `${path}${sep}starting_after=${first}&ending_before=${second}`);
  assert.equal(r.status, 400, `${path}: ${r.text}`);
  assert.equal(r.json.error.type, 'invalid_request_error', path);
  assert.equal(r.json.error.param, 'ending_before', path);
  assert.match(r.json.error.message, /only specify one of these parameters: starting_after, ending_before/, path);
}

describe('both cursors at once', () => {
  it('events, webhook endpoints and delivery attempts refuse them, as every other list does', async () => {
    const a = await stripe.customers.create({ email: 'a@example.com' });
    const b = await stripe.customers.create({ email: 'b@example.com' });
    const [newer, older] = (await stripe.events.list({ limit: 2 })).data;
    const e1 = await stripe.webhookEndpoints.create({ url: 'https://example.com/hook-1', enabled_events: ['*'] });
    const e2 = await stripe.webhookEndpoints.create({ url: 'https://example.com/hook-2', enabled_events: ['*'] });

    await assertBothCursorsRefused('/v1/events', newer.id, older.id);
    await assertBothCursorsRefused('/v1/events?type=customer.created', newer.id, older.id);
    await assertBothCursorsRefused('/v1/events?types[]=customer.*', newer.id, older.id);
    await assertBothCursorsRefused('/v1/webhook_endpoints', e2.id, e1.id);
    // Cursors of attempts need not exist for the refusal: it comes before any lookup of them.
    await assertBothCursorsRefused(`/v1/events/${newer.id}/deliveries`, 'whatt_1', 'whatt_2');
    await assertBothCursorsRefused(`/v1/webhook_endpoints/${e1.id}/deliveries`, 'whatt_1', 'whatt_2');
    // The same pair on a list that always had the check, for comparison.
    await assertBothCursorsRefused('/v1/customers', b.id, a.id);

    // One cursor alone still pages as before.
    const page = await stripe.events.list({ ending_before: older.id, limit: 1 });
    assert.deepEqual(page.data.map((e) => e.id), [newer.id]);
  });

  it('every list route without ids in its path refuses them', async () => {
    const lists = apiRoutes({ production: false, allow: [] })
      .filter((r) => r.kind === 'read' && typeof r.response === 'string' && r.response.startsWith('list:') && !r.path.includes(':'));
    assert.ok(lists.length >= 15, `only ${lists.length} list routes found`);
    for (const r of lists) {
      if (r.path === '/v1/test_helpers/acquirer_ledger') continue; // not paged: the whole ledger of one reference
      await assertBothCursorsRefused(r.path, 'x_1', 'x_2');
    }
  });
});

describe('include[]=total_count', () => {
  it('adds how many objects the filters match, whatever the page; absent unless asked for', async () => {
    const email = `count-${Date.now()}@example.com`;
    for (let i = 0; i < 3; i++) await stripe.customers.create({ email });
    await stripe.customers.create({ email: `other-${email}` }); // matches no filter below
    const page = await rawRequest(server, 'GET', `/v1/customers?email=${encodeURIComponent(email)}&limit=2&include[]=total_count`);
    assert.equal(page.status, 200, page.text);
    assert.deepEqual([page.json.data.length, page.json.has_more, page.json.total_count], [2, true, 3]);
    const next = await rawRequest(server, 'GET', `/v1/customers?email=${encodeURIComponent(email)}&limit=2&include[]=total_count&starting_after=${page.json.data[1].id}`);
    assert.deepEqual([next.json.data.length, next.json.has_more, next.json.total_count], [1, false, 3]);
    const plain = await rawRequest(server, 'GET', `/v1/customers?email=${encodeURIComponent(email)}`);
    assert.equal('total_count' in plain.json, false);
    const events = await rawRequest(server, 'GET', `/v1/events?type=customer.created&include[]=total_count&limit=1`);
    assert.ok(events.json.total_count >= 4, events.text);
    const bad = await rawRequest(server, 'GET', '/v1/customers?include[]=everything');
    assert.deepEqual([bad.status, bad.json.error.param], [400, 'include[0]']);
  });
});
