// The public surface of src/governance: what src/http and src/async use of it.
export { accessProfileJson } from './access-profile-json.js'
export {
  CloneAccessProfileSchema,
  CreateAccessProfileSchema,
  governanceKeyStore,
  UpdateAccessProfileSchema,
} from './access-profile-shapes.js'
export type { AccessProfile, AccessProfileVersion } from './access-profile-shapes.js'
export { AccessProfileService } from './access-profiles.js'
export { BudgetOverrideSchema } from './budget-overrides.js'
export type { BudgetOverrideService } from './budget-overrides.js'
export { rotationCooldownMs } from './key-values.js'
export {
  CreateModelConfigSchema,
  ModelLimitsService,
  UpdateModelConfigSchema,
  UpdateProviderGovernanceSchema,
} from './model-limits.js'
export type {
  Budget,
  Customer,
  ModelConfig,
  ProviderGovernance,
  RateLimit,
  Team,
  VirtualKey,
  VirtualKeyRecord,
} from './model.js'
export { OwnerCrud } from './owners.js'
export type { OwnerTypes } from './owners.js'
export { PricingOverrides } from './pricing/overrides.js'
export type { PricingOverride } from './pricing/overrides.js'
export { PRICES } from './pricing/prices.js'
export { estimateTokens } from './pricing/token-estimate.js'
export type { OwnerKind } from './repo/owners.js'
export {
  CreateCustomerSchema,
  CreateTeamSchema,
  CreateVirtualKeySchema,
  UpdateCustomerSchema,
  UpdateTeamSchema,
  UpdateVirtualKeySchema,
  withoutNullLists,
} from './requests.js'
export { routingInfoHeaders, routingInfoJson } from './routing-rules/info.js'
export { RULE_SCOPES } from './routing-rules/rule.js'
export { RoutingRuntime } from './routing-rules/runtime.js'
export { createGovernanceRuntime } from './runtime.js'
export type { GovernanceRuntime } from './runtime.js'
export { GovernanceService } from './service.js'
export { GovernanceState } from './state.js'
export { UsageView } from './usage.js'
export { listUserVirtualKeys, UserService } from './users.js'
