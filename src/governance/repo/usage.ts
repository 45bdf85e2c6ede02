import type { Kysely } from 'kysely'
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
