import { createHash } from 'node:crypto'
import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import { resolveSecret } from '../core/config.js'
import { GatewayError } from '../core/errors.js'
import { stableJson } from '../store/index.js'
import {
  BudgetInputSchema,
  McpConfigInputSchema,
  providerConfigFields,
  RateLimitInputSchema,
  type BudgetInput,
  type RateLimitInput,
} from './requests.js'
import type { GovernanceService } from './service.js'

/**
 * config.json's `governance` section (Bifrost's layout: arrays `budgets`, `rate_limits`,
 * `customers`, `teams`, `virtual_keys` that refer to each other by id).
 *
 * The rule: at start, a customer, team or virtual key whose id is not in the store is created from
 * the file, with its budgets and rate limits; one whose id is already there is left exactly as the
 * store has it (the file does not overwrite changes made through the API or UI). To re-import an
 * entry, delete it through the API and restart. Other sections (routing_rules, model_configs...)
 * are not read here.
 */

const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()])
const Id = Type.String({ minLength: 1 })

const FileBudgetSchema = Type.Object({
  id: Id,
  max_limit: Type.Number(),
  reset_duration: Type.String(),
  calendar_aligned: Type.Optional(Type.Boolean()),
  virtual_key_id: Type.Optional(Type.String()),
  provider_config_id: Type.Optional(Type.Union([Type.Integer(), Type.String()])),
  team_id: Type.Optional(Type.String()),
  customer_id: Type.Optional(Type.String()),
})
type FileBudget = Static<typeof FileBudgetSchema>

const FileRateLimitSchema = Type.Object({
  id: Id,
  token_max_limit: Type.Optional(Nullable(Type.Integer())),
  token_reset_duration: Type.Optional(Nullable(Type.String())),
  request_max_limit: Type.Optional(Nullable(Type.Integer())),
  request_reset_duration: Type.Optional(Nullable(Type.String())),
})
type FileRateLimit = Static<typeof FileRateLimitSchema>

/** How an entry names its budgets and rate limit: by reference into the top-level arrays, or inline. */
const limitFields = {
  budget_id: Type.Optional(Type.String()),
  budget_ids: Type.Optional(Type.Array(Type.String())),
  budgets: Type.Optional(Type.Array(BudgetInputSchema)),
  rate_limit_id: Type.Optional(Type.String()),
  rate_limit: Type.Optional(RateLimitInputSchema),
}

const FileCustomerSchema = Type.Object({
  id: Id,
  name: Type.String(),
  calendar_aligned: Type.Optional(Type.Boolean()),
  ...limitFields,
})

const FileTeamSchema = Type.Object({
  id: Id,
  name: Type.String(),
  customer_id: Type.Optional(Type.String()),
  calendar_aligned: Type.Optional(Type.Boolean()),
  ...limitFields,
})

const FileProviderConfigSchema = Type.Object({
  id: Type.Optional(Type.Union([Type.Integer(), Type.String()])),
  ...providerConfigFields,
  ...limitFields,
})

const FileVirtualKeySchema = Type.Object({
  id: Id,
  name: Type.String(),
  /** The key's value, or `env.VAR`. Without one, a value is generated (rotate the key to learn a new one). */
  value: Type.Optional(Type.String()),
  description: Type.Optional(Type.String()),
  is_active: Type.Optional(Type.Boolean()),
  expires_at: Type.Optional(Type.String()),
  calendar_aligned: Type.Optional(Type.Boolean()),
  disable_content_logging: Type.Optional(Type.Boolean()),
  team_id: Type.Optional(Type.String()),
  customer_id: Type.Optional(Type.String()),
  access_profile_id: Type.Optional(Type.Integer()),
  provider_configs: Type.Optional(Type.Array(FileProviderConfigSchema)),
  mcp_configs: Type.Optional(Type.Array(McpConfigInputSchema)),
  ...limitFields,
})

export const GovernanceFileSchema = Type.Object({
  budgets: Type.Optional(Type.Array(FileBudgetSchema)),
  rate_limits: Type.Optional(Type.Array(FileRateLimitSchema)),
  customers: Type.Optional(Type.Array(FileCustomerSchema)),
  teams: Type.Optional(Type.Array(FileTeamSchema)),
  virtual_keys: Type.Optional(Type.Array(FileVirtualKeySchema)),
})
export type GovernanceFile = Static<typeof GovernanceFileSchema>

const checkFile = TypeCompiler.Compile(GovernanceFileSchema)

export interface GovernanceImportResult {
  /** Ids created from the file. */
  created: { customers: string[]; teams: string[]; virtual_keys: string[] }
  /** Ids already in the store, left as they are. */
  kept: { customers: string[]; teams: string[]; virtual_keys: string[] }
}

function fileError(where: string, message: string): GatewayError {
  return new GatewayError('invalid_request', `config.json governance.${where}: ${message}`)
}

function entryHash(entry: unknown): string {
  return createHash('sha256').update(stableJson(entry)).digest('hex')
}

type LimitRefs = {
  budget_id?: string
  budget_ids?: string[]
  budgets?: BudgetInput[]
  rate_limit_id?: string
  rate_limit?: RateLimitInput
}

type OwnerLink = {
  column: 'virtual_key_id' | 'provider_config_id' | 'team_id' | 'customer_id'
  id: string | number
}

/** Creates what the file has and the store lacks, in one batch of change events. See the rule above. */
export async function importGovernanceFromFile(
  service: GovernanceService,
  fileGovernance: unknown,
  opts: { env?: NodeJS.ProcessEnv } = {},
): Promise<GovernanceImportResult> {
  const result: GovernanceImportResult = {
    created: { customers: [], teams: [], virtual_keys: [] },
    kept: { customers: [], teams: [], virtual_keys: [] },
  }
  if (fileGovernance === undefined || fileGovernance === null) return result
  if (!checkFile.Check(fileGovernance)) {
    const first = checkFile.Errors(fileGovernance).First()
    const path = first?.path.replace(/^\//, '').replace(/\//g, '.') ?? ''
    throw fileError(path, first?.message.toLowerCase() ?? 'does not match the expected layout')
  }
  const file = fileGovernance
  const budgetsById = new Map<string, FileBudget>((file.budgets ?? []).map((b) => [b.id, b]))
  const rateLimitsById = new Map<string, FileRateLimit>((file.rate_limits ?? []).map((r) => [r.id, r]))

  /** Budgets referenced by id, those of governance.budgets that name `owner`, and inline ones. */
  function budgetsOf(entry: LimitRefs, owner: OwnerLink | undefined, where: string): BudgetInput[] {
    const refs = [...(entry.budget_id ? [entry.budget_id] : []), ...(entry.budget_ids ?? [])]
    const found = refs.map((id) => {
      const budget = budgetsById.get(id)
      if (!budget)
        throw fileError(`${where}.budget_id`, `no budget ${JSON.stringify(id)} in governance.budgets`)
      return budget
    })
    if (owner) {
      for (const b of file.budgets ?? []) {
        const link = b[owner.column]
        if (link !== undefined && String(link) === String(owner.id) && !found.includes(b)) found.push(b)
      }
    }
    return [
      ...found.map((b) => ({
        max_limit: b.max_limit,
        reset_duration: b.reset_duration,
        ...(b.calendar_aligned !== undefined && { calendar_aligned: b.calendar_aligned }),
      })),
      ...(entry.budgets ?? []),
    ]
  }

  function rateLimitOf(entry: LimitRefs, where: string): RateLimitInput | undefined {
    if (entry.rate_limit) return entry.rate_limit
    if (!entry.rate_limit_id) return undefined
    const rl = rateLimitsById.get(entry.rate_limit_id)
    if (!rl) {
      throw fileError(
        `${where}.rate_limit_id`,
        `no rate limit ${JSON.stringify(entry.rate_limit_id)} in governance.rate_limits`,
      )
    }
    const { id: _id, ...limits } = rl
    return limits
  }

  async function inContext(where: string, fn: () => Promise<unknown>): Promise<void> {
    try {
      await fn()
    } catch (err) {
      if (!(err instanceof GatewayError)) throw err
      throw new GatewayError(err.code, `config.json governance.${where}: ${err.message}`, {
        param: err.param,
        cause: err,
      })
    }
  }

  await service.quietly(async () => {
    for (const [i, c] of (file.customers ?? []).entries()) {
      const where = `customers.${i}`
      if (await service.has('customer', c.id)) {
        result.kept.customers.push(c.id)
        continue
      }
      await inContext(where, () =>
        service.customers.create(
          {
            name: c.name,
            budgets: budgetsOf(c, { column: 'customer_id', id: c.id }, where),
            rate_limit: rateLimitOf(c, where),
            calendar_aligned: c.calendar_aligned,
          },
          { id: c.id, config_hash: entryHash(c) },
        ),
      )
      result.created.customers.push(c.id)
    }

    for (const [i, t] of (file.teams ?? []).entries()) {
      const where = `teams.${i}`
      if (await service.has('team', t.id)) {
        result.kept.teams.push(t.id)
        continue
      }
      await inContext(where, () =>
        service.teams.create(
          {
            name: t.name,
            customer_id: t.customer_id,
            budgets: budgetsOf(t, { column: 'team_id', id: t.id }, where),
            rate_limit: rateLimitOf(t, where),
            calendar_aligned: t.calendar_aligned,
          },
          { id: t.id, config_hash: entryHash(t) },
        ),
      )
      result.created.teams.push(t.id)
    }

    for (const [i, vk] of (file.virtual_keys ?? []).entries()) {
      const where = `virtual_keys.${i}`
      if (await service.has('virtual_key', vk.id)) {
        result.kept.virtual_keys.push(vk.id)
        continue
      }
      await inContext(where, async () => {
        const value = vk.value === undefined ? undefined : resolveSecret(vk.value, opts.env)
        await service.createVirtualKey(
          {
            name: vk.name,
            description: vk.description,
            is_active: vk.is_active,
            expires_at: vk.expires_at,
            calendar_aligned: vk.calendar_aligned,
            disable_content_logging: vk.disable_content_logging,
            team_id: vk.team_id,
            customer_id: vk.customer_id,
            budgets: budgetsOf(vk, { column: 'virtual_key_id', id: vk.id }, where),
            rate_limit: rateLimitOf(vk, where),
            mcp_configs: vk.mcp_configs,
            provider_configs: (vk.provider_configs ?? []).map((pc, j) => {
              const at = `${where}.provider_configs.${j}`
              const { id: pcId, budget_id: _b, budget_ids: _bs, rate_limit_id: _r, ...config } = pc
              return {
                ...config,
                budgets: budgetsOf(
                  pc,
                  pcId === undefined ? undefined : { column: 'provider_config_id', id: pcId },
                  at,
                ),
                rate_limit: rateLimitOf(pc, at),
              }
            }),
          },
          {
            id: vk.id,
            value,
            access_profile_id: vk.access_profile_id,
            config_hash: entryHash(vk),
            allowPastExpiry: true,
          },
        )
      })
      result.created.virtual_keys.push(vk.id)
    }
  })
  return result
}
