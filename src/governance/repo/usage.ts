import { sql, type Kysely } from 'kysely'
import type { ConfigStoreTables } from '../../store/index.js'
import { governanceDb } from './tables.js'

/** Usage figures of one budget or one rate limit, as the counters hold them. Absent fields are left as stored. */
export type UsageUpdate =
  | { budgetId: string; current_usage?: number; last_reset?: string }
  | {
      rateLimitId: string
      token_current_usage?: number
      token_last_reset?: string
      request_current_usage?: number
      request_last_reset?: string
    }

/**
 * Persists usage in one transaction, so that counters survive a restart. Rows deleted in the
 * meantime are skipped; `updated_at` stays, as it tells when the configuration changed.
 */
export async function saveUsage(
  db: Kysely<ConfigStoreTables>,
  updates: readonly UsageUpdate[],
): Promise<void> {
  if (updates.length === 0) return
  await governanceDb(db)
    .transaction()
    .execute(async (trx) => {
      for (const update of updates) {
        if ('budgetId' in update) {
          const { budgetId, ...patch } = update
          if (patch.current_usage === undefined && patch.last_reset === undefined) continue
          await trx.updateTable('gov_budgets').set(patch).where('id', '=', budgetId).execute()
        } else {
          const { rateLimitId, ...patch } = update
          if (Object.values(patch).every((v) => v === undefined)) continue
          await trx.updateTable('gov_rate_limits').set(patch).where('id', '=', rateLimitId).execute()
        }
      }
    })
}

/** What one budget or rate limit was charged in one window since the last write-back. */
export type UsageDelta =
  | { budgetId: string; windowStart: string; amount: number }
  | { rateLimitId: string; kind: 'requests' | 'tokens'; windowStart: string; amount: number }

/**
 * Adds what was charged to the stored usage, in one transaction: each node adds its own share,
 * so the stored figure is never replaced by a smaller one (a node whose counters were lost, a
 * node that saw less). A row whose stored window is another one starts the new window at the amount.
 */
export async function addUsage(db: Kysely<ConfigStoreTables>, deltas: readonly UsageDelta[]): Promise<void> {
  if (deltas.length === 0) return
  await governanceDb(db)
    .transaction()
    .execute(async (trx) => {
      for (const d of deltas) {
        const amount = sql`CAST(${d.amount} AS double precision)`
        if ('budgetId' in d) {
          await trx
            .updateTable('gov_budgets')
            .set({
              current_usage: sql<number>`CASE WHEN last_reset = ${d.windowStart} THEN current_usage + ${amount} ELSE ${amount} END`,
              last_reset: d.windowStart,
            })
            .where('id', '=', d.budgetId)
            .execute()
          continue
        }
        const usage = d.kind === 'requests' ? 'request_current_usage' : 'token_current_usage'
        const reset = d.kind === 'requests' ? 'request_last_reset' : 'token_last_reset'
        await trx
          .updateTable('gov_rate_limits')
          .set({
            [usage]: sql<number>`CASE WHEN ${sql.ref(reset)} = ${d.windowStart} THEN ${sql.ref(usage)} + ${amount} ELSE ${amount} END`,
            [reset]: d.windowStart,
          })
          .where('id', '=', d.rateLimitId)
          .execute()
      }
    })
}
