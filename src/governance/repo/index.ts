export {
  loadSnapshot,
  listBudgets,
  listRateLimits,
  publicVirtualKey,
  readCustomers,
  readTeams,
  readVirtualKeys,
} from './read.js'
export { addUsage, saveUsage, type UsageDelta, type UsageUpdate } from './usage.js'
export {
  governanceDb,
  ownerColumns,
  type BudgetRow,
  type CustomerRow,
  type GovernanceDb,
  type GovernanceTables,
  type LimitOwner,
  type ModelConfigRow,
  type ProviderGovernanceRow,
  type OwnerColumns,
  type ProviderConfigRow,
  type RateLimitRow,
  type TeamRow,
  type VirtualKeyRow,
} from './tables.js'
export { budgetFromRow, isSubDayDuration, mcpConfigsFromRow } from './rows.js'
export * from './write.js'
export * from './model-limits.js'
export * from './owners.js'
