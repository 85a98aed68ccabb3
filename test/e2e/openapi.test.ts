/**
 * The OpenAPI document: valid OpenAPI 3.1, generated from the route table (every route, its
 * parameters exactly as the schemas that validate them), served at /openapi.json and /docs
 * without a key; and the conformance check the test server runs on close can fail.
 *
 * The tour below calls every route at least once, so the conformance check (on close, and at the
 * end of the tour) sees a successful answer of each.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import SwaggerParser from '@apidevtools/swagger-parser';
import type Stripe from 'stripe';
import { useTestServer, rawRequest } from '../helpers/server.ts';
import {
  conformanceChecker, formatViolations, pointer, recordResponses, serverRoutesDocument, type RecordedResponse,
} from '../helpers/conformance.ts';
import { apiRoutes, type Route } from '../../src/api/routes.ts';
import { logRoutes } from '../../src/api/log_routes.ts';
import { buildOpenApiDocument, openApiPath, operationId, type OpenApiDocument } from '../../src/api/openapi/document.ts';
import { createPaymentIntentParams, capturePaymentIntentParams } from '../../src/payments/payment_intents.ts';
import { updateCustomerParams } from '../../src/payments/customers.ts';
import { buildApp } from '../../src/http/app.ts';
import { registerDocs } from '../../src/http/docs.ts';
import { KeyResolver } from '../../src/accounts/keys.ts';
import type { Schema } from '../../src/schema/params.ts';

const routes: Route[] = [
  ...apiRoutes({ production: false, allow: [] }),
  ...logRoutes({ lockTimeoutMs: 10_000, retentionMs: 24 * 3600 * 1000 }),
];
const doc: OpenApiDocument = buildOpenApiDocument(routes);
const operation = (method: string, path: string) => doc.paths[openApiPath(path).path]?.[method.toLowerCase()];
const routeOf = (method: string, path: string) => routes.find((r) => r.method === method && r.path === path)!;
const shapeOf = (r: Route) => r.params.shape as Record<string, Schema<unknown>>;
/** Follows a local `#/components/...` reference. */
function resolve<T = any>(node: any): T {
  if (!node?.$ref) return node;
  return (node.$ref as string).slice(2).split('/').reduce((o: any, k) => o[k], doc) as T;
}

const { server: s } = useTestServer({ config: { webhookIntervalMs: 25 } });
let receiver: Server;

before(async () => {
  receiver = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok'));
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
});
after(async () => {
  await new Promise((r) => receiver.close(r));
});

describe('the document', () => {
  test('is a valid OpenAPI 3.1 document', async () => {
    assert.equal(doc.openapi, '3.1.0');
    // validate() dereferences in place: give it a copy.
    await SwaggerParser.validate(structuredClone(doc) as never);
    assert.deepEqual(doc.servers, [{ url: 'http://127.0.0.1:4242' }]);
    assert.equal((doc.info as { title: string }).title, 'Oncepay');
    assert.match(String((doc.info as { version: string }).version), /^\d+\.\d+\.\d+/);
    assert.deepEqual((doc.components.securitySchemes as any).bearerAuth, {
      type: 'http', scheme: 'bearer', description: (doc.components.securitySchemes as any).bearerAuth.description,
    });
    assert.deepEqual(doc.security, [{ bearerAuth: [] }, { basicAuth: [] }]);
  });

  test('every route appears with its method, a unique operationId and its summary', () => {
    const ids = new Set<string>();
    for (const r of routes) {
      const op = operation(r.method, r.path);
      assert.ok(op, `${r.method} ${r.path} is missing`);
      assert.equal(op.summary, r.summary);
      assert.equal(op.operationId, operationId(r.method, r.path));
      assert.ok(!ids.has(op.operationId), `duplicate ${op.operationId}`);
      ids.add(op.operationId);
      if (r.kind === 'command') assert.equal(op['x-oncepay-command'], r.command.name);
      assert.equal(op.security, undefined, `${r.method} ${r.path} needs the key (the global security)`);
    }
    assert.equal(operation('GET', '/v1/customers/:customer')!.operationId, 'GetCustomersCustomer');
    assert.equal(operation('POST', '/v1/payment_intents/:intent/confirm')!.operationId, 'PostPaymentIntentsIntentConfirm');
    // Nothing else under /v1.
    const documented = Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`)).filter((x) => x.includes(' /v1/'));
    assert.equal(documented.length, routes.length);
    for (const p of ['/healthz', '/readyz', '/metrics', '/openapi.json', '/docs']) {
      assert.deepEqual(doc.paths[p].get.security, [], `${p} needs no key`);
    }
  });

  test('every POST has a form and a JSON body and the Idempotency-Key header; DELETE has the header; GET has neither', () => {
    const header = resolve(doc.components.parameters.IdempotencyKey);
    assert.deepEqual({ name: (header as any).name, in: (header as any).in, required: (header as any).required }, { name: 'Idempotency-Key', in: 'header', required: false });
    for (const r of routes) {
      const op = operation(r.method, r.path)!;
      const hasHeader = (op.parameters ?? []).some((p) => resolve(p).name === 'Idempotency-Key' && resolve(p).in === 'header');
      if (r.method === 'GET') {
        assert.ok(!hasHeader && !op.requestBody, `${r.method} ${r.path}`);
        continue;
      }
      assert.ok(hasHeader, `${r.method} ${r.path} lacks Idempotency-Key`);
      assert.ok(op.responses['409'], `${r.method} ${r.path} lacks 409`);
      if (r.method === 'POST') {
        const content = (op.requestBody as any)?.content;
        assert.ok(content?.['application/x-www-form-urlencoded']?.schema, `${r.path} lacks a form body`);
        assert.deepEqual(content['application/json'].schema, content['application/x-www-form-urlencoded'].schema);
      } else {
        assert.equal(op.requestBody, undefined);
      }
    }
  });

  test('parameters are the route\'s parameter schemas: path, query (deepObject for hashes and arrays) and body', () => {
    for (const r of routes) {
      const op = operation(r.method, r.path)!;
      const { params: pathParams } = openApiPath(r.path);
      const shape = shapeOf(r);
      const inline = (op.parameters ?? []).filter((p) => !p.$ref) as any[];
      for (const name of pathParams) {
        const p = inline.find((x) => x.name === name && x.in === 'path');
        assert.deepEqual(p, { name, in: 'path', required: true, schema: shape[name].jsonSchema() }, `${r.path} {${name}}`);
      }
      const rest = Object.keys(shape).filter((k) => !pathParams.includes(k));
      if (r.method === 'POST') {
        const body = (op.requestBody as any).content['application/json'].schema;
        const full = r.params.jsonSchema() as any;
        assert.deepEqual(Object.keys(body.properties), rest, r.path);
        for (const k of rest) assert.deepEqual(body.properties[k], shape[k].jsonSchema(), `${r.path} ${k}`);
        assert.deepEqual(body.required, full.required.filter((k: string) => !pathParams.includes(k)));
        assert.equal(body.additionalProperties, false);
      } else {
        const query = inline.filter((p) => p.in === 'query');
        assert.deepEqual(query.map((p) => p.name), rest, `${r.method} ${r.path}`);
        for (const p of query) {
          assert.deepEqual(p.schema, shape[p.name].jsonSchema(), `${r.path} ?${p.name}`);
          assert.equal(p.required, shape[p.name].required);
        }
      }
    }
  });

  test('spot checks against the schemas that validate requests', () => {
    const create = (operation('POST', '/v1/payment_intents')!.requestBody as any).content;
    assert.deepEqual(create['application/x-www-form-urlencoded'].schema, createPaymentIntentParams.jsonSchema());
    assert.deepEqual(create['application/json'].schema.properties.amount, createPaymentIntentParams.shape.amount.jsonSchema());
    assert.deepEqual(create['application/json'].schema.properties.amount, { type: 'integer', minimum: 1, maximum: createPaymentIntentParams.shape.amount.jsonSchema().maximum });
    assert.deepEqual(create['application/json'].schema.required, ['amount', 'currency']);
    assert.deepEqual(create['application/x-www-form-urlencoded'].encoding.metadata, { style: 'deepObject', explode: true });
    assert.deepEqual(create['application/x-www-form-urlencoded'].encoding.expand, { style: 'deepObject', explode: true });
    assert.equal(create['application/x-www-form-urlencoded'].encoding.amount, undefined);

    const capture = operation('POST', '/v1/payment_intents/:intent/capture')!;
    const { intent: _intent, ...captureProps } = (capturePaymentIntentParams.jsonSchema() as any).properties;
    assert.deepEqual((capture.requestBody as any).content['application/json'].schema.properties, captureProps);
    assert.deepEqual(capture.parameters![0], { name: 'intent', in: 'path', required: true, schema: capturePaymentIntentParams.shape.intent.jsonSchema() });

    const update = (operation('POST', '/v1/customers/:customer')!.requestBody as any).content['application/json'].schema;
    assert.deepEqual(update.properties.email, updateCustomerParams.shape.email.jsonSchema());
    assert.equal('customer' in update.properties, false);

    const charges = operation('GET', '/v1/charges')!.parameters as any[];
    const created = charges.find((p) => p.name === 'created');
    assert.deepEqual(created, { name: 'created', in: 'query', required: false, schema: shapeOf(routeOf('GET', '/v1/charges')).created.jsonSchema(), style: 'deepObject', explode: true });
    assert.deepEqual(charges.find((p) => p.name === 'limit'), { name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 100 } });
    assert.equal(charges.find((p) => p.name === 'expand').style, 'deepObject');
  });

  test('responses: the route\'s schema for 200, the error envelope for errors; 402 only where payments can be declined', () => {
    const checker = conformanceChecker();
    for (const r of routes) {
      const op = operation(r.method, r.path)!;
      // Every 200 schema compiles, with all its references resolved.
      checker.validator(pointer('paths', openApiPath(r.path).path, r.method.toLowerCase(), 'responses', '200', 'content', 'application/json', 'schema'));
      for (const code of ['400', '401', '429', '500', 'default']) {
        assert.equal(resolve(op.responses[code]).content['application/json'].schema.$ref, '#/components/schemas/error', `${r.path} ${code}`);
      }
      assert.equal(Boolean(op.responses['404']), r.path.includes(':'), `${r.method} ${r.path} 404`);
    }
    const declines = routes.filter((r) => operation(r.method, r.path)!.responses['402']).map((r) => `${r.method} ${r.path}`);
    assert.deepEqual(declines.sort(), [
      'POST /v1/charges', 'POST /v1/customers', 'POST /v1/customers/:customer', 'POST /v1/customers/:customer/sources', 'POST /v1/invoices/:invoice/pay', 'POST /v1/payment_intents', 'POST /v1/payment_intents/:intent/confirm',
      'POST /v1/payment_methods', 'POST /v1/payment_methods/:payment_method/attach',
      'POST /v1/setup_intents', 'POST /v1/setup_intents/:intent/confirm',
      'POST /v1/test_helpers/checkout/sessions/:session/authenticate', 'POST /v1/test_helpers/checkout/sessions/:session/complete', 'POST /v1/tokens',
    ]);
    const schema = (method: string, path: string) => (operation(method, path)!.responses['200'] as any).content['application/json'].schema;
    assert.deepEqual(schema('GET', '/v1/customers/:customer'), { anyOf: [{ $ref: '#/components/schemas/customer' }, { $ref: '#/components/schemas/deleted_customer' }] });
    assert.deepEqual(schema('DELETE', '/v1/customers/:customer'), { $ref: '#/components/schemas/deleted_customer' });
    assert.deepEqual(schema('GET', '/v1/refunds').properties.data, { type: 'array', items: { $ref: '#/components/schemas/refund' } });
    assert.deepEqual(schema('POST', '/v1/webhook_endpoints'), { $ref: '#/components/schemas/webhook_endpoint_with_secret' });
    assert.deepEqual(schema('GET', '/v1/request_logs').properties.data.items, { $ref: '#/components/schemas/request_log' });
    assert.deepEqual(schema('GET', '/v1/idempotency_keys/:key'), { $ref: '#/components/schemas/idempotency_key' });
  });
});

describe('the conformance check', () => {
  const customer = {
    id: 'cus_A1', object: 'customer', address: null, balance: 0, created: 1_700_000_000, currency: null, default_source: null,
    customer_account: null, delinquent: false, description: null, email: 'ada@example.com', invoice_prefix: 'ABCD1234',
    invoice_settings: { custom_fields: null, default_payment_method: null, footer: null, rendering_options: null },
    livemode: false, metadata: {}, name: null, next_invoice_sequence: 1, phone: null, preferred_locales: [], shipping: null, tax_exempt: 'none', test_clock: null,
  };
  const response = (body: unknown, over: Partial<RecordedResponse> = {}): RecordedResponse => ({
    method: 'GET', route: '/v1/customers/:customer', url: '/v1/customers/cus_A1', status: 200, contentType: 'application/json; charset=utf-8',
    payload: typeof body === 'string' ? body : JSON.stringify(body), ...over,
  });

  test('accepts what the server renders', () => {
    const result = conformanceChecker().check([
      response(customer),
      response({ id: 'cus_A1', object: 'customer', deleted: true }),
      response({ error: { type: 'invalid_request_error', message: 'No such customer', code: 'resource_missing', param: 'id' } }, { status: 404 }),
      response({ error: { type: 'invalid_request_error', message: 'Unrecognized request URL' } }, { route: undefined, url: '/v2/x', status: 404 }),
      response('<html></html>', { route: '/docs', contentType: 'text/html' }),
    ]);
    assert.deepEqual(result.violations, []);
    assert.equal(result.checked, 4);
    assert.equal(result.skipped, 1);
  });

  test('fails a wrong response shape, naming the route, the status, the errors and the body', () => {
    const { email: _email, ...withoutEmail } = customer;
    const cases: [RecordedResponse, RegExp][] = [
      [response(withoutEmail), /must have required property 'email'/],
      [response({ ...customer, secret: 'leaked' }), /must NOT have additional properties.*"secret"/],
      [response({ ...customer, created: '1700000000' }), /\/created must be integer/],
      [response({ ...customer, invoice_prefix: null }), /\/invoice_prefix must be string/],
      [response({ ...customer, tax_exempt: 'sometimes' }), /\/tax_exempt must be equal to one of the allowed values/],
      [response({ id: 'cus_A1', object: 'customer', deleted: false }), /deleted must be equal to constant/],
      [response({ error: { type: 'invalid_request_error', message: 'x', hint: 'y' } }, { status: 400 }), /\/error must NOT have additional properties/],
      [response({ error: { type: 'teapot_error', message: 'x' } }, { route: undefined, status: 404 }), /\/error\/type must be equal to one of the allowed values/],
      [response({ message: 'not the envelope' }, { status: 418 }), /must have required property 'error'/],
      [response(customer, { method: 'GET', route: '/v1/secrets' }), /route GET \/v1\/secrets is not in the OpenAPI document/],
      [response('{"id": "cus_A1",', {}), /the body is not valid JSON/],
      [response({ object: 'list', data: [{ ...customer, balance: 1.5 }], has_more: false, url: '/v1/customers' }, { route: '/v1/customers' }), /\/data\/0\/balance must be integer/],
    ];
    const checker = conformanceChecker();
    for (const [r, expected] of cases) {
      const { violations } = checker.check([r]);
      assert.equal(violations.length, 1, `expected a violation for ${r.payload}`);
      const message = formatViolations(violations);
      assert.match(message, expected);
      assert.ok(message.includes(`${r.method} ${r.route ?? '(no route matched)'} -> ${r.status}`), message);
      assert.ok(message.includes(r.payload.slice(0, 40)), 'the message shows the body');
    }
  });
});

/** Waits until `fn` returns something truthy. */
async function until<T>(fn: () => Promise<T | undefined | false>, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('every route, once, through the server: all answers conform', () => {
  test('tour', async () => {
    const acct = await s.newAccount();
    const stripe: Stripe = s.stripe({ key: acct.key });
    const get = (path: string) => rawRequest(s, 'GET', path, { key: acct.key });
    const post = (path: string, body: string, headers: Record<string, string> = {}) => rawRequest(s, 'POST', path, { key: acct.key, body, headers });

    const cus = await stripe.customers.create({ email: 'tour@example.com', name: 'Tour', metadata: { a: '1' }, payment_method: 'pm_card_visa' });
    await stripe.customers.retrieve(cus.id);
    await stripe.customers.update(cus.id, { description: 'vip', invoice_settings: { default_payment_method: '' } });
    await stripe.customers.list({ limit: 2, email: 'tour@example.com' });
    const txi = await stripe.customers.createTaxId(cus.id, { type: 'eu_vat', value: 'DE123456789' });
    await stripe.customers.listTaxIds(cus.id);
    await stripe.customers.retrieveTaxId(cus.id, txi.id);
    await stripe.customers.deleteTaxId(cus.id, txi.id);
    const ownTxi = await stripe.taxIds.create({ type: 'us_ein', value: '12-3456789' });
    await stripe.taxIds.list();
    await stripe.taxIds.retrieve(ownTxi.id);
    await stripe.taxIds.del(ownTxi.id);

    const card = await stripe.paymentMethods.create({ type: 'card', card: { number: '4242424242424242', exp_month: 12, exp_year: 2040, cvc: '123' } });
    await stripe.paymentMethods.retrieve(card.id);
    await stripe.paymentMethods.update(card.id, { metadata: { tour: '1' } });
    await stripe.paymentMethods.attach(card.id, { customer: cus.id });
    await stripe.paymentMethods.list({ customer: cus.id });
    await stripe.customers.listPaymentMethods(cus.id);
    await stripe.customers.retrievePaymentMethod(cus.id, card.id);
    await stripe.paymentMethods.detach(card.id);

    const seti = await stripe.setupIntents.create({ customer: cus.id, metadata: { tour: '1' } });
    await stripe.setupIntents.retrieve(seti.id, { expand: ['customer'] });
    await stripe.setupIntents.update(seti.id, { payment_method: 'pm_card_visa' });
    assert.equal((await stripe.setupIntents.confirm(seti.id, { expand: ['payment_method'] })).status, 'succeeded');
    await stripe.setupIntents.list({ customer: cus.id });
    await stripe.setupIntents.cancel((await stripe.setupIntents.create({})).id, { cancellation_reason: 'abandoned' });

    const pi = await stripe.paymentIntents.create(
      { amount: 2000, currency: 'usd', customer: cus.id, payment_method: 'pm_card_visa', confirm: true, metadata: { order: '1' }, expand: ['latest_charge.balance_transaction', 'customer'] },
      { idempotencyKey: 'tour-pi' },
    );
    assert.equal(pi.status, 'succeeded');
    await stripe.paymentIntents.create({ amount: 2000, currency: 'usd', customer: cus.id, payment_method: 'pm_card_visa', confirm: true, metadata: { order: '1' }, expand: ['latest_charge.balance_transaction', 'customer'] }, { idempotencyKey: 'tour-pi' });
    const manual = await stripe.paymentIntents.create({ amount: 1500, currency: 'eur', capture_method: 'manual', description: 'manual' });
    await stripe.paymentIntents.update(manual.id, { payment_method: 'pm_card_mastercard', metadata: { b: '2' }, receipt_email: 'r@example.com' });
    const held = await stripe.paymentIntents.confirm(manual.id);
    assert.equal(held.status, 'requires_capture');
    await stripe.paymentIntents.capture(manual.id, { amount_to_capture: 1000, expand: ['latest_charge'] });
    const held2 = await stripe.paymentIntents.create({ amount: 700, currency: 'usd', payment_method: 'pm_card_visa', confirm: true, capture_method: 'manual' });
    const canceled = await stripe.paymentIntents.cancel(held2.id, { cancellation_reason: 'abandoned' });
    assert.equal(canceled.status, 'canceled');
    const threeDs = await stripe.paymentIntents.create({ amount: 500, currency: 'jpy', payment_method: 'pm_card_authenticationRequired', confirm: true });
    assert.equal(threeDs.status, 'requires_action');
    assert.equal(threeDs.next_action?.type, 'use_stripe_sdk');
    await stripe.paymentIntents.confirm(threeDs.id);
    const declined = await stripe.paymentIntents.create({ amount: 900, currency: 'usd', payment_method: 'pm_card_visa_chargeDeclinedInsufficientFunds', confirm: true }).catch((e) => e);
    assert.equal(declined.statusCode, 402);
    const failed = await stripe.paymentIntents.retrieve(declined.raw.payment_intent.id, { expand: ['latest_charge'] });
    assert.equal(failed.last_payment_error?.decline_code, 'insufficient_funds');
    const wrongState = await stripe.paymentIntents.capture(failed.id).catch((e) => e);
    assert.equal(wrongState.code, 'payment_intent_unexpected_state');
    await stripe.paymentIntents.list({ customer: cus.id, expand: ['data.latest_charge', 'data.customer'] });

    const chargeId = (pi.latest_charge as Stripe.Charge).id;
    await stripe.charges.retrieve(chargeId, { expand: ['payment_intent', 'customer', 'balance_transaction'] });
    await stripe.charges.list({ payment_intent: pi.id });

    // The legacy card surface: tokens, charges with a source, capture, update, a customer's card sources.
    const tok = await stripe.tokens.create({ card: { number: '4242424242424242', exp_month: '12', exp_year: '2040', cvc: '123' } });
    await stripe.tokens.retrieve(tok.id);
    const legacy = await stripe.charges.create({ amount: 800, currency: 'usd', source: tok.id, capture: false });
    await stripe.charges.capture(legacy.id, { amount: 600 });
    await stripe.charges.update(legacy.id, { description: 'tour', metadata: { tour: '1' } });
    const srcCus = await stripe.customers.create({ source: 'tok_visa', expand: ['default_source', 'sources'] });
    const srcCard = await stripe.customers.createSource(srcCus.id, { source: 'tok_mastercard' });
    await stripe.customers.listSources(srcCus.id, { object: 'card' });
    await stripe.customers.retrieveSource(srcCus.id, srcCard.id);
    await stripe.customers.updateSource(srcCus.id, srcCard.id, { name: 'Tour' });
    await stripe.customers.deleteSource(srcCus.id, srcCard.id);
    const noVerify = await stripe.customers.verifySource(srcCus.id, srcCus.default_source as string).catch((e) => e);
    assert.equal(noVerify.statusCode, 400);
    await stripe.charges.create({ amount: 300, currency: 'usd', customer: srcCus.id, expand: ['customer'] });

    const refund = await stripe.refunds.create({ payment_intent: pi.id, amount: 500, reason: 'requested_by_customer', expand: ['charge', 'balance_transaction'] });
    await stripe.refunds.retrieve(refund.id, { expand: ['payment_intent'] });
    await stripe.refunds.update(refund.id, { metadata: { why: 'tour' } });
    await stripe.refunds.list({ charge: chargeId });
    const external = await post('/v1/refunds', `charge=${chargeId}&amount=100&external_id=tour-refund`);
    assert.equal(external.status, 200);
    const clash = await post('/v1/refunds', `charge=${chargeId}&amount=200&external_id=tour-refund`);
    assert.equal(clash.json.error.code, 'already_exists');

    await stripe.balance.retrieve();
    const txns = await stripe.balanceTransactions.list({ type: 'refund' });
    await stripe.balanceTransactions.retrieve(txns.data[0].id);
    assert.equal((await get(`/v1/test_helpers/acquirer_ledger?reference=${manual.id}`)).status, 200);

    const hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    const endpoint = await stripe.webhookEndpoints.create({ url: hook, enabled_events: ['*'], description: 'tour', metadata: { x: 'y' } });
    assert.match(endpoint.secret ?? '', /^whsec_/);
    const refused = await stripe.webhookEndpoints.create({ url: 'http://127.0.0.1:1/refused', enabled_events: ['customer.updated'] });
    await stripe.customers.update(cus.id, { name: 'Tour 2' });
    await stripe.webhookEndpoints.retrieve(endpoint.id);
    await stripe.webhookEndpoints.update(endpoint.id, { description: '', enabled_events: ['customer.updated', 'payment_intent.succeeded'] });
    await stripe.webhookEndpoints.list({ limit: 5 });
    const rotated = await post(`/v1/webhook_endpoints/${endpoint.id}/rotate_secret`, 'previous_secret_expires_in=60');
    assert.equal(rotated.status, 200);
    assert.equal(typeof rotated.json.previous_secret_expires_at, 'number');
    const updated = (await stripe.events.list({ type: 'customer.updated', limit: 1 })).data[0];
    await stripe.events.list({ types: ['payment_intent.*', 'charge.succeeded'] } as never);
    await stripe.events.retrieve(updated.id);
    // Wait until both endpoints saw their attempts: one delivered, one failed with a retry scheduled.
    await until(async () => (await get(`/v1/events/${updated.id}/deliveries`)).json.data.length >= 2);
    await until(async () => (await get(`/v1/webhook_endpoints/${refused.id}/deliveries`)).json.data.length >= 1);
    assert.equal((await post(`/v1/events/${updated.id}/redeliver`, `webhook_endpoint=${endpoint.id}`)).status, 200);
    await stripe.webhookEndpoints.del(refused.id);

    // Catalog and test clocks.
    const product = await stripe.products.create({ name: 'Tour plan', default_price_data: { currency: 'usd', unit_amount: 1000, recurring: { interval: 'month' } }, expand: ['default_price'] });
    await stripe.products.retrieve(product.id);
    const yearly = await stripe.prices.create({ product: product.id, currency: 'usd', unit_amount: 10000, recurring: { interval: 'year' }, lookup_key: 'tour-yearly', expand: ['product'] });
    await stripe.prices.retrieve(yearly.id);
    await stripe.prices.update(yearly.id, { nickname: 'yearly', metadata: { tour: '1' } });
    await stripe.prices.list({ product: product.id, type: 'recurring', expand: ['data.product'] });
    // Plans: the legacy face of recurring prices (a plan and its price share the id).
    const plan = await stripe.plans.create({ amount: 500, currency: 'usd', interval: 'month', product: { name: 'Tour plan' } });
    await stripe.plans.retrieve(yearly.id);
    await stripe.plans.update(plan.id, { nickname: 'monthly' });
    await stripe.plans.list({ active: true });
    await stripe.plans.del(plan.id);
    await stripe.products.update(product.id, { default_price: yearly.id, metadata: { tour: '1' } });
    await stripe.products.list({ active: true, limit: 3, expand: ['data.default_price'] });
    const loose = await stripe.products.create({ name: 'Tour extra' });
    await stripe.products.del(loose.id);
    const oldClock = await stripe.testHelpers.testClocks.create({ frozen_time: 1_767_225_600, name: 'tour' });
    await stripe.testHelpers.testClocks.retrieve(oldClock.id);
    await stripe.testHelpers.testClocks.list({ limit: 2 });
    await stripe.customers.create({ name: 'On the clock', test_clock: oldClock.id });
    await stripe.testHelpers.testClocks.del(oldClock.id);

    // Orders.
    const order = await post('/v1/orders', 'currency=usd&line_items[0][amount]=1500&line_items[0][quantity]=2&external_id=tour-order');
    assert.equal(order.status, 200, order.text);
    assert.equal((await get(`/v1/orders/${order.json.id}`)).status, 200);
    assert.equal((await get('/v1/orders?limit=2')).status, 200);
    assert.equal((await post(`/v1/orders/${order.json.id}`, 'metadata[tour]=1')).status, 200);
    const orderPayment = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd', payment_method: 'pm_card_visa', confirm: true, order: order.json.id } as Stripe.PaymentIntentCreateParams);
    assert.equal(orderPayment.status, 'succeeded');
    const toCancel = await post('/v1/orders', 'currency=usd&line_items[0][amount]=700');
    assert.equal((await post(`/v1/orders/${toCancel.json.id}/cancel`, '')).status, 200);
    for (const r of routes.filter((x) => x.path.startsWith('/v1/orders/:order/'))) {
      if (r.method === 'GET') assert.equal((await get(r.path.replace(':order', order.json.id))).status, 200, r.path);
    }

    // Invoices and invoice items.
    const payer = await stripe.customers.create({ email: 'payer@example.com', payment_method: 'pm_card_visa' });
    const item = await stripe.invoiceItems.create({ customer: payer.id, amount: 2500, currency: 'usd', description: 'tour' });
    await stripe.invoiceItems.retrieve(item.id);
    await stripe.invoiceItems.update(item.id, { metadata: { tour: '1' } });
    await stripe.invoiceItems.list({ customer: payer.id, pending: true });
    const spare = await stripe.invoiceItems.create({ customer: payer.id, price_data: { currency: 'usd', product: product.id, unit_amount: 100 }, quantity: 3 });
    await stripe.invoiceItems.del(spare.id);
    const draft = await stripe.invoices.create({ customer: payer.id, pending_invoice_items_behavior: 'include', expand: ['customer'] });
    await stripe.invoices.retrieve(draft.id);
    await stripe.invoices.update(draft.id, { description: 'tour' });
    await stripe.invoices.list({ customer: payer.id, status: 'draft' });
    await stripe.invoices.listLineItems(draft.id);
    const open = await stripe.invoices.finalizeInvoice(draft.id);
    const paidInvoice = await stripe.invoices.pay(open.id, { expand: ['payments'] });
    assert.equal(paidInvoice.status, 'paid');
    const payments = await stripe.invoicePayments.list({ invoice: open.id });
    await stripe.invoicePayments.retrieve(payments.data[0].id);
    const billed = await stripe.invoices.create({ customer: payer.id, collection_method: 'send_invoice', days_until_due: 7 });
    await stripe.invoiceItems.create({ customer: payer.id, amount: 900, currency: 'usd', invoice: billed.id });
    await stripe.invoices.finalizeInvoice(billed.id);
    await stripe.invoices.sendInvoice(billed.id);
    assert.equal((await get(`/v1/invoices/${billed.id}/messages`)).status, 200);
    await stripe.invoices.markUncollectible(billed.id);
    await stripe.invoices.voidInvoice(billed.id);
    const unwanted = await stripe.invoices.create({ customer: payer.id });
    await stripe.invoices.del(unwanted.id);
    const outOfBand = await stripe.invoices.create({ customer: payer.id, collection_method: 'send_invoice', days_until_due: 7 });
    await stripe.invoiceItems.create({ customer: payer.id, amount: 400, currency: 'usd', invoice: outOfBand.id });
    await stripe.invoices.finalizeInvoice(outOfBand.id);
    await stripe.invoices.pay(outOfBand.id, { paid_out_of_band: true });
    const declinedInvoice = await stripe.invoices.create({ customer: payer.id });
    await stripe.invoiceItems.create({ customer: payer.id, amount: 300, currency: 'usd', invoice: declinedInvoice.id });
    await stripe.invoices.finalizeInvoice(declinedInvoice.id);
    const refusedPay = await stripe.invoices.pay(declinedInvoice.id, { payment_method: 'pm_card_visa_chargeDeclined' }).catch((e) => e);
    assert.equal(refusedPay.statusCode, 402);

    // Subscriptions through a test clock.
    const clock = await stripe.testHelpers.testClocks.create({ frozen_time: 1_767_225_600 });
    const subscriber = await stripe.customers.create({ email: 'sub@example.com', payment_method: 'pm_card_visa', test_clock: clock.id });
    const sub = await stripe.subscriptions.create({ customer: subscriber.id, items: [{ price: yearly.id }], expand: ['customer'] });
    await stripe.subscriptions.retrieve(sub.id);
    await stripe.subscriptions.update(sub.id, { quantity: 2 } as Stripe.SubscriptionUpdateParams);
    await stripe.subscriptions.list({ customer: subscriber.id, status: 'all' });
    const advanced = await stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: 1_767_225_600 + 366 * 86_400 });
    assert.equal(advanced.status, 'ready');
    await stripe.subscriptions.cancel(sub.id);
    // A trial that ends without a payment method pauses; resuming it (with a card now) bills again.
    const trialer = await stripe.customers.create({ email: 'trial@example.com', test_clock: clock.id });
    const trial = await stripe.subscriptions.create({
      customer: trialer.id, items: [{ price: yearly.id }], trial_period_days: 3,
      trial_settings: { end_behavior: { missing_payment_method: 'pause' } },
    });
    await stripe.testHelpers.testClocks.advance(clock.id, { frozen_time: 1_767_225_600 + 366 * 86_400 + 5 * 86_400 });
    assert.equal((await stripe.subscriptions.retrieve(trial.id)).status, 'paused');
    await stripe.customers.update(trialer.id, { invoice_settings: { default_payment_method: 'pm_card_visa' } });
    assert.equal((await stripe.subscriptions.resume(trial.id)).status, 'active');

    // Search, on each searchable resource.
    assert.equal((await stripe.customers.search({ query: `email:'tour@example.com'`, expand: ['total_count'] })).total_count, 1);
    await stripe.paymentIntents.search({ query: `metadata['order']:'1' amount>=2000`, expand: ['data.customer'] });
    await stripe.charges.search({ query: 'payment_method_details.card.last4:4242' });
    await stripe.invoices.search({ query: `status:'paid'` });
    await stripe.subscriptions.search({ query: `status:'active' OR status:'trialing'` });
    await stripe.prices.search({ query: `lookup_key:'tour-yearly'`, expand: ['data.product'] });
    await stripe.products.search({ query: `-active:'false'` });

    await stripe.customers.del(cus.id);
    assert.equal(((await stripe.customers.retrieve(cus.id)) as Stripe.DeletedCustomer).deleted, true);

    // Checkout Sessions: every route, and the test helpers that complete one (and answer its 3-D Secure step).
    const items = [{ price_data: { currency: 'usd', unit_amount: 700, product_data: { name: 'Tour item' } }, quantity: 1 }];
    const cs = await stripe.checkout.sessions.create({ mode: 'payment', line_items: items, success_url: 'https://example.com/ok' });
    await stripe.checkout.sessions.retrieve(cs.id, { expand: ['line_items'] });
    await stripe.checkout.sessions.update(cs.id, { metadata: { tour: '1' } });
    await stripe.checkout.sessions.list({ limit: 2, status: 'open' });
    await stripe.checkout.sessions.listLineItems(cs.id);
    assert.equal((await post(`/v1/test_helpers/checkout/sessions/${cs.id}/complete`, 'payment_method=pm_card_threeDSecure2Required')).status, 200);
    assert.equal((await post(`/v1/test_helpers/checkout/sessions/${cs.id}/authenticate`, 'outcome=complete')).json.status, 'complete');
    const cs2 = await stripe.checkout.sessions.create({ mode: 'payment', line_items: items, success_url: 'https://example.com/ok' });
    await stripe.checkout.sessions.expire(cs2.id);

    // The customer portal: configurations (every route) and a session.
    const bpc = await stripe.billingPortal.configurations.create({ features: { invoice_history: { enabled: true } }, default_return_url: 'https://example.com/account' });
    await stripe.billingPortal.configurations.retrieve(bpc.id);
    await stripe.billingPortal.configurations.update(bpc.id, { name: 'Tour' });
    await stripe.billingPortal.configurations.list({ limit: 2, is_default: true });
    await stripe.billingPortal.sessions.create({ customer: (await stripe.customers.create({})).id, configuration: bpc.id, expand: ['configuration'] });

    await s.oncepay.requestLogs.flush();
    const logs = await get('/v1/request_logs?limit=5');
    assert.equal(logs.status, 200);
    assert.equal((await get(`/v1/request_logs/${logs.json.data[0].id}`)).status, 200);
    await get('/v1/request_logs?idempotency_key=tour-pi&outcome=replayed');
    const inspected = await get('/v1/idempotency_keys/tour-pi');
    assert.equal(inspected.status, 200);
    assert.equal(inspected.json.state, 'finished');

    for (const path of ['/healthz', '/readyz']) assert.equal((await rawRequest(s, 'GET', path, { key: null })).status, 200);
    // The test-mode reset, on an account of its own (a made-up key: any-key mode), so the tour's stays.
    const reset = await rawRequest(s, 'POST', '/v1/test_helpers/reset', { key: `sk_test_tour_reset_${Date.now().toString(36)}`, body: '' });
    assert.equal(reset.status, 200, reset.text);

    // Every route answered 200 at least once, and everything conforms (close() checks again).
    const ok = new Set(s.responses.filter((r) => r.status === 200).map((r) => `${r.method} ${r.route}`));
    // Verifying a source (bank accounts) only ever refuses: it cannot answer 200.
    const onlyRefuses = new Set(['POST /v1/customers/:customer/sources/:id/verify']);
    const missing = routes.map((r) => `${r.method} ${r.path}`).filter((k) => !ok.has(k) && !onlyRefuses.has(k));
    assert.deepEqual(missing, []);
    const result = conformanceChecker().check(s.responses);
    assert.ok(result.violations.length === 0, formatViolations(result.violations));
  });
});

describe('/openapi.json and /docs', () => {
  test('served without a key by an app built with registerDocs; /v1 still needs one; 429s conform', async () => {
    const o = s.oncepay;
    const app = await buildApp({
      db: o.db, engine: o.engine, processor: o.processor, keys: new KeyResolver(o.db), logger: pino({ level: 'silent' }),
      routes, requestLogs: o.requestLogs, metrics: o.metrics, readiness: async () => ({ ready: true, checks: {} }),
      rateLimitPerSecond: 2,
      extras: (a) => registerDocs(a, doc),
    });
    const recorded = recordResponses(app);
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
      const spec = await fetch(`${base}/openapi.json`);
      assert.equal(spec.status, 200);
      assert.match(spec.headers.get('content-type') ?? '', /^application\/json/);
      // The same document, its server the address the request reached (test/e2e/docs.test.ts).
      const served = { ...JSON.parse(JSON.stringify(doc)), servers: [{ url: base }] };
      assert.deepEqual(await spec.json(), served);

      const page = await fetch(`${base}/docs`);
      assert.equal(page.status, 200);
      assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
      const html = await page.text();
      assert.match(html, /swagger-ui/i);
      const script = html.match(/src="([^"]*swagger-initializer\.js)"/)?.[1];
      assert.ok(script, 'the page loads the initializer');
      assert.equal((await fetch(new URL(script, `${base}/docs`))).status, 200);
      assert.deepEqual(await (await fetch(`${base}/docs/json`)).json(), served);
      // A missing asset is a plain Stripe-shaped 404, like any unknown URL.
      const missing = await fetch(`${base}/docs/static/nope.js`);
      assert.equal(missing.status, 404);

      const noKey = await fetch(`${base}/v1/balance`);
      assert.equal(noKey.status, 401);
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) {
        statuses.push((await fetch(`${base}/v1/balance`, { headers: { authorization: `Bearer ${s.key}` } })).status);
      }
      assert.ok(statuses.includes(200) && statuses.includes(429), String(statuses));
    } finally {
      await app.close();
    }
    const result = conformanceChecker().check(recorded);
    assert.ok(result.violations.length === 0, formatViolations(result.violations));
    assert.ok(recorded.some((r) => r.route === '/openapi.json' && r.status === 200));
    assert.ok(recorded.some((r) => r.status === 429));
  });

  test('the document is generated from the routes it is given', () => {
    const one = buildOpenApiDocument(routes.slice(0, 1), { version: '9.9.9', serverUrl: 'http://example.test' });
    assert.deepEqual(Object.keys(one.paths), [openApiPath(routes[0].path).path, '/healthz', '/readyz', '/metrics', '/openapi.json', '/docs']);
    assert.equal((one.info as { version: string }).version, '9.9.9');
    assert.deepEqual(one.servers, [{ url: 'http://example.test' }]);
    assert.deepEqual(serverRoutesDocument(), doc);
  });
});
