import type { Kysely } from 'kysely'
import type { ConfigStoreTables, GovernanceTables, OwnerColumns } from '../../store/index.js'

// The governance tables' row types live in src/store/tables.ts with every other table's.
export type {
  CustomerRow,
  TeamRow,
  VirtualKeyRow,
  ProviderConfigRow,
  OwnerColumns,
  ModelConfigRow,
  ProviderGovernanceRow,
  BudgetRow,
  RateLimitRow,
  GovernanceTables,
} from '../../store/index.js'

/** The config store's query builder with the governance tables in view. */
export type GovernanceDb = Kysely<ConfigStoreTables & GovernanceTables>

/** `store.db`, typed for the governance tables. */
export function governanceDb(db: Kysely<ConfigStoreTables>): GovernanceDb {
  return db.withTables<GovernanceTables>()
}

/** Who a budget or rate limit belongs to. */
export type LimitOwner =
  | { virtual_key_id: string }
  | { provider_config_id: number }
  | { team_id: string }
  | { customer_id: string }
  | { model_config_id: string }
  | { provider_name: string }

export function ownerColumns(owner: LimitOwner): OwnerColumns {
  return {
    virtual_key_id: 'virtual_key_id' in owner ? owner.virtual_key_id : null,
    provider_config_id: 'provider_config_id' in owner ? owner.provider_config_id : null,
    team_id: 'team_id' in owner ? owner.team_id : null,
    customer_id: 'customer_id' in owner ? owner.customer_id : null,
    model_config_id: 'model_config_id' in owner ? owner.model_config_id : null,
    provider_name: 'provider_name' in owner ? owner.provider_name : null,
  }
}
