// OpenAI's cursor paging, shared by the file and batch lists: a page of at most `limit` items
// after the item named by `after`, with first_id, last_id and has_more, so that a client (the
// openai package's auto-pagination) sees every item once.
import { ServiceError } from './errors.js';

export interface PageParams {
  limit?: number;
  after?: string;
  /** By creation time: `desc` (newest first) or `asc`. */
  order?: 'asc' | 'desc';
}

export interface ListPage<T> {
  object: 'list';
  data: T[];
  first_id: string | null;
  last_id: string | null;
  has_more: boolean;
}

/**
 * The page `params` ask for of `items` (`what` they are), which are in creation order (oldest
 * first). The limits are the route's: OpenAI allows 1–100 batches (20 by default) and 1–10,000
 * files (10,000 by default).
 */
export function pageOf<T extends { id: string }>(
  items: readonly T[],
  params: PageParams,
  limits: { what: string; max: number; default: number },
): ListPage<T> {
  const limit = params.limit ?? limits.default;
  if (!Number.isInteger(limit) || limit < 1 || limit > limits.max)
    throw new ServiceError('invalid_request', `limit must be an integer from 1 to ${limits.max}`, 'limit');
  const order = params.order ?? 'desc';
  if (order !== 'asc' && order !== 'desc')
    throw new ServiceError('invalid_request', `order must be "asc" or "desc", got ${JSON.stringify(order)}`, 'order');
  const ordered = order === 'desc' ? [...items].reverse() : items;
  let start = 0;
  if (params.after !== undefined) {
    start = ordered.findIndex((item) => item.id === params.after) + 1;
    if (start === 0)
      throw new ServiceError('not_found', `No ${limits.what} with id ${JSON.stringify(params.after)}`, 'after');
  }
  const data = ordered.slice(start, start + limit);
  return {
    object: 'list',
    data,
    first_id: data[0]?.id ?? null,
    last_id: data.at(-1)?.id ?? null,
    has_more: start + limit < ordered.length,
  };
}
