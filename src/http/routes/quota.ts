import type { FastifyInstance } from 'fastify'
import { GatewayError } from '../../core/errors.js'
import { virtualKeyFromHeaders } from '../../core/virtual-keys.js'
import type { GovernanceState, UsageView } from '../../governance/index.js'

export interface QuotaRouteDeps {
  state: GovernanceState
  usage: UsageView
}

/**
 * `GET /api/governance/virtual-keys/quota`: a virtual key reads its own allowance. The key is the
 * credential (no admin auth), sent as the caller sends it for inference.
 */
export function registerQuotaRoute(app: FastifyInstance, { state, usage }: QuotaRouteDeps): void {
  app.get('/api/governance/virtual-keys/quota', async (request) => {
    const value = virtualKeyFromHeaders(request.headers)
    if (!value) {
      throw new GatewayError('virtual_key_required', 'send the virtual key as x-bf-vk or as a Bearer token', {
        isBifrostError: false,
        topLevelType: 'virtual_key_required',
      })
    }
    const found = state.virtualKeyByValue(value)
    if (!found) {
      throw new GatewayError('virtual_key_not_found', 'virtual key not found', {
        isBifrostError: false,
        topLevelType: 'virtual_key_not_found',
      })
    }
    // A copy: the overlay writes live figures into it, and the snapshot is shared.
    const vk = structuredClone(found)
    await usage.virtualKey(vk)
    const team = state.team(vk.team_id)
    const customer = state.customer(vk.customer_id ?? team?.customer_id)
    const teamCopy = team ? structuredClone(team) : undefined
    const customerCopy = customer ? structuredClone(customer) : undefined
    if (teamCopy) await usage.team(teamCopy)
    if (customerCopy) await usage.customer(customerCopy)
    return {
      virtual_key_name: vk.name,
      is_active: vk.is_active,
      expires_at: vk.expires_at ?? null,
      budgets: vk.budgets,
      rate_limit: vk.rate_limit ?? null,
      provider_configs: vk.provider_configs.map((pc) => ({ ...pc, keys: null })),
      team: teamCopy
        ? {
            id: teamCopy.id,
            name: teamCopy.name,
            budgets: [teamCopy.budget, ...(teamCopy.budgets ?? [])].filter(Boolean),
          }
        : null,
      customer: customerCopy
        ? {
            id: customerCopy.id,
            name: customerCopy.name,
            budgets: [customerCopy.budget, ...(customerCopy.budgets ?? [])].filter(Boolean),
          }
        : null,
    }
  })
}
