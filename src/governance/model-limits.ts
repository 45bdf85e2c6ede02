import { randomUUID } from 'node:crypto'
import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import { BudgetOverrideService } from './budget-overrides.js'
import { checkBudgets, checkRateLimitInput, conflict, invalid, notFound, ownerBudgets } from './checks.js'
import { fileLimitIndex, inlineNamedLimits, namingEntry } from './limits-file.js'
import { DEFAULT_PAGE_SIZE, type ListShape } from './lists.js'
import type { ModelConfig, ProviderGovernance } from './model.js'
import { applyRateLimit, patchSingleBudget, replaceBudgets } from './nested.js'
import * as repo from './repo/index.js'
import type { LimitOwner, ModelConfigRow } from './repo/index.js'
import {
  BudgetInputSchema,
  BudgetPatchSchema,
  RateLimitInputSchema,
  type BudgetInput,
  type BudgetPatch,
} from './requests.js'
import type { GovernanceService } from './service.js'

/**
 * Bifrost's model configs (budgets and a rate limit for one model, globally or inside one virtual
 * key or user) and provider governance (the same for all traffic to one provider), under
 * Bifrost's rules (framework/configstore/tables/modelconfig.go, handlers/governance.go). Writes go
 * through the governance service's transactions, so that every node reloads them.
 */

const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()])

export const MODEL_CONFIG_SCOPES = ['global', 'virtual_key', 'user'] as const

export const CreateModelConfigSchema = Type.Object({
  model_name: Type.String(),
  provider: Type.Optional(Nullable(Type.String())),
  scope: Type.Optional(Type.String()),
  scope_id: Type.Optional(Nullable(Type.String())),
  budgets: Type.Optional(Type.Array(BudgetInputSchema)),
  /** Bifrost before multi-budgets: one budget. */
  budget: Type.Optional(BudgetInputSchema),
  rate_limit: Type.Optional(Nullable(RateLimitInputSchema)),
  calendar_aligned: Type.Optional(Type.Boolean()),
})
export type CreateModelConfigInput = Static<typeof CreateModelConfigSchema>

export const UpdateModelConfigSchema = Type.Object({
  model_name: Type.Optional(Type.String()),
  /** null: every provider. */
  provider: Type.Optional(Nullable(Type.String())),
  /** Identity fields: accepted only unchanged. */
  scope: Type.Optional(Type.String()),
  scope_id: Type.Optional(Nullable(Type.String())),
  budgets: Type.Optional(Type.Array(BudgetInputSchema)),
  budget: Type.Optional(Nullable(BudgetPatchSchema)),
  rate_limit: Type.Optional(Nullable(RateLimitInputSchema)),
  calendar_aligned: Type.Optional(Type.Boolean()),
})
export type UpdateModelConfigInput = Static<typeof UpdateModelConfigSchema>

export const UpdateProviderGovernanceSchema = Type.Object({
  /** Omitted or null: unchanged; `[]`: none; otherwise the full set. */
  budgets: Type.Optional(Nullable(Type.Array(BudgetInputSchema))),
  budget: Type.Optional(Nullable(BudgetPatchSchema)),
  rate_limit: Type.Optional(Nullable(RateLimitInputSchema)),
  calendar_aligned: Type.Optional(Nullable(Type.Boolean())),
})
export type UpdateProviderGovernanceInput = Static<typeof UpdateProviderGovernanceSchema>

export interface ModelConfigQuery {
  search?: string
  scope?: string
  scope_id?: string
  limit?: number
  offset?: number
}

export interface ModelConfigList extends ListShape {
  model_configs: ModelConfig[]
}

type Db = repo.GovernanceDb

/** Bifrost caps a page of model configs at 100. */
const MAX_MODEL_CONFIG_PAGE = 100

const checkCreate = TypeCompiler.Compile(CreateModelConfigSchema)
const checkProvider = TypeCompiler.Compile(UpdateProviderGovernanceSchema)

function validateProviderFileEntry(body: unknown): UpdateProviderGovernanceInput {
  const first = checkProvider.Errors(body).First()
  if (first) invalid(first.message, first.path.replace(/^\//, '').replace(/\//g, '.'))
  return body as UpdateProviderGovernanceInput
}

/** A config.json entry as the API's create body (unknown members ignored, as there). */
function validateFileEntry(body: unknown): CreateModelConfigInput {
  const first = checkCreate.Errors(body).First()
  if (first) invalid(first.message, first.path.replace(/^\//, '').replace(/\//g, '.'))
  return body as CreateModelConfigInput
}

function checkText(value: string | null | undefined, param: string): void {
  if (typeof value === 'string' && value.trim() === '') invalid(`${param} must not be empty`, param)
}

/** Budgets given as `budgets` or Bifrost's older single `budget` (not both), each checked. */
function budgetList(input: {
  budget?: BudgetInput | null
  budgets?: BudgetInput[]
}): BudgetInput[] | undefined {
  if (input.budget != null && input.budgets !== undefined)
    invalid('send budget or budgets, not both', 'budget')
  const budgets = ownerBudgets({ budget: input.budget ?? undefined, budgets: input.budgets })
  if (budgets) checkBudgets(budgets)
  return budgets?.map((b) => b.input)
}

export class ModelLimitsService {
  constructor(
    private readonly db: Db,
    private readonly governance: GovernanceService,
    private readonly now: () => number = Date.now,
  ) {}

  private nowIso(): string {
    return new Date(this.now()).toISOString()
  }

  /** Budget overrides, written through the same governance transactions. */
  overrides(): BudgetOverrideService {
    return new BudgetOverrideService(this.db, this.governance, this.now)
  }

  // ---- model configs ----

  /**
   * As Bifrost's handler: with `limit`, `offset` or `search`, one page (limit 25 by default, at
   * most 100; 0 means the default); with none of them, every config.
   */
  async listModelConfigs(query: ModelConfigQuery = {}): Promise<ModelConfigList> {
    if (query.scope !== undefined) checkScope(query.scope, 'scope')
    const rows = await repo.listModelConfigRows(this.db, query)
    const paged = query.limit !== undefined || query.offset !== undefined || query.search !== undefined
    const limit = paged ? Math.min(query.limit || DEFAULT_PAGE_SIZE, MAX_MODEL_CONFIG_PAGE) : rows.length
    const offset = paged ? (query.offset ?? 0) : 0
    const page = paged ? rows.slice(offset, offset + limit) : rows
    const model_configs = await repo.readModelConfigs(this.db, page)
    return { model_configs, count: model_configs.length, total_count: rows.length, limit, offset }
  }

  async getModelConfig(id: string): Promise<ModelConfig> {
    const row = await repo.findModelConfig(this.db, id)
    if (!row) notFound('Model config not found')
    const [mc] = await repo.readModelConfigs(this.db, [row])
    return mc
  }

  async createModelConfig(input: CreateModelConfigInput, opts: { id?: string; config_hash?: string } = {}) {
    const now = this.nowIso()
    const scope = checkScope(input.scope ?? 'global', 'scope')
    checkText(input.model_name, 'model_name')
    checkText(input.provider, 'provider')
    const scopeId = scope === 'global' ? null : (input.scope_id ?? '').trim()
    if (scopeId === '') invalid(`scope_id is required when scope is "${scope}"`, 'scope_id')
    const budgets = budgetList(input) ?? []
    if (input.rate_limit) checkRateLimitInput(input.rate_limit, 'rate_limit')
    const row: ModelConfigRow = {
      id: opts.id ?? randomUUID(),
      model_name: input.model_name.trim(),
      provider: input.provider?.trim() || null,
      scope,
      scope_id: scopeId,
      calendar_aligned: input.calendar_aligned ? 1 : 0,
      config_hash: opts.config_hash ?? null,
      created_at: now,
      updated_at: now,
    }
    const owner: LimitOwner = { model_config_id: row.id }
    await this.governance.mutate(
      async (trx) => {
        await this.assertScopeExists(trx, row.scope, row.scope_id)
        await this.assertUnique(trx, row, undefined)
        await repo.insertModelConfig(trx, row)
        await replaceBudgets(trx, owner, budgets, now)
        await applyRateLimit(trx, owner, input.rate_limit, 'rate_limit', now)
      },
      () => ({ entity: 'model_config', id: row.id, action: 'created' }),
    )
    return this.getModelConfig(row.id)
  }

  /**
   * Members left out stay; `budgets` is the full new set (matched by reset_duration, keeping usage);
   * Bifrost's older `budget` changes the first one in place ({} or null removes it).
   */
  async updateModelConfig(id: string, input: UpdateModelConfigInput): Promise<ModelConfig> {
    const now = this.nowIso()
    checkText(input.model_name, 'model_name')
    checkText(input.provider, 'provider')
    if (input.budget !== undefined && input.budgets !== undefined)
      invalid('send budget or budgets, not both', 'budget')
    if (input.budgets) checkBudgets(input.budgets.map((b, i) => ({ input: b, param: `budgets.${i}` })))
    if (input.rate_limit) checkRateLimitInput(input.rate_limit, 'rate_limit')
    const owner: LimitOwner = { model_config_id: id }
    await this.governance.mutate(
      async (trx) => {
        const stored = await repo.findModelConfig(trx, id)
        if (!stored) notFound('Model config not found')
        if (input.scope !== undefined && input.scope !== stored.scope)
          invalid('scope cannot be changed: delete the model config and create another', 'scope')
        if (input.scope_id !== undefined && (input.scope_id || null) !== stored.scope_id)
          invalid('scope_id cannot be changed: delete the model config and create another', 'scope_id')
        const next: ModelConfigRow = {
          ...stored,
          ...(input.model_name !== undefined && { model_name: input.model_name.trim() }),
          ...(input.provider !== undefined && { provider: input.provider?.trim() || null }),
          ...(input.calendar_aligned !== undefined && { calendar_aligned: input.calendar_aligned ? 1 : 0 }),
          updated_at: now,
        }
        await this.assertUnique(trx, next, id)
        const { id: _id, created_at: _created, ...patch } = next
        await repo.updateModelConfig(trx, id, patch)
        await this.applyBudgets(trx, owner, input, now)
        await applyRateLimit(trx, owner, input.rate_limit, 'rate_limit', now)
      },
      () => ({ entity: 'model_config', id, action: 'updated' }),
    )
    return this.getModelConfig(id)
  }

  async deleteModelConfig(id: string): Promise<void> {
    await this.governance.mutate(
      async (trx) => {
        if (!(await repo.deleteModelConfig(trx, id))) notFound('Model config not found')
      },
      () => ({ entity: 'model_config', id, action: 'deleted' }),
    )
  }

  private async assertScopeExists(db: Db, scope: string, scopeId: string | null): Promise<void> {
    if (scopeId === null) return
    if (scope === 'virtual_key' && !(await repo.findVirtualKey(db, scopeId)))
      invalid(`virtual key ${scopeId} not found`, 'scope_id')
    if (scope === 'user') {
      const users = db.withTables<{ gov_users: { id: string } }>()
      const user = await users
        .selectFrom('gov_users')
        .select('id')
        .where('id', '=', scopeId)
        .executeTakeFirst()
      if (!user) invalid(`user ${scopeId} not found`, 'scope_id')
    }
  }

  private async assertUnique(db: Db, row: ModelConfigRow, self: string | undefined): Promise<void> {
    const other = await repo.findModelConfigLike(db, row)
    if (other && other.id !== self) {
      const where = row.provider === null ? 'every provider' : `provider '${row.provider}'`
      const scope = row.scope === 'global' ? 'global' : `${row.scope} ${row.scope_id}`
      conflict(
        `Model config for model '${row.model_name}' with ${where} (${scope}) already exists`,
        'model_name',
      )
    }
  }

  private async applyBudgets(
    db: Db,
    owner: LimitOwner,
    input: { budget?: BudgetPatch | null; budgets?: BudgetInput[] | null },
    now: string,
  ): Promise<void> {
    if (input.budgets != null) await replaceBudgets(db, owner, input.budgets, now)
    else if (input.budget !== undefined) await patchSingleBudget(db, owner, input.budget, 'budget', now)
  }

  /**
   * config.json's `governance.model_configs` (Bifrost's), and the provider governance its
   * `providers` carry (`providers.<name>.budget_id` / `rate_limit_id`, Bifrost's provider table
   * columns; Heimdall also reads `budgets`, `budget` and `rate_limit` there inline). A model config
   * whose id (a provider whose governance) the store lacks is created with its budgets and rate
   * limit, inline or named by id in the section's `budgets` and `rate_limits`; one the store holds
   * is left as the API last left it. A bad entry stops the start, naming it.
   */
  async importFromFile(section: unknown, providers?: unknown): Promise<string[]> {
    const file = (section ?? {}) as { model_configs?: unknown; budgets?: unknown; rate_limits?: unknown }
    const index = fileLimitIndex(file)
    const created: string[] = []
    if (file.model_configs !== undefined && !Array.isArray(file.model_configs))
      throw new Error('governance.model_configs must be an array')
    for (const [i, entry] of ((file.model_configs ?? []) as Record<string, unknown>[]).entries()) {
      await namingEntry(`governance.model_configs[${i}]`, async () => {
        if (!entry || typeof entry !== 'object' || typeof entry.id !== 'string' || entry.id === '')
          invalid('an entry needs an id', 'id')
        if (await repo.findModelConfig(this.db, entry.id)) return
        const { id, ...rest } = inlineNamedLimits(entry, index)
        await this.createModelConfig(validateFileEntry(rest), { id: id as string })
        created.push(id as string)
      })
    }
    for (const [name, entry] of Object.entries(
      (providers ?? {}) as Record<string, Record<string, unknown>>,
    )) {
      await namingEntry(`providers.${name}`, async () => {
        if (!entry || typeof entry !== 'object') return
        const { budgets, budget, rate_limit } = inlineNamedLimits(entry, index)
        if (budgets === undefined && budget === undefined && rate_limit === undefined) return
        if (await repo.findProviderGovernance(this.db, name)) return
        const input = validateProviderFileEntry({
          ...(budgets !== undefined && { budgets }),
          ...(budget !== undefined && { budget }),
          ...(rate_limit !== undefined && { rate_limit }),
        })
        await this.updateProviderGovernance(name, input)
        created.push(name)
      })
    }
    return created
  }

  // ---- provider governance ----

  /** Only the providers that have a budget or a rate limit, as Bifrost lists them. */
  async listProviderGovernance(): Promise<ProviderGovernance[]> {
    const all = await repo.readProviderGovernance(this.db)
    return all.filter((p) => p.budgets.length > 0 || p.rate_limit !== undefined)
  }

  async updateProviderGovernance(
    provider: string,
    input: UpdateProviderGovernanceInput,
  ): Promise<ProviderGovernance> {
    const now = this.nowIso()
    if (input.budget != null && input.budgets != null) invalid('send budget or budgets, not both', 'budget')
    if (input.budgets) checkBudgets(input.budgets.map((b, i) => ({ input: b, param: `budgets.${i}` })))
    if (input.rate_limit) checkRateLimitInput(input.rate_limit, 'rate_limit')
    const owner: LimitOwner = { provider_name: provider }
    await this.governance.mutate(
      async (trx) => {
        await this.assertProviderExists(trx, provider)
        const stored = await repo.findProviderGovernance(trx, provider)
        const aligned = input.calendar_aligned ?? stored?.calendar_aligned === 1
        await repo.upsertProviderGovernance(trx, {
          provider,
          calendar_aligned: aligned ? 1 : 0,
          config_hash: stored?.config_hash ?? null,
          created_at: stored?.created_at ?? now,
          updated_at: now,
        })
        await this.applyBudgets(trx, owner, input, now)
        await applyRateLimit(trx, owner, input.rate_limit, 'rate_limit', now)
      },
      () => ({ entity: 'provider_governance', id: provider, action: 'updated' }),
    )
    const [updated] = await repo.readProviderGovernance(this.db, provider)
    return updated
  }

  async deleteProviderGovernance(provider: string): Promise<void> {
    await this.governance.mutate(
      async (trx) => {
        await this.assertProviderExists(trx, provider)
        await repo.deleteProviderGovernance(trx, provider)
      },
      () => ({ entity: 'provider_governance', id: provider, action: 'deleted' }),
    )
  }

  private async assertProviderExists(db: Db, provider: string): Promise<void> {
    const row = await db
      .selectFrom('providers')
      .select('name')
      .where('name', '=', provider)
      .executeTakeFirst()
    if (!row) notFound('Provider not found')
  }
}

function checkScope(scope: string, param: string): (typeof MODEL_CONFIG_SCOPES)[number] {
  if (!(MODEL_CONFIG_SCOPES as readonly string[]).includes(scope))
    invalid(`invalid scope "${scope}" for model config (global, virtual_key or user)`, param)
  return scope as (typeof MODEL_CONFIG_SCOPES)[number]
}
