import type { Updateable } from 'kysely'
import type { CustomerRow, GovernanceDb, LimitOwner, TeamRow } from './tables.js'
import { deleteLimitsOf, rowsAndTotal, whereNameContains, type Page } from './write.js'

/**
 * Teams and customers: the owners of budgets and rate limits that virtual keys (and teams, for
 * customers) belong to. One set of primitives serves both; `kind` picks the table.
 */
export type OwnerKind = 'team' | 'customer'

export interface OwnerRowOf {
  team: TeamRow
  customer: CustomerRow
}

const TABLE = { team: 'gov_teams', customer: 'gov_customers' } as const
/** The owner's table, typed as the teams' one: its columns include the customers' (customer_id is used for teams only). */
const tableOf = (kind: OwnerKind) => TABLE[kind] as 'gov_teams'
const COLUMN = { team: 'team_id', customer: 'customer_id' } as const
/** The tables whose rows point at an owner: those rows stay, detached, when it is deleted (as Bifrost). */
const POINTED_FROM = {
  team: ['gov_virtual_keys'],
  customer: ['gov_teams', 'gov_virtual_keys'],
} as const satisfies Record<OwnerKind, readonly ('gov_teams' | 'gov_virtual_keys')[]>

/** The owner as its budgets and rate limit name it. */
export function limitOwnerOf(kind: OwnerKind, id: string): LimitOwner {
  return kind === 'team' ? { team_id: id } : { customer_id: id }
}

export interface OwnerFilter {
  search?: string
  /** Teams only: those of this customer. */
  customer_id?: string
}

export async function findOwner<K extends OwnerKind>(
  db: GovernanceDb,
  kind: K,
  id: string,
): Promise<OwnerRowOf[K] | undefined> {
  const row = await db.selectFrom(tableOf(kind)).selectAll().where('id', '=', id).executeTakeFirst()
  return row as OwnerRowOf[K] | undefined
}

export async function insertOwner<K extends OwnerKind>(
  db: GovernanceDb,
  kind: K,
  row: OwnerRowOf[K],
): Promise<void> {
  await db
    .insertInto(tableOf(kind))
    .values(row as TeamRow)
    .execute()
}

/** Changes the given columns (`customer_id` only on a team). */
export async function updateOwner(
  db: GovernanceDb,
  kind: OwnerKind,
  id: string,
  patch: Updateable<Omit<TeamRow, 'id' | 'created_at'>>,
): Promise<void> {
  await db.updateTable(tableOf(kind)).set(patch).where('id', '=', id).execute()
}

/** Deletes the owner with its budgets and rate limit; what pointed at it stays, detached. */
export async function deleteOwner(
  db: GovernanceDb,
  kind: OwnerKind,
  id: string,
  now: string,
): Promise<boolean> {
  const column = COLUMN[kind]
  for (const table of POINTED_FROM[kind]) {
    await db
      .updateTable(table)
      .set({ [column]: null, updated_at: now })
      .where(column, '=', id)
      .execute()
  }
  await deleteLimitsOf(db, column, [id])
  const result = await db.deleteFrom(tableOf(kind)).where('id', '=', id).executeTakeFirst()
  return result.numDeletedRows > 0n
}

/** Rows in creation order, and how many match in all. */
export async function listOwnerRows<K extends OwnerKind>(
  db: GovernanceDb,
  kind: K,
  filter: OwnerFilter,
  page?: Page,
): Promise<{ rows: OwnerRowOf[K][]; total: number }> {
  let query = db.selectFrom(tableOf(kind))
  if (filter.search) query = query.where(whereNameContains(filter.search))
  if (kind === 'team' && filter.customer_id !== undefined)
    query = query.where('customer_id', '=', filter.customer_id)
  const { rows, total } = await rowsAndTotal(query, page)
  return { rows: rows as OwnerRowOf[K][], total }
}
