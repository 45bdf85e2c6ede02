import { timeOrderedId } from '../core/time-ordered-id.js'
import type { Kysely, Transaction, Updateable } from 'kysely'
import { GatewayError } from '../core/errors.js'
import type { ConfigStoreTables } from '../store/index.js'
import {
  assertParentsExist,
  blankToNull,
  buildMcpConfigs,
  checkBudgets,
  checkKeyIds,
  checkName,
  checkProviderConfigs,
  checkRateLimitInput,
  conflict,
  invalid,
  notFound,
  ownerBudgets,
  parseExpiry,
  storedMcpConfigs,
} from './checks.js'
import type { Budget, RateLimit, VirtualKey } from './model.js'
import { replaceOwnerLimits, replaceProviderConfigs } from './nested.js'
import { CUSTOMERS, OwnerCrud, TEAMS } from './owners.js'
import * as repo from './repo/index.js'
import type { GovernanceTables, LimitOwner, VirtualKeyRow } from './repo/index.js'
import type { CreateVirtualKeyInput, UpdateVirtualKeyInput } from './requests.js'
import { hashVirtualKey } from './state.js'
import { newVirtualKeyValue, virtualKeyHint } from './key-values.js'
import { listShape, pageOf, type VirtualKeyList, type VirtualKeyListQuery } from './lists.js'

export { assertResetDuration } from './checks.js'
export { importGovernanceFromFile, type GovernanceImportResult } from './file-import.js'

/**
 * Creating, changing and deleting virtual keys, teams and customers with their budgets and rate
 * limits, under Bifrost's rules. Independent of HTTP: the management routes and the access-profile
 * code call it alike. Every mutation commits in one transaction, then calls `onChange`.
 */

/** What changed, for whoever keeps the in-memory state and the counters fresh. */
export interface GovernanceChange {
  entity: 'virtual_key' | 'team' | 'customer' | 'model_config' | 'provider_governance'
  id: string
  action: 'created' | 'updated' | 'deleted' | 'rotated'
  /** Budgets whose usage this change set to zero (`reset_budget_usage`): the live counters must follow. */
  resetBudgetIds?: string[]
}

export interface GovernanceServiceDeps {
  /** `store.db`. */
  db: Kysely<ConfigStoreTables>
  /** Called after each commit. A call made from `quietly` gets no argument: reload everything. */
  onChange: (change?: GovernanceChange) => Promise<void>
  now?: () => number
  /** `client.vk_rotation_cooldown` in ms, read at each rotation: how long a rotated key's old value keeps working. */
  rotationCooldownMs?: () => number
}

/** What only the server (import, users, access profiles) sets on a virtual key, never the API body. */
export interface VirtualKeyLinks {
  user_id?: string | null
  access_profile_id?: number | null
}

export interface CreateVirtualKeyOptions extends VirtualKeyLinks {
  /** A given id (config.json import); a new UUID otherwise. */
  id?: string
  /** A given value (config.json import); a new `sk-bf-` value otherwise. */
  value?: string
  created_by_user_id?: string | null
  config_hash?: string | null
  /** config.json import: an entry that expired stays importable (it is refused at use). */
  allowPastExpiry?: boolean
}

type Db = repo.GovernanceDb
type Trx = Transaction<ConfigStoreTables & GovernanceTables>

export class GovernanceService {
  private readonly db: Db
  private readonly onChange: (change?: GovernanceChange) => Promise<void>
  private readonly now: () => number
  private readonly rotationCooldownMs: () => number
  private quiet = 0
  private changedQuietly = false
  readonly teams: OwnerCrud<'team'>
  readonly customers: OwnerCrud<'customer'>

  constructor(deps: GovernanceServiceDeps) {
    this.db = repo.governanceDb(deps.db)
    this.onChange = deps.onChange
    this.now = deps.now ?? Date.now
    this.rotationCooldownMs = deps.rotationCooldownMs ?? (() => 0)
    const owners = { db: this.db, now: () => this.nowIso(), mutate: this.mutate.bind(this) }
    this.teams = new OwnerCrud(TEAMS, owners)
    this.customers = new OwnerCrud(CUSTOMERS, owners)
  }

  /** Runs `fn` with change events held back, then sends one (without argument) if anything changed. */
  async quietly<T>(fn: () => Promise<T>): Promise<T> {
    this.quiet++
    try {
      return await fn()
    } finally {
      this.quiet--
      if (this.quiet === 0 && this.changedQuietly) {
        this.changedQuietly = false
        await this.onChange()
      }
    }
  }

  /**
   * One transaction; a unique-constraint race becomes a 409; `onChange` follows the commit. Also
   * the way model configs and provider governance (model-limits.ts) write.
   */
  async mutate<T>(fn: (trx: Trx) => Promise<T>, change: (result: T) => GovernanceChange): Promise<T> {
    let result: T
    try {
      result = await this.db.transaction().execute(fn)
    } catch (err) {
      if (repo.isUniqueViolation(err)) {
        throw new GatewayError(
          'conflict',
          'the change conflicts with an existing entry (a name or value already in use)',
          {
            cause: err,
          },
        )
      }
      throw err
    }
    if (this.quiet > 0) this.changedQuietly = true
    else await this.onChange(change(result))
    return result
  }

  private nowIso(): string {
    return new Date(this.now()).toISOString()
  }

  async has(entity: 'virtual_key' | repo.OwnerKind, id: string): Promise<boolean> {
    if (entity === 'virtual_key') return (await repo.findVirtualKey(this.db, id)) !== undefined
    return (await repo.findOwner(this.db, entity, id)) !== undefined
  }

  private async assertNameFree(db: Db, name: string, self: string | undefined): Promise<void> {
    const taken = await repo.findVirtualKeyIdByName(db, name)
    if (taken !== undefined && taken !== self)
      conflict(`a virtual key named ${JSON.stringify(name)} already exists`, 'name')
  }

  // ---- virtual keys ----

  /** Creates a virtual key; the answer carries its full value, which is shown this once and stored only as a hash. */
  async createVirtualKey(
    input: CreateVirtualKeyInput,
    opts: CreateVirtualKeyOptions = {},
  ): Promise<{ virtualKey: VirtualKey }> {
    const now = this.nowIso()
    const name = checkName(input.name)
    const { teamId, customerId } = keyParent(input)
    const expiresAt = blankToNull(input.expires_at)
    const expires =
      expiresAt === null ? null : parseExpiry(expiresAt, this.now(), opts.allowPastExpiry === true)
    const budgets = ownerBudgets(input) ?? []
    checkBudgets(budgets)
    if (input.rate_limit) checkRateLimitInput(input.rate_limit, 'rate_limit')
    const providerConfigs = input.provider_configs ?? []
    checkProviderConfigs(providerConfigs)
    const mcpConfigs = buildMcpConfigs(input.mcp_configs ?? [], [], false)
    if (opts.value !== undefined && opts.value.trim() === '')
      invalid('a virtual key value must not be empty', 'value')
    const value = opts.value ?? newVirtualKeyValue()
    const id = opts.id ?? timeOrderedId()
    const row: VirtualKeyRow = {
      id,
      name,
      value_hash: hashVirtualKey(value),
      value_hint: virtualKeyHint(value),
      description: input.description ?? '',
      is_active: input.is_active === false ? 0 : 1,
      team_id: teamId,
      customer_id: customerId,
      calendar_aligned: input.calendar_aligned ? 1 : 0,
      expires_at: expires,
      user_id: opts.user_id ?? null,
      access_profile_id: opts.access_profile_id ?? null,
      created_by_user_id: opts.created_by_user_id ?? null,
      mcp_configs: JSON.stringify(mcpConfigs),
      disable_content_logging: input.disable_content_logging ? 1 : 0,
      config_hash: opts.config_hash ?? null,
      created_at: now,
      updated_at: now,
    }
    await this.mutate(
      async (trx) => {
        if (opts.id !== undefined && (await repo.findVirtualKey(trx, opts.id))) {
          conflict(`a virtual key with id ${opts.id} already exists`, 'id')
        }
        await this.assertNameFree(trx, name, undefined)
        if (await repo.findVirtualKeyByHash(trx, row.value_hash))
          conflict('a virtual key with this value already exists', 'value')
        await assertParentsExist(trx, teamId, customerId)
        await checkKeyIds(trx, providerConfigs)
        await repo.insertVirtualKey(trx, row)
        await replaceOwnerLimits(trx, { virtual_key_id: id }, budgets, input.rate_limit, now)
        await replaceProviderConfigs(trx, id, providerConfigs, now)
      },
      () => ({ entity: 'virtual_key', id, action: 'created' }),
    )
    return { virtualKey: { ...(await this.getVirtualKey(id)), value } }
  }

  /**
   * Bifrost's update: members left out stay as they are. `budgets` replaces the key's direct budgets
   * (matched by reset_duration, keeping usage); `provider_configs` replaces the configs (matched by
   * id, else provider); `mcp_configs` replaces those; `team_id`/`customer_id` move the key (null or
   * "" detaches); `reset_budget_usage` zeroes the usage of every budget of the key and its configs.
   */
  async updateVirtualKey(
    id: string,
    input: UpdateVirtualKeyInput,
    links: VirtualKeyLinks = {},
  ): Promise<VirtualKey> {
    const now = this.nowIso()
    if (input.name !== undefined) checkName(input.name)
    const { teamId, customerId } = keyParent(input)
    const budgets = ownerBudgets(input)
    if (budgets) checkBudgets(budgets)
    if (input.rate_limit) checkRateLimitInput(input.rate_limit, 'rate_limit')
    if (input.provider_configs) checkProviderConfigs(input.provider_configs)
    let expires: string | null | undefined
    if (input.expires_at !== undefined) {
      const text = blankToNull(input.expires_at)
      expires = text === null ? null : parseExpiry(text, this.now(), false)
    }

    await this.mutate(
      async (trx) => {
        const row = await repo.findVirtualKey(trx, id)
        if (!row) notFound('Virtual key not found')
        const patch: Updateable<VirtualKeyRow> = { updated_at: now }
        if (input.name !== undefined && input.name !== row.name) {
          await this.assertNameFree(trx, input.name, id)
          patch.name = input.name
        }
        if (input.description !== undefined) patch.description = input.description
        if (input.is_active !== undefined) patch.is_active = input.is_active ? 1 : 0
        if (input.calendar_aligned !== undefined) patch.calendar_aligned = input.calendar_aligned ? 1 : 0
        if (expires !== undefined) patch.expires_at = expires
        if (input.disable_content_logging !== undefined)
          patch.disable_content_logging = input.disable_content_logging ? 1 : 0
        if (input.team_id !== undefined) {
          patch.team_id = teamId
          if (teamId !== null) patch.customer_id = null
        }
        if (input.customer_id !== undefined) {
          patch.customer_id = customerId
          if (customerId !== null) patch.team_id = null
        }
        await assertParentsExist(trx, teamId, customerId)
        if (links.user_id !== undefined) patch.user_id = links.user_id
        if (links.access_profile_id !== undefined) patch.access_profile_id = links.access_profile_id
        if (input.mcp_configs !== undefined) {
          patch.mcp_configs = JSON.stringify(buildMcpConfigs(input.mcp_configs, storedMcpConfigs(row), true))
        }
        await repo.updateVirtualKey(trx, id, patch)
        await replaceOwnerLimits(trx, { virtual_key_id: id }, budgets, input.rate_limit, now)
        if (input.provider_configs) {
          await checkKeyIds(trx, input.provider_configs)
          await replaceProviderConfigs(trx, id, input.provider_configs, now)
        }
        return input.reset_budget_usage ? this.zeroBudgetUsage(trx, id) : []
      },
      (ids) => ({
        entity: 'virtual_key',
        id,
        action: 'updated',
        ...(ids.length > 0 && { resetBudgetIds: ids }),
      }),
    )
    return this.getVirtualKey(id)
  }

  /** Zeroes the usage of the key's budgets and its provider configs' budgets; their windows stay. */
  private async zeroBudgetUsage(db: Db, virtualKeyId: string): Promise<string[]> {
    const configs = await repo.providerConfigRowsOf(db, virtualKeyId)
    const owners: LimitOwner[] = [
      { virtual_key_id: virtualKeyId },
      ...configs.map((c) => ({ provider_config_id: c.id })),
    ]
    const ids: string[] = []
    for (const owner of owners) {
      for (const budget of await repo.budgetRowsOf(db, owner)) {
        await repo.updateBudget(db, budget.id, { current_usage: 0 })
        ids.push(budget.id)
      }
    }
    return ids
  }

  /** Deletes the key with its provider configs, budgets and rate limits; answers the key as it was. */
  async deleteVirtualKey(id: string): Promise<VirtualKey> {
    const before = await this.getVirtualKey(id)
    await this.mutate(
      async (trx) => {
        if (!(await repo.deleteVirtualKey(trx, id))) notFound('Virtual key not found')
      },
      () => ({ entity: 'virtual_key', id, action: 'deleted' }),
    )
    return before
  }

  /**
   * A new value for the key; the answer carries it, shown this once. As in Bifrost, the old value
   * keeps working for `client.vk_rotation_cooldown` (none by default: it stops at once); a second
   * rotation ends the previous grace at once, so only one old value ever works.
   */
  async rotateVirtualKey(id: string): Promise<{ virtualKey: VirtualKey }> {
    const value = newVirtualKeyValue()
    const cooldown = this.rotationCooldownMs()
    const now = this.now()
    await this.mutate(
      async (trx) => {
        const stored = await repo.findVirtualKey(trx, id)
        if (!stored) notFound('Virtual key not found')
        await repo.updateVirtualKey(trx, id, {
          value_hash: hashVirtualKey(value),
          value_hint: virtualKeyHint(value),
          previous_value_hash: cooldown > 0 ? stored.value_hash : null,
          previous_value_expires_at: cooldown > 0 ? new Date(now + cooldown).toISOString() : null,
          rotated_at: new Date(now).toISOString(),
          updated_at: this.nowIso(),
        })
      },
      () => ({ entity: 'virtual_key', id, action: 'rotated' }),
    )
    return { virtualKey: { ...(await this.getVirtualKey(id)), value } }
  }

  async getVirtualKey(id: string): Promise<VirtualKey> {
    const row = await repo.findVirtualKey(this.db, id)
    if (!row) notFound('Virtual key not found')
    const [vk] = await repo.readVirtualKeys(this.db, [row])
    return repo.publicVirtualKey(vk)
  }

  /** The key a caller presents, by its value (masked in the answer); undefined when none has it. */
  async findVirtualKeyByValue(value: string): Promise<VirtualKey | undefined> {
    const row = await repo.findVirtualKeyByHash(this.db, hashVirtualKey(value))
    if (!row) return undefined
    const [vk] = await repo.readVirtualKeys(this.db, [row])
    return repo.publicVirtualKey(vk)
  }

  /**
   * Bifrost's list: without limit, offset, search, team_id or customer_id, every matching key
   * (limit = their number); otherwise one page (25 by default, at most 1000), oldest first.
   */
  async listVirtualKeys(query: VirtualKeyListQuery = {}): Promise<VirtualKeyList> {
    const paged =
      query.limit !== undefined ||
      query.offset !== undefined ||
      Boolean(query.search) ||
      query.team_id !== undefined ||
      query.customer_id !== undefined
    const page = paged ? pageOf(query.limit, query.offset) : undefined
    const { rows, total } = await repo.listVirtualKeyRows(this.db, query, page)
    const keys = (await repo.readVirtualKeys(this.db, rows)).map(repo.publicVirtualKey)
    return { virtual_keys: keys, ...listShape(keys.length, total, page) }
  }

  // ---- budgets and rate limits (read-only) ----

  listBudgets(): Promise<Budget[]> {
    return repo.listBudgets(this.db)
  }

  listRateLimits(): Promise<RateLimit[]> {
    return repo.listRateLimits(this.db)
  }
}

/** The key's team or customer ("" or null: none); a key belongs to one of them at most. */
function keyParent(input: { team_id?: string | null; customer_id?: string | null }): {
  teamId: string | null
  customerId: string | null
} {
  const teamId = blankToNull(input.team_id)
  const customerId = blankToNull(input.customer_id)
  if (teamId !== null && customerId !== null) {
    invalid(
      'a virtual key belongs to a team or to a customer, not both: send team_id or customer_id',
      'team_id',
    )
  }
  return { teamId, customerId }
}
