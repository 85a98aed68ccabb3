/**
 * Read your own writes: a request log is written in a batch shortly after its response, yet a
 * read of request logs (or of an idempotency key's inspection) right after a request sees it.
 * Nothing here flushes the writer by hand: each read goes straight to the API.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useTestServer, rawRequest } from '../helpers/server.ts';
import { uniqueKey } from '../helpers/unique.ts';

const { server, stripe } = useTestServer();

test('a request, its replay and an immediate read of the key\'s logs show both rows (20 times)', async () => {
  for (let i = 0; i < 20; i++) {
    const key = uniqueKey(`ryw-${i}`);
    const first = await stripe.customers.create({ email: `ryw${i}@example.com` }, { idempotencyKey: key });
    const replay = await stripe.customers.create({ email: `ryw${i}@example.com` }, { idempotencyKey: key });
    assert.equal(replay.id, first.id);
    const logs = (await rawRequest(server, 'GET', `/v1/request_logs?idempotency_key=${encodeURIComponent(key)}`)).json as { data: { id: string; outcome: string; status: number }[] };
    assert.deepEqual(logs.data.map((l) => [l.id, l.outcome, l.status]), [
      [replay.lastResponse.requestId, 'replayed', 200],
      [first.lastResponse.requestId, 'executed', 200],
    ], `iteration ${i}`);
  }
});

test('the idempotency key inspector and GET /v1/request_logs/:id see a request answered just before', async () => {
  for (let i = 0; i < 20; i++) {
    const key = uniqueKey(`ryw-inspect-${i}`);
    await stripe.customers.create({}, { idempotencyKey: key });
    const replay = await stripe.customers.create({}, { idempotencyKey: key });
    const inspected = await rawRequest(server, 'GET', `/v1/idempotency_keys/${encodeURIComponent(key)}`);
    assert.equal(inspected.status, 200);
    assert.deepEqual(inspected.json.request_logs.data.map((l: { outcome: string }) => l.outcome).sort(), ['executed', 'replayed'], `iteration ${i}`);
    const read = await stripe.customers.list({ limit: 1 });
    const log = await rawRequest(server, 'GET', `/v1/request_logs/${read.lastResponse.requestId}`);
    assert.equal(log.status, 200, `iteration ${i}: the list's log is not there yet`);
    assert.equal(log.json.path, '/v1/customers');
    assert.equal(replay.lastResponse.requestId.startsWith('req_'), true);
  }
});
