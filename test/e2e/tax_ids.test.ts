/**
 * Tax IDs as Stripe has them (issue 15), through the official client: a customer's under
 * /v1/customers/:id/tax_ids and any of the account's under /v1/tax_ids; every documented type's
 * format (its documented example accepted, malformed values refused with tax_id_invalid naming
 * `value`); test mode's verification with Stripe's testing values and its events; customer
 * create's tax_id_data and expand[]=tax_ids; deletion with the customer; idempotent retries.
 * Every body this file receives must also type-check against the stripe package (enforce mode).
 */
process.env.ONCEPAY_STRIPE_TYPES = 'enforce';

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type Stripe from 'stripe';
import { useTestServer } from '../helpers/server.ts';
import { EU_VAT_EXAMPLES, TAX_ID_FORMATS, taxIdCountry } from '../../src/payments/tax_id_formats.ts';
import { expansionsOf } from '../../src/api/expansion.ts';
import { expandableFields } from '../helpers/stripe_declarations.ts';

const { stripe } = useTestServer();

const rejection = (p: Promise<unknown>) => p.then(() => assert.fail('expected an error'), (e) => e as Stripe.errors.StripeError);

/** Values in the official formats of the types whose example Oncepay's authors did not have. */
const UNDOCUMENTED_SAMPLES: Record<string, string> = {
  au_acn: '123456789', au_wpn: '12345678901', bw_vat: 'C012345678901', ci_vat: '1234567A', cz_dic: 'CZ12345678',
  fr_siren: '123456789', fr_siret: '12345678901234', fr_spi: '0123456789012', gh_tin: 'C0123456789', ic_nif: 'A1234567B',
  is_kt: '123456-7890', md_cf: '1234567890123', mu_vat: '12345678', mz_nuit: '123456789', nz_bn: '9429012345678',
  pt_nif: '123456789', sm_coe: '12345', tt_bir: '123456789', tt_vat: '123456',
};

/** The customer.tax_id.* events about one tax ID, oldest first. */
async function eventsOf(id: string): Promise<Stripe.Event[]> {
  const page = await stripe.events.list({ limit: 100 });
  return page.data.filter((e) => (e.data.object as { id?: string }).id === id).reverse();
}

describe('formats: every documented type', () => {
  test('the table covers the stripe package\'s type union (unknown is read-only)', async () => {
    const types = new Set(TAX_ID_FORMATS.map((f) => f.type));
    assert.equal(types.size, TAX_ID_FORMATS.length, 'one row per type');
    assert.equal(types.has('unknown'), false);
    // Every row has a value it accepts: the documented example, or a sample in the official format.
    for (const f of TAX_ID_FORMATS) {
      const v = f.example ?? UNDOCUMENTED_SAMPLES[f.type];
      assert.ok(v, `${f.type} has neither an example nor a sample`);
      assert.notEqual(taxIdCountry(f.type, v), null, `${f.type} refuses its own example ${v}`);
    }
  });

  test('each type\'s example is accepted on a customer, with its country; malformed values are refused with tax_id_invalid', async () => {
    const c = await stripe.customers.create({ name: 'Formats' });
    for (const f of TAX_ID_FORMATS) {
      const value = f.example ?? UNDOCUMENTED_SAMPLES[f.type];
      const t = await stripe.customers.createTaxId(c.id, { type: f.type as Stripe.CustomerCreateTaxIdParams.Type, value });
      assert.equal(t.type, f.type);
      assert.equal(t.value, value);
      if (f.type !== 'eu_vat') assert.equal(t.country, f.country, f.type);
      for (const bad of ['X', `${value}12345678901234567`]) {
        const e = await rejection(stripe.customers.createTaxId(c.id, { type: f.type as Stripe.CustomerCreateTaxIdParams.Type, value: bad }));
        assert.equal(e.statusCode, 400, `${f.type} ${bad}`);
        assert.equal(e.code, 'tax_id_invalid', `${f.type} ${bad}`);
        assert.equal(e.param, 'value');
        assert.equal(e.message, `Invalid value for ${f.type}.`);
      }
    }
    const listed = await stripe.customers.listTaxIds(c.id, { limit: 100, include: ['total_count'] } as Stripe.CustomerListTaxIdsParams);
    assert.equal((listed as unknown as { total_count: number }).total_count, TAX_ID_FORMATS.length);
  });

  test('eu_vat: every member state\'s documented example, its country from the prefix (EL is GR, XI is GB); a wrong body for a prefix is refused', async () => {
    const c = await stripe.customers.create({ name: 'EU' });
    const expected: Record<string, string> = { EL: 'GR', XI: 'GB' };
    for (const value of EU_VAT_EXAMPLES) {
      const t = await stripe.customers.createTaxId(c.id, { type: 'eu_vat', value });
      assert.equal(t.country, expected[value.slice(0, 2)] ?? value.slice(0, 2), value);
    }
    for (const bad of ['DE12345678', 'ATU1234567', 'QQ123456789', 'NL123456789012']) {
      const e = await rejection(stripe.customers.createTaxId(c.id, { type: 'eu_vat', value: bad }));
      assert.equal(e.code, 'tax_id_invalid', bad);
    }
  });

  test('an unknown type is refused naming type; so is unknown, which Stripe only ever reads', async () => {
    const c = await stripe.customers.create({});
    for (const type of ['xx_vat', 'unknown']) {
      const e = await rejection(stripe.customers.createTaxId(c.id, { type: type as 'eu_vat', value: '123' }));
      assert.equal(e.statusCode, 400);
      assert.equal(e.param, 'type');
    }
  });
});

describe('verification and events', () => {
  test('eu_vat: created pending, then verified by test mode (customer.tax_id.created, then .updated with previous_attributes)', async () => {
    const c = await stripe.customers.create({});
    const t = await stripe.customers.createTaxId(c.id, { type: 'eu_vat', value: 'DE123456789' });
    assert.equal(t.object, 'tax_id');
    assert.match(t.id, /^txi_/);
    assert.equal(t.customer, c.id);
    assert.deepEqual(t.owner, { type: 'customer', customer: c.id, customer_account: null });
    assert.deepEqual(t.verification, { status: 'pending', verified_address: null, verified_name: null });
    assert.equal(t.country, 'DE');
    assert.equal(t.livemode, false);
    const got = await stripe.customers.retrieveTaxId(c.id, t.id);
    assert.equal(got.verification?.status, 'verified');
    const events = await eventsOf(t.id);
    assert.deepEqual(events.map((e) => e.type), ['customer.tax_id.created', 'customer.tax_id.updated']);
    assert.equal((events[0].data.object as Stripe.TaxId).verification?.status, 'pending');
    assert.equal((events[1].data.object as Stripe.TaxId).verification?.status, 'verified');
    assert.deepEqual(events[1].data.previous_attributes, { verification: { status: 'pending', verified_address: null, verified_name: null } });
  });

  test('Stripe\'s testing values: 111111111 fails verification, 222222222 stays pending (no update)', async () => {
    const c = await stripe.customers.create({});
    const failed = await stripe.customers.createTaxId(c.id, { type: 'gb_vat', value: 'GB111111111' });
    assert.equal((await stripe.taxIds.retrieve(failed.id)).verification?.status, 'unverified');
    assert.deepEqual((await eventsOf(failed.id)).map((e) => e.type), ['customer.tax_id.created', 'customer.tax_id.updated']);
    const pending = await stripe.customers.createTaxId(c.id, { type: 'au_abn', value: '12222222229' });
    assert.equal((await stripe.taxIds.retrieve(pending.id)).verification?.status, 'pending');
    assert.deepEqual((await eventsOf(pending.id)).map((e) => e.type), ['customer.tax_id.created']);
    const verified = await stripe.customers.createTaxId(c.id, { type: 'eu_vat', value: 'FR00000000000' });
    assert.equal((await stripe.taxIds.retrieve(verified.id)).verification?.status, 'verified');
  });

  test('types Stripe does not verify are unavailable from the start, with one event', async () => {
    const c = await stripe.customers.create({});
    const t = await stripe.customers.createTaxId(c.id, { type: 'us_ein', value: '12-3456789' });
    assert.equal(t.verification?.status, 'unavailable');
    assert.equal((await stripe.taxIds.retrieve(t.id)).verification?.status, 'unavailable');
    assert.deepEqual((await eventsOf(t.id)).map((e) => e.type), ['customer.tax_id.created']);
  });
});

describe('customer routes', () => {
  test('list pages newest first, retrieve, delete (then 404), customer.tax_id.deleted; another customer\'s path answers 404', async () => {
    const c = await stripe.customers.create({});
    const other = await stripe.customers.create({});
    const a = await stripe.customers.createTaxId(c.id, { type: 'us_ein', value: '12-3456789' });
    const b = await stripe.customers.createTaxId(c.id, { type: 'ca_bn', value: '123456789' });
    const page = await stripe.customers.listTaxIds(c.id, { limit: 1 });
    assert.deepEqual(page.data.map((t) => t.id), [b.id]);
    assert.equal(page.has_more, true);
    const next = await stripe.customers.listTaxIds(c.id, { limit: 1, starting_after: b.id });
    assert.deepEqual(next.data.map((t) => t.id), [a.id]);
    assert.equal((await stripe.customers.retrieveTaxId(c.id, a.id)).value, '12-3456789');
    assert.equal((await rejection(stripe.customers.retrieveTaxId(other.id, a.id))).statusCode, 404);
    assert.equal((await rejection(stripe.customers.deleteTaxId(other.id, a.id))).statusCode, 404);
    const deleted = await stripe.customers.deleteTaxId(c.id, a.id);
    assert.deepEqual({ ...deleted, lastResponse: undefined }, { id: a.id, object: 'tax_id', deleted: true, lastResponse: undefined });
    const e = await rejection(stripe.customers.retrieveTaxId(c.id, a.id));
    assert.equal(e.statusCode, 404);
    assert.equal(e.code, 'resource_missing');
    assert.deepEqual((await stripe.customers.listTaxIds(c.id)).data.map((t) => t.id), [b.id]);
    assert.deepEqual((await eventsOf(a.id)).map((ev) => ev.type), ['customer.tax_id.created', 'customer.tax_id.deleted']);
    assert.equal((await rejection(stripe.customers.createTaxId('cus_missing', { type: 'us_ein', value: '12-3456789' }))).statusCode, 404);
    assert.equal((await rejection(stripe.customers.listTaxIds('cus_missing'))).statusCode, 404);
  });

  test('tax_id_data on customer create creates them (expand[]=tax_ids lists them); a malformed one names tax_id_data[n][value] and creates nothing', async () => {
    const c = await stripe.customers.create({
      email: 'vat@example.com', tax_id_data: [{ type: 'eu_vat', value: 'DE123456789' }, { type: 'us_ein', value: '12-3456789' }], expand: ['tax_ids'],
    });
    assert.deepEqual(c.tax_ids?.data.map((t) => t.type), ['us_ein', 'eu_vat']);
    assert.equal(c.tax_ids?.url, `/v1/customers/${c.id}/tax_ids`);
    const again = await stripe.customers.retrieve(c.id, { expand: ['tax_ids'] }) as Stripe.Customer;
    assert.equal(again.tax_ids?.data.length, 2);
    assert.equal((await stripe.customers.retrieve(c.id) as Stripe.Customer).tax_ids, undefined, 'includable: absent unless expanded');
    const before = (await stripe.customers.list({ limit: 100 })).data.length;
    const e = await rejection(stripe.customers.create({ tax_id_data: [{ type: 'us_ein', value: '12-3456789' }, { type: 'gb_vat', value: 'GB1' }] }));
    assert.equal(e.code, 'tax_id_invalid');
    assert.equal(e.param, 'tax_id_data[1][value]');
    assert.equal((await stripe.customers.list({ limit: 100 })).data.length, before);
  });

  test('deleting a customer deletes its tax IDs, each with customer.tax_id.deleted', async () => {
    const c = await stripe.customers.create({ tax_id_data: [{ type: 'ch_vat', value: 'CHE-123.456.789 MWST' }] });
    const [t] = (await stripe.customers.listTaxIds(c.id)).data;
    await stripe.customers.del(c.id);
    assert.equal((await rejection(stripe.taxIds.retrieve(t.id))).statusCode, 404);
    assert.deepEqual((await eventsOf(t.id)).map((e) => e.type), ['customer.tax_id.created', 'customer.tax_id.deleted']);
    const listed = await stripe.taxIds.list({ owner: { type: 'customer', customer: c.id } });
    assert.deepEqual(listed.data, []);
  });
});

describe('/v1/tax_ids', () => {
  test('owner[type]=customer creates a customer\'s tax ID, listed with the owner filter; expand[]=customer', async () => {
    const c = await stripe.customers.create({ name: 'Owner' });
    const t = await stripe.taxIds.create({ type: 'no_vat', value: '123456789MVA', owner: { type: 'customer', customer: c.id }, expand: ['customer'] });
    assert.equal((t.customer as Stripe.Customer).name, 'Owner');
    assert.equal(t.owner?.type, 'customer');
    const listed = await stripe.taxIds.list({ owner: { type: 'customer', customer: c.id } });
    assert.deepEqual(listed.data.map((x) => x.id), [t.id]);
    assert.deepEqual((await stripe.customers.listTaxIds(c.id)).data.map((x) => x.id), [t.id]);
    const viaOwner = await stripe.taxIds.retrieve(t.id, { expand: ['owner.customer'] });
    assert.equal((viaOwner.owner?.customer as Stripe.Customer).id, c.id);
    // Every field Stripe declares expandable on TaxId expands; an owner field the owner lacks stays absent.
    const fields = expandableFields('TaxId');
    assert.deepEqual(fields.filter((f) => !(f in expansionsOf('tax_id'))), []);
    const all = await stripe.taxIds.retrieve(t.id, { expand: fields });
    assert.deepEqual(Object.keys(all.owner ?? {}).sort(), ['customer', 'customer_account', 'type']);
    const own = await stripe.taxIds.create({ type: 'us_ein', value: '98-7654321' });
    const ownAll = await stripe.taxIds.retrieve(own.id, { expand: fields });
    assert.deepEqual(ownAll.owner, { type: 'self', customer_account: null });
    assert.equal(ownAll.customer, null);
  });

  test('without owner: the account\'s own (owner self, no customer, no verification), listed by default; deleted with taxIds.del', async () => {
    const t = await stripe.taxIds.create({ type: 'eu_vat', value: 'IE1234567AB' });
    assert.equal(t.customer, null);
    assert.deepEqual(t.owner, { type: 'self', customer_account: null });
    assert.equal(t.verification, null);
    assert.equal(t.country, 'IE');
    const self = await stripe.taxIds.list({ limit: 100 });
    assert.ok(self.data.some((x) => x.id === t.id));
    assert.ok(self.data.every((x) => x.owner?.type === 'self'));
    assert.ok((await stripe.taxIds.list({ owner: { type: 'self' } })).data.some((x) => x.id === t.id));
    const d = await stripe.taxIds.del(t.id);
    assert.equal(d.deleted, true);
    assert.equal((await rejection(stripe.taxIds.del(t.id))).statusCode, 404);
    assert.deepEqual(await eventsOf(t.id), [], 'account tax IDs emit no customer.tax_id events');
  });

  test('owners Oncepay cannot have are refused with a reason; a customer owner needs its customer, which must exist', async () => {
    for (const type of ['account', 'application'] as const) {
      const e = await rejection(stripe.taxIds.create({ type: 'us_ein', value: '12-3456789', owner: { type } }));
      assert.equal(e.statusCode, 400);
      assert.equal(e.code, 'parameter_unsupported');
      assert.equal(e.param, 'owner[type]');
      assert.match(e.message, /Connect/);
    }
    const acct = await rejection(stripe.taxIds.create({ type: 'us_ein', value: '12-3456789', owner: { type: 'account', account: 'acct_1' } }));
    assert.equal(acct.code, 'parameter_unsupported');
    const missing = await rejection(stripe.taxIds.create({ type: 'us_ein', value: '12-3456789', owner: { type: 'customer' } }));
    assert.equal(missing.param, 'owner[customer]');
    const none = await rejection(stripe.taxIds.create({ type: 'us_ein', value: '12-3456789', owner: { type: 'customer', customer: 'cus_nope' } }));
    assert.equal(none.code, 'resource_missing');
    assert.equal(none.param, 'owner[customer]');
    const bad = await rejection(stripe.taxIds.create({ type: 'us_ein', value: '12345', owner: { type: 'self' } }));
    assert.equal(bad.code, 'tax_id_invalid');
    assert.equal((await rejection(stripe.taxIds.list({ owner: { type: 'account' } }))).code, 'parameter_unsupported');
  });
});

describe('retries', () => {
  test('a create retried with its key answers the first tax ID, once (one created event); a delete retried replays its answer', async () => {
    const c = await stripe.customers.create({});
    const first = await stripe.customers.createTaxId(c.id, { type: 'eu_vat', value: 'NL123456789B12' }, { idempotencyKey: `tx-${c.id}` });
    const again = await stripe.customers.createTaxId(c.id, { type: 'eu_vat', value: 'NL123456789B12' }, { idempotencyKey: `tx-${c.id}` });
    assert.equal(again.id, first.id);
    assert.deepEqual(again.verification, first.verification);
    assert.equal((await stripe.customers.listTaxIds(c.id)).data.length, 1);
    assert.deepEqual((await eventsOf(first.id)).map((e) => e.type), ['customer.tax_id.created', 'customer.tax_id.updated']);
    const d1 = await stripe.taxIds.del(first.id, {}, { idempotencyKey: `del-${first.id}` });
    const d2 = await stripe.taxIds.del(first.id, {}, { idempotencyKey: `del-${first.id}` });
    assert.equal(d2.lastResponse.headers['idempotent-replayed'], 'true');
    assert.deepEqual({ ...d2, lastResponse: null }, { ...d1, lastResponse: null });
    assert.deepEqual((await eventsOf(first.id)).map((e) => e.type), ['customer.tax_id.created', 'customer.tax_id.updated', 'customer.tax_id.deleted']);
    const mismatch = await rejection(stripe.customers.createTaxId(c.id, { type: 'eu_vat', value: 'DE123456789' }, { idempotencyKey: `tx-${c.id}` }));
    assert.equal(mismatch.type, 'StripeIdempotencyError');
  });
});
