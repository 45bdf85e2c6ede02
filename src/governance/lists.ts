import type { Customer, Team, VirtualKey } from './model.js'
import type { Page, VirtualKeyFilter } from './repo/index.js'

/** The list endpoints' queries, answers and paging. */

export interface VirtualKeyListQuery extends VirtualKeyFilter {
  limit?: number
  offset?: number
}

export interface ListShape {
  count: number
  total_count: number
  limit: number
  offset: number
}

export interface VirtualKeyList extends ListShape {
  virtual_keys: VirtualKey[]
}
export interface TeamList extends ListShape {
  teams: Team[]
}
export interface CustomerList extends ListShape {
  customers: Customer[]
}

export interface TeamListQuery {
  limit?: number
  offset?: number
  search?: string
  customer_id?: string
}

export interface CustomerListQuery {
  limit?: number
  offset?: number
  search?: string
}

export const DEFAULT_PAGE_SIZE = 25
export const MAX_PAGE_SIZE = 1000

export function pageOf(limit: number | undefined, offset: number | undefined): Page {
  const size =
    limit === undefined || limit <= 0 ? DEFAULT_PAGE_SIZE : Math.min(Math.floor(limit), MAX_PAGE_SIZE)
  return { limit: size, offset: offset === undefined || offset < 0 ? 0 : Math.floor(offset) }
}

/** The count, total and page of a list answer (`limit` is the count when the list was not paged). */
export function listShape(count: number, total: number, page: Page | undefined): ListShape {
  return { count, total_count: total, limit: page?.limit ?? count, offset: page?.offset ?? 0 }
}
