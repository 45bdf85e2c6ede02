import { GatewayError } from '../core/errors.js'
import { validateResetDuration } from './durations.js'
import type { VirtualKeyMcpConfig } from './model.js'
import * as repo from './repo/index.js'
import type { RateLimitSpec, VirtualKeyRow } from './repo/index.js'
import type { BudgetInput, McpConfigInput, ProviderConfigInput, RateLimitInput } from './requests.js'

/** The checks of governance input that Bifrost makes (and a few it should), each failing with a 400 that names the field. */

type Db = repo.GovernanceDb

export function invalid(message: string, param?: string): never {
  throw new GatewayError('invalid_request', message, { param })
}

export function notFound(message: string): never {
  throw new GatewayError('not_found', message)
}

export function conflict(message: string, param?: string): never {
  throw new GatewayError('conflict', message, { param })
}

/**
 * The one check of reset durations (`30s`, `5m`, `1h`, `1d`, `1w`, `1M`, `1Q`, `1Y`, `daily` ...)
 * and of calendar alignment (a day or more). It defers to durations.ts, so that nothing is accepted
 * here that the enforcement could not count.
 */
export function assertResetDuration(text: string, param: string, calendarAligned = false): void {
  validateResetDuration(text, calendarAligned, param)
}

export function checkName(name: string, param = 'name'): string {
  if (name.trim() === '') invalid(`${param} must not be empty`, param)
  return name
}

export function blankToNull(id: string | null | undefined): string | null {
  return id === undefined || id === null || id === '' ? null : id
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:\d{2})$/

export function parseExpiry(text: string, now: number, allowPast: boolean): string {
  const time = RFC3339.test(text) ? Date.parse(text) : NaN
  if (Number.isNaN(time))
    invalid(`expires_at must be an RFC 3339 date-time (e.g. 2030-01-31T00:00:00Z)`, 'expires_at')
  if (!allowPast && time <= now) invalid('expires_at must be in the future', 'expires_at')
  return new Date(time).toISOString()
}

export function checkBudget(
  b: { max_limit: number; reset_duration: string; calendar_aligned?: boolean | null },
  param: string,
) {
  if (!Number.isFinite(b.max_limit) || b.max_limit <= 0) {
    invalid(`budget max_limit must be a number greater than 0 (got ${b.max_limit})`, `${param}.max_limit`)
  }
  assertResetDuration(b.reset_duration, `${param}.reset_duration`, b.calendar_aligned === true)
}

/** Budgets of one owner: each valid, and no two with the same reset_duration. */
export function checkBudgets(budgets: readonly { input: BudgetInput; param: string }[]): void {
  const seen = new Set<string>()
  for (const { input, param } of budgets) {
    checkBudget(input, param)
    if (seen.has(input.reset_duration)) {
      invalid(
        `duplicate reset_duration in budgets: ${input.reset_duration} (each budget of one owner needs its own)`,
        `${param}.reset_duration`,
      )
    }
    seen.add(input.reset_duration)
  }
}

/** An owner's budgets from the single `budget` (Bifrost) and the list `budgets` (Heimdall), with their params. */
export function ownerBudgets(input: {
  budget?: BudgetInput
  budgets?: BudgetInput[]
}): { input: BudgetInput; param: string }[] | undefined {
  if (input.budget === undefined && input.budgets === undefined) return undefined
  return [
    ...(input.budget ? [{ input: input.budget, param: 'budget' }] : []),
    ...(input.budgets ?? []).map((b, i) => ({ input: b, param: `budgets.${i}` })),
  ]
}

export function checkRateLimitInput(rl: RateLimitInput, param: string): void {
  for (const half of ['token', 'request'] as const) {
    const max = rl[`${half}_max_limit`]
    const duration = rl[`${half}_reset_duration`]
    if (max !== undefined && max !== null && max <= 0) {
      invalid(
        `rate limit ${half}_max_limit must be greater than 0 (got ${max})`,
        `${param}.${half}_max_limit`,
      )
    }
    if (duration !== undefined && duration !== null)
      assertResetDuration(duration, `${param}.${half}_reset_duration`)
  }
}

/** A rate limit as it will be stored: each limit needs its duration. */
export function checkRateLimitSpec(spec: RateLimitSpec, param: string): void {
  for (const half of ['token', 'request'] as const) {
    if (spec[`${half}_max_limit`] !== null && spec[`${half}_reset_duration`] === null) {
      invalid(
        `rate limit ${half}_reset_duration is required with ${half}_max_limit`,
        `${param}.${half}_reset_duration`,
      )
    }
  }
}

function checkModelList(list: readonly string[] | undefined, param: string): void {
  list?.forEach((entry, i) => {
    if (!entry.startsWith('regex:')) return
    try {
      new RegExp(entry.slice('regex:'.length))
    } catch {
      invalid(`${JSON.stringify(entry)} is not a valid regular expression`, `${param}.${i}`)
    }
  })
}

export function checkProviderConfigs(
  inputs: readonly ProviderConfigInput[],
  param = 'provider_configs',
): void {
  const seen = new Set<string>()
  inputs.forEach((pc, i) => {
    const at = `${param}.${i}`
    if (seen.has(pc.provider))
      invalid(`provider ${pc.provider} appears twice in provider_configs`, `${at}.provider`)
    seen.add(pc.provider)
    if (typeof pc.weight === 'number' && (!Number.isFinite(pc.weight) || pc.weight < 0)) {
      invalid(`weight must be 0 or more (got ${pc.weight})`, `${at}.weight`)
    }
    checkModelList(pc.allowed_models, `${at}.allowed_models`)
    checkModelList(pc.blacklisted_models, `${at}.blacklisted_models`)
    if (pc.budgets) checkBudgets(pc.budgets.map((b, j) => ({ input: b, param: `${at}.budgets.${j}` })))
    if (pc.rate_limit) checkRateLimitInput(pc.rate_limit, `${at}.rate_limit`)
  })
}

/** Provider keys named by key_ids exist and belong to the config's provider (`*` names them all). */
export async function checkKeyIds(
  db: Db,
  inputs: readonly ProviderConfigInput[],
  param = 'provider_configs',
): Promise<void> {
  const ids = [...new Set(inputs.flatMap((pc) => pc.key_ids ?? []).filter((id) => id !== '*'))]
  const providerOf = await repo.providerOfKeys(db, ids)
  inputs.forEach((pc, i) => {
    for (const id of pc.key_ids ?? []) {
      if (id === '*') continue
      const provider = providerOf.get(id)
      if (provider === undefined)
        invalid(`unknown provider key id ${JSON.stringify(id)}`, `${param}.${i}.key_ids`)
      if (provider !== pc.provider) {
        invalid(
          `provider key ${JSON.stringify(id)} belongs to provider ${provider}, not ${pc.provider}`,
          `${param}.${i}.key_ids`,
        )
      }
    }
  })
}

export type StoredMcpConfig = Omit<VirtualKeyMcpConfig, 'virtual_key_id'>

/** The new MCP configs; entries keep the id of the stored one they name (by id, else by client name). */
export function buildMcpConfigs(
  inputs: readonly McpConfigInput[],
  stored: readonly StoredMcpConfig[],
  checkIds: boolean,
): StoredMcpConfig[] {
  const names = new Set<string>()
  let next = Math.max(0, ...stored.map((m) => m.id)) + 1
  return inputs.map((m, i) => {
    if (names.has(m.mcp_client_name)) {
      invalid(`duplicate mcp_client_name: ${m.mcp_client_name}`, `mcp_configs.${i}.mcp_client_name`)
    }
    names.add(m.mcp_client_name)
    const byId = m.id === undefined ? undefined : stored.find((s) => s.id === m.id)
    if (checkIds && m.id !== undefined && !byId) {
      invalid(`MCP config ${m.id} does not belong to this virtual key`, `mcp_configs.${i}.id`)
    }
    const match = byId ?? stored.find((s) => s.mcp_client_name === m.mcp_client_name)
    return {
      id: match?.id ?? next++,
      ...(m.mcp_client_id !== undefined && m.mcp_client_id !== null && { mcp_client_id: m.mcp_client_id }),
      mcp_client_name: m.mcp_client_name,
      tools_to_execute: m.tools_to_execute ?? [],
    }
  })
}

export function storedMcpConfigs(row: VirtualKeyRow): StoredMcpConfig[] {
  return repo.mcpConfigsFromRow(row).map(({ virtual_key_id: _vk, ...m }) => m)
}

/** The team and customer a virtual key or team names exist (a 400, not a 404: they are in the body). */
export async function assertParentsExist(
  db: Db,
  teamId: string | null,
  customerId: string | null,
): Promise<void> {
  if (teamId !== null && !(await repo.findOwner(db, 'team', teamId)))
    invalid(`team ${teamId} not found`, 'team_id')
  if (customerId !== null && !(await repo.findOwner(db, 'customer', customerId))) {
    invalid(`customer ${customerId} not found`, 'customer_id')
  }
}
