/** Routes of tax IDs (src/payments/tax_ids.ts): a customer's under /v1/customers/:customer/tax_ids, any of the account's under /v1/tax_ids. */
import { command, listPage, listParams, read, type Route } from './route_kit.ts';
import { expandParam, nonEmptyString, object } from '../schema/params.ts';
import { resourceMissing } from '../errors.ts';
import { customers } from '../payments/payment_objects.ts';
import {
  checkOwner, checkTaxIdValue, createCustomerTaxId, createCustomerTaxIdParams, createTaxId, createTaxIdParams, deleteCustomerTaxId,
  deleteCustomerTaxIdParams, deleteTaxId, deleteTaxIdParams, liveTaxId, taxIdListOwner, taxIds,
} from '../payments/tax_ids.ts';
import { expandObject } from './expansion.ts';
import type { Queryable } from '../store/db.ts';

const id = () => nonEmptyString(255);

/** A customer named by the URL that exists (a deleted one's tax IDs are gone with it). */
async function checkCustomer(q: Queryable, accountId: string, customer: string): Promise<void> {
  const c = await customers.find(q, accountId, customer);
  if (!c || c.deleted) throw resourceMissing('customer', customer);
}

export const taxIdRoutes: Route[] = [
  command({
    method: 'POST', path: '/v1/customers/:customer/tax_ids', summary: 'Create a customer tax ID', params: createCustomerTaxIdParams,
    command: createCustomerTaxId, response: 'tax_id', check: (p) => checkTaxIdValue(p.type, p.value, 'value'),
  }),
  read({
    path: '/v1/customers/:customer/tax_ids', summary: 'List a customer\'s tax IDs', response: 'list:tax_id',
    params: listParams({ customer: id() }),
    async read(ctx, p) {
      await checkCustomer(ctx.q, ctx.accountId, p.customer);
      return listPage(ctx, p, taxIds, `/v1/customers/${p.customer}/tax_ids`, { where: { customer: p.customer, deleted: false } });
    },
  }),
  read({
    path: '/v1/customers/:customer/tax_ids/:id', summary: 'Retrieve a customer tax ID', response: 'tax_id',
    params: object({ customer: id(), id: id(), expand: expandParam() }),
    async read(ctx, p) {
      await checkCustomer(ctx.q, ctx.accountId, p.customer);
      return expandObject(ctx.q, ctx.accountId, await liveTaxId(ctx.q, ctx.accountId, p.id, { customer: p.customer }), p.expand);
    },
  }),
  command({
    method: 'DELETE', path: '/v1/customers/:customer/tax_ids/:id', summary: 'Delete a customer tax ID', params: deleteCustomerTaxIdParams,
    command: deleteCustomerTaxId, response: 'deleted_tax_id',
  }),

  command({
    method: 'POST', path: '/v1/tax_ids', summary: 'Create a tax ID (the account\'s own, or a customer\'s with owner[type]=customer)',
    params: createTaxIdParams, command: createTaxId, response: 'tax_id',
    check: (p) => { checkOwner(p.owner); checkTaxIdValue(p.type, p.value, 'value'); },
  }),
  read({
    path: '/v1/tax_ids', summary: 'List tax IDs (the account\'s own by default, or a customer\'s with owner[type]=customer)',
    response: 'list:tax_id', params: listParams({ owner: taxIdListOwner() }),
    read(ctx, p) {
      checkOwner(p.owner);
      const where: Record<string, string | boolean> = p.owner?.type === 'customer'
        ? { customer: p.owner.customer!, deleted: false } : { owner_type: 'self', deleted: false };
      return listPage(ctx, p, taxIds, '/v1/tax_ids', { where });
    },
  }),
  read({
    path: '/v1/tax_ids/:id', summary: 'Retrieve a tax ID', response: 'tax_id', params: object({ id: id(), expand: expandParam() }),
    async read(ctx, p) {
      return expandObject(ctx.q, ctx.accountId, await liveTaxId(ctx.q, ctx.accountId, p.id), p.expand);
    },
  }),
  command({
    method: 'DELETE', path: '/v1/tax_ids/:id', summary: 'Delete a tax ID', params: deleteTaxIdParams, command: deleteTaxId,
    response: 'deleted_tax_id',
  }),
];
