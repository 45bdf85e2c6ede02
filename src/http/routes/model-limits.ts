import type { FastifyInstance } from 'fastify'
import {
  type Budget,
  CreateModelConfigSchema,
  type ModelConfig,
  type ModelLimitsService,
  type ProviderGovernance,
  type RateLimit,
  UpdateModelConfigSchema,
  UpdateProviderGovernanceSchema,
} from '../../governance/index.js'
import { compileValidator } from '../validate.js'
import { registerBudgetOverrideRoutes } from './budget-overrides.js'
import { listQuery, queryFlag, queryText } from './governance.js'

/** Live counter figures for budgets and rate limits (governance's UsageView). */
export interface LimitUsage {
  budget(b: Budget): Promise<void>
  rateLimit(rl: RateLimit): Promise<void>
}

export interface ModelLimitRouteDeps {
  modelLimits: ModelLimitsService
  usage?: LimitUsage
}

const validateCreate = compileValidator(CreateModelConfigSchema)
const validateUpdate = compileValidator(UpdateModelConfigSchema)
const validateProvider = compileValidator(UpdateProviderGovernanceSchema)

/**
 * Bifrost's model configs (`/api/governance/model-configs`) and provider governance
 * (`/api/governance/providers`): budgets and rate limits per model and per provider, shown with
 * their live usage.
 */
export function registerModelLimitRoutes(
  app: FastifyInstance,
  { modelLimits, usage }: ModelLimitRouteDeps,
): void {
  async function live<T extends ModelConfig | ProviderGovernance>(owner: T): Promise<T> {
    if (usage) {
      await Promise.all([
        ...owner.budgets.map((b) => usage.budget(b)),
        owner.rate_limit ? usage.rateLimit(owner.rate_limit) : undefined,
      ])
    }
    return owner
  }

  registerBudgetOverrideRoutes(app, modelLimits.overrides(), usage)

  app.get('/api/governance/model-configs', async (request) => {
    const q = request.query
    const list = await modelLimits.listModelConfigs({
      ...listQuery(q),
      scope: queryText(q, 'scope'),
      scope_id: queryText(q, 'scope_id'),
    })
    await Promise.all(list.model_configs.map(live))
    return list
  })

  app.post('/api/governance/model-configs', async (request) => {
    const created = await modelLimits.createModelConfig(validateCreate(request.body))
    return { message: 'Model config created successfully', model_config: await live(created) }
  })

  app.get<{ Params: { mc_id: string } }>('/api/governance/model-configs/:mc_id', async (request) => ({
    model_config: await live(await modelLimits.getModelConfig(request.params.mc_id)),
  }))

  app.put<{ Params: { mc_id: string } }>('/api/governance/model-configs/:mc_id', async (request) => {
    const updated = await modelLimits.updateModelConfig(request.params.mc_id, validateUpdate(request.body))
    return { message: 'Model config updated successfully', model_config: await live(updated) }
  })

  app.delete<{ Params: { mc_id: string } }>('/api/governance/model-configs/:mc_id', async (request) => {
    await modelLimits.deleteModelConfig(request.params.mc_id)
    return { message: 'Model config deleted successfully' }
  })

  app.get('/api/governance/providers', async (request) => {
    queryFlag(request.query, 'from_memory')
    const providers = await modelLimits.listProviderGovernance()
    await Promise.all(providers.map(live))
    return { providers, count: providers.length }
  })

  app.put<{ Params: { provider_name: string } }>(
    '/api/governance/providers/:provider_name',
    async (request) => {
      const input = validateProvider(request.body)
      const provider = await modelLimits.updateProviderGovernance(request.params.provider_name, input)
      // Bifrost's ProviderGovernanceResponse: the provider's settings at the top level.
      return { message: 'Provider governance updated successfully', ...(await live(provider)) }
    },
  )

  app.delete<{ Params: { provider_name: string } }>(
    '/api/governance/providers/:provider_name',
    async (request) => {
      await modelLimits.deleteProviderGovernance(request.params.provider_name)
      return { message: 'Provider governance deleted successfully' }
    },
  )
}
