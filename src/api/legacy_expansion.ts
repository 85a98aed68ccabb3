/** Expansion entries of the legacy card surface: a customer's default_source and its sources list (src/payments/sources.ts). */
import type { Expansion } from './expansion_kit.ts';
import { customerCard, customerCards } from '../payments/sources.ts';
import { legacyCardOf } from '../payments/legacy_card.ts';

/** A customer's default_source: its card source, rendered as a Card. */
export const cardSource: Expansion = {
  to: ['card'],
  async resolve(ctx, value, parent) {
    if (typeof value !== 'string') return value ?? null;
    try {
      return legacyCardOf((await customerCard(ctx.q, ctx.accountId, parent.id as string, value)).method);
    } catch {
      return value;
    }
  },
};

/** A customer's `sources`: the first page of ten of its cards, newest first. */
export const cardSources: Expansion = {
  to: ['card'],
  list: true,
  async resolve(ctx, _value, parent) {
    const page = await customerCards(ctx.q, ctx.accountId, parent.id as string);
    return { object: 'list', data: page.data, has_more: page.hasMore, url: `/v1/customers/${parent.id as string}/sources` };
  },
};
