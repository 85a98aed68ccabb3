/** Stripe's search_result envelope (GET /v1/<resource>/search, src/api/search/search.ts). */
import { bool, constant, int, nullable, shape, type JsonSchema } from './blocks.ts';

export function searchResultOf(item: JsonSchema): JsonSchema {
  return {
    description: 'One page of the objects a search query matches, newest first.',
    ...shape({
      object: constant('search_result'),
      url: { type: 'string', pattern: '^/v1/[a-z_]+/search$', description: 'The URL of this search.' },
      has_more: bool('Whether more objects match after this page.'),
      data: { type: 'array', items: item },
      next_page: nullable({ type: 'string', minLength: 1, description: 'The page parameter that fetches the next page; null on the last.' }),
      total_count: int('How many objects the query matches in all: only with expand[]=total_count.', 0),
    }, { optional: ['total_count'] }),
  };
}
