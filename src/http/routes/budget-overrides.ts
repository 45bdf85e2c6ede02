import type { FastifyInstance } from 'fastify'
import { BudgetOverrideSchema, type BudgetOverrideService } from '../../governance/index.js'
import { compileValidator } from '../validate.js'
import type { LimitUsage } from './model-limits.js'
import { integerParam, USER_PREFIXES } from './users.js'

const validateOverride = compileValidator(BudgetOverrideSchema)

type VkParams = { Params: { vk_id: string; budget_id: string } }
type UserParams = { Params: { user_id: string; profile_id: string; budget_id: string } }

/**
 * Bifrost's budget overrides: `PUT|DELETE /api/governance/virtual-keys/{vk_id}/budgets/{budget_id}/override`
 * and, on a user's copy of an access profile, `/api/users/{user_id}/access-profiles/{profile_id}/budgets/{budget_id}/override`.
 * Each answers `{budget, effective_max_limit}` with the budget's live usage.
 */
export function registerBudgetOverrideRoutes(
  app: FastifyInstance,
  overrides: BudgetOverrideService,
  usage: LimitUsage | undefined,
): void {
  async function answer(
    result: Awaited<ReturnType<BudgetOverrideService['clearForVirtualKey']>>,
    message: string,
  ) {
    if (usage) await usage.budget(result.budget)
    return { message, ...result }
  }

  const vkPath = '/api/governance/virtual-keys/:vk_id/budgets/:budget_id/override'
  app.put<VkParams>(vkPath, async (request) => {
    const { vk_id, budget_id } = request.params
    const input = validateOverride(request.body)
    return answer(
      await overrides.setForVirtualKey(vk_id, budget_id, input),
      'Budget override updated successfully',
    )
  })
  app.delete<VkParams>(vkPath, async (request) => {
    const { vk_id, budget_id } = request.params
    return answer(
      await overrides.clearForVirtualKey(vk_id, budget_id),
      'Budget override removed successfully',
    )
  })

  const profileId = (value: string) => integerParam(value, 'profile_id', { min: 1, max: 2 ** 31 - 1 }) ?? 0
  for (const prefix of USER_PREFIXES) {
    const path = `${prefix}/:user_id/access-profiles/:profile_id/budgets/:budget_id/override`
    app.put<UserParams>(path, async (request) => {
      const { user_id, profile_id, budget_id } = request.params
      const input = validateOverride(request.body)
      const result = await overrides.setForUserProfile(user_id, profileId(profile_id), budget_id, input)
      return answer(result, 'Budget override updated successfully')
    })
    app.delete<UserParams>(path, async (request) => {
      const { user_id, profile_id, budget_id } = request.params
      const result = await overrides.clearForUserProfile(user_id, profileId(profile_id), budget_id)
      return answer(result, 'Budget override removed successfully')
    })
  }
}
