import type { Target } from '../core/context.js'
import { planBudget, planRateLimit, type PlannedCheck, type Scope } from './limits.js'
import type { ModelConfig, VirtualKeyRecord } from './model.js'
import type { GovernanceState } from './state.js'

/**
 * The budgets and rate limits of a deployment (provider, model) that apply to a request, in
 * Bifrost's order (plugins/governance/resolver.go): the provider's own, then the model configs of
 * global and user scope; the virtual key's scoped model configs come after the key's own limits.
 * A model config applies when its model_name is the target's model or `*`, its provider is unset
 * or the target's, and its scope is global, this virtual key, or this key's user.
 */
export interface DeploymentChecks {
  beforeKey: PlannedCheck[]
  afterKey: PlannedCheck[]
}

export function planDeploymentLimits(
  state: GovernanceState,
  target: Target,
  vk: VirtualKeyRecord | undefined,
  tokens: () => number,
  cost: () => number,
  now: number,
): DeploymentChecks {
  const out: DeploymentChecks = { beforeKey: [], afterKey: [] }
  if (!state.hasDeploymentLimits) return out
  const add = (
    into: PlannedCheck[],
    scope: Scope,
    limits: Pick<ModelConfig, 'budgets' | 'rate_limit'>,
  ): void => {
    if (limits.rate_limit) into.push(...planRateLimit(limits.rate_limit, scope, tokens, now))
    for (const b of limits.budgets) into.push(planBudget(b, scope, cost(), now))
  }
  const provider = state.providerGovernance(target.provider)
  if (provider) {
    add(
      out.beforeKey,
      { kind: 'provider', id: provider.provider, name: `provider ${provider.provider}` },
      provider,
    )
  }
  for (const mc of state.modelConfigs(target.model)) {
    if (mc.provider !== undefined && mc.provider !== target.provider) continue
    let into: PlannedCheck[]
    if (mc.scope === 'global') into = out.beforeKey
    else if (mc.scope === 'user' && vk?.user_id && mc.scope_id === vk.user_id) into = out.beforeKey
    else if (mc.scope === 'virtual_key' && vk && mc.scope_id === vk.id) into = out.afterKey
    else continue
    add(into, { kind: 'model_config', id: mc.id, name: modelScopeName(mc) }, mc)
  }
  return out
}

/** `model gpt-4o of openai for virtual key "x"`: which config tripped, in a refusal's words. */
function modelScopeName(mc: ModelConfig): string {
  const model = mc.model_name === '*' ? 'every model' : `model ${mc.model_name}`
  const provider = mc.provider ? ` of ${mc.provider}` : ''
  const who =
    mc.scope === 'global'
      ? ''
      : ` for ${mc.scope === 'user' ? 'user' : 'virtual key'} ${JSON.stringify(mc.scope_name ?? mc.scope_id)}`
  return `${model}${provider}${who}`
}
