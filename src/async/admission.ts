import { GatewayError } from '../core/errors.js'
import { virtualKeyFromHeaders } from '../core/virtual-keys.js'
import type { Budget, GovernanceState, RateLimit, UsageView, VirtualKeyRecord } from '../governance/index.js'

export interface JobAdmissionDeps {
  state: GovernanceState
  usage: UsageView
  enforceAuth: () => boolean
}

/**
 * Who submits a job, and whether they may: the virtual key must exist and be usable, and none of
 * its budgets or request limits (nor its team's or customer's) may be spent already. The job's own
 * charge is reserved and settled when it runs, by the same governance as the synchronous route.
 */
export async function admitJob(
  deps: JobAdmissionDeps,
  headers: Record<string, string | string[] | undefined>,
): Promise<VirtualKeyRecord | undefined> {
  const value = virtualKeyFromHeaders(headers)
  if (value === undefined) {
    if (deps.enforceAuth())
      throw new GatewayError(
        'virtual_key_required',
        'a virtual key is required: send it as x-bf-vk or as the API key (sk-bf-…)',
      )
    return undefined
  }
  const vk = deps.state.virtualKeyByValue(value)
  if (!vk) throw new GatewayError('virtual_key_not_found', 'virtual key not found')
  if (!vk.is_active) throw new GatewayError('virtual_key_blocked', `virtual key "${vk.name}" is not active`)
  if (vk.expires_at && Date.parse(vk.expires_at) <= Date.now())
    throw new GatewayError('virtual_key_blocked', `virtual key "${vk.name}" expired at ${vk.expires_at}`)
  await refuseWhenSpent(deps, vk)
  return vk
}

async function refuseWhenSpent(deps: JobAdmissionDeps, found: VirtualKeyRecord): Promise<void> {
  // Copies: the overlay writes live figures, and the snapshot is shared.
  const vk = structuredClone(found)
  const team = structuredClone(deps.state.team(vk.team_id))
  const customer = structuredClone(deps.state.customer(vk.customer_id ?? team?.customer_id))
  await deps.usage.virtualKey(vk)
  if (team) await deps.usage.team(team)
  if (customer) await deps.usage.customer(customer)
  const scopes: { name: string; budgets: (Budget | null | undefined)[]; rateLimit?: RateLimit | null }[] = [
    { name: `virtual key "${vk.name}"`, budgets: vk.budgets, rateLimit: vk.rate_limit },
    ...(team
      ? [
          {
            name: `team "${team.name}"`,
            budgets: [team.budget, ...(team.budgets ?? [])],
            rateLimit: team.rate_limit,
          },
        ]
      : []),
    ...(customer
      ? [
          {
            name: `customer "${customer.name}"`,
            budgets: [customer.budget, ...(customer.budgets ?? [])],
            rateLimit: customer.rate_limit,
          },
        ]
      : []),
  ]
  // A provider config's own limits refuse only when every provider of the key is spent.
  const usable = vk.provider_configs.filter((pc) => !spentBudget(pc.budgets) && !spentRequests(pc.rate_limit))
  if (vk.provider_configs.length > 0 && usable.length === 0)
    throw new GatewayError('budget_exceeded', `budget exceeded on every provider of virtual key "${vk.name}"`)
  for (const s of scopes) {
    const b = spentBudget(s.budgets)
    if (b) throw new GatewayError('budget_exceeded', `budget exceeded for ${s.name} (${b.max_limit} USD)`)
    if (spentRequests(s.rateLimit))
      throw new GatewayError('request_limited', `request limit reached for ${s.name}`)
  }
}

function spentBudget(list: (Budget | null | undefined)[]): Budget | undefined {
  return list.find((b): b is Budget => !!b && b.current_usage >= b.max_limit)
}

function spentRequests(rl: RateLimit | null | undefined): boolean {
  return !!rl && typeof rl.request_max_limit === 'number' && rl.request_current_usage >= rl.request_max_limit
}
