import type { Transaction, Updateable } from 'kysely'
import { timeOrderedId } from '../core/time-ordered-id.js'
import type { ConfigStoreTables } from '../store/index.js'
import {
  assertParentsExist,
  blankToNull,
  checkBudgets,
  checkName,
  checkRateLimitInput,
  conflict,
  invalid,
  notFound,
  ownerBudgets,
} from './checks.js'
import {
  listShape,
  pageOf,
  type CustomerList,
  type CustomerListQuery,
  type TeamList,
  type TeamListQuery,
} from './lists.js'
import type { Customer, Team } from './model.js'
import { applyRateLimit, patchSingleBudget, replaceBudgets, replaceOwnerLimits } from './nested.js'
import * as repo from './repo/index.js'
import type { GovernanceDb, GovernanceTables, OwnerKind, OwnerRowOf } from './repo/index.js'
import type {
  CreateCustomerInput,
  CreateTeamInput,
  UpdateCustomerInput,
  UpdateTeamInput,
} from './requests.js'

/** What the API takes and answers for each kind of owner. */
export interface OwnerTypes {
  team: {
    record: Team
    create: CreateTeamInput
    update: UpdateTeamInput
    query: TeamListQuery
    list: TeamList
  }
  customer: {
    record: Customer
    create: CreateCustomerInput
    update: UpdateCustomerInput
    query: CustomerListQuery
    list: CustomerList
  }
}

export interface CreateOwnerOptions {
  id?: string
  config_hash?: string | null
}

type Trx = Transaction<ConfigStoreTables & GovernanceTables>
type OwnerChange = { entity: OwnerKind; id: string; action: 'created' | 'updated' | 'deleted' }

/** What differs between teams and customers. */
interface OwnerSpec<K extends OwnerKind> {
  kind: K
  noun: string
  listKey: 'teams' | 'customers'
  /** Whole records: `one` for a record on its own (with its members), else as lists show them. */
  read(db: GovernanceDb, rows: OwnerRowOf[K][], one: boolean): Promise<OwnerTypes[K]['record'][]>
}

export const TEAMS: OwnerSpec<'team'> = {
  kind: 'team',
  noun: 'team',
  listKey: 'teams',
  read: (db, rows, one) => repo.readTeams(db, rows, { withVirtualKeys: one }),
}

export const CUSTOMERS: OwnerSpec<'customer'> = {
  kind: 'customer',
  noun: 'customer',
  listKey: 'customers',
  read: (db, rows, one) => repo.readCustomers(db, rows, { withTeams: true, withVirtualKeys: one }),
}

/**
 * Creating, changing, deleting, reading and listing teams or customers with their budgets and
 * rate limit, under Bifrost's rules. A team may belong to a customer; a customer belongs to none.
 */
export class OwnerCrud<K extends OwnerKind> {
  constructor(
    private readonly spec: OwnerSpec<K>,
    private readonly deps: {
      db: GovernanceDb
      now: () => string
      mutate: <T>(fn: (trx: Trx) => Promise<T>, change: (result: T) => OwnerChange) => Promise<T>
    },
  ) {}

  async create(
    given: OwnerTypes[K]['create'],
    opts: CreateOwnerOptions = {},
  ): Promise<OwnerTypes[K]['record']> {
    const input: CreateTeamInput = given
    const { kind, noun } = this.spec
    const now = this.deps.now()
    const name = checkName(input.name)
    const customerId = kind === 'team' ? blankToNull(input.customer_id) : null
    const budgets = ownerBudgets(input) ?? []
    checkBudgets(budgets)
    if (input.rate_limit) checkRateLimitInput(input.rate_limit, 'rate_limit')
    const id = opts.id ?? timeOrderedId()
    const row = {
      id,
      name,
      ...(kind === 'team' && { customer_id: customerId }),
      calendar_aligned: input.calendar_aligned ? 1 : 0,
      config_hash: opts.config_hash ?? null,
      created_at: now,
      updated_at: now,
    } as OwnerRowOf[K]
    const owner = repo.limitOwnerOf(kind, id)
    await this.deps.mutate(
      async (trx) => {
        if (opts.id !== undefined && (await repo.findOwner(trx, kind, opts.id)))
          conflict(`a ${noun} with id ${opts.id} already exists`, 'id')
        await assertParentsExist(trx, null, customerId)
        await repo.insertOwner(trx, kind, row)
        await replaceOwnerLimits(trx, owner, budgets, input.rate_limit, now)
      },
      () => ({ entity: kind, id, action: 'created' }),
    )
    return this.get(id)
  }

  /**
   * Bifrost's update; `budget` changes the single budget in place ({} or null removes it),
   * `budgets` replaces them all. A team's `customer_id` null or "" detaches it.
   */
  async update(id: string, given: OwnerTypes[K]['update']): Promise<OwnerTypes[K]['record']> {
    const input: UpdateTeamInput = given
    const { kind } = this.spec
    const now = this.deps.now()
    if (input.name !== undefined) checkName(input.name)
    if (input.budget !== undefined && input.budgets !== undefined)
      invalid('send budget or budgets, not both', 'budget')
    if (input.budgets) checkBudgets(input.budgets.map((b, i) => ({ input: b, param: `budgets.${i}` })))
    if (input.rate_limit) checkRateLimitInput(input.rate_limit, 'rate_limit')
    const owner = repo.limitOwnerOf(kind, id)
    await this.deps.mutate(
      async (trx) => {
        if (!(await repo.findOwner(trx, kind, id))) this.notFound()
        const patch: Updateable<Omit<OwnerRowOf['team'], 'id' | 'created_at'>> = { updated_at: now }
        if (input.name !== undefined) patch.name = input.name
        if (input.calendar_aligned !== undefined) patch.calendar_aligned = input.calendar_aligned ? 1 : 0
        if (kind === 'team' && input.customer_id !== undefined) {
          patch.customer_id = blankToNull(input.customer_id)
          await assertParentsExist(trx, null, patch.customer_id)
        }
        await repo.updateOwner(trx, kind, id, patch)
        if (input.budgets !== undefined) await replaceBudgets(trx, owner, input.budgets, now)
        if (input.budget !== undefined) await patchSingleBudget(trx, owner, input.budget, 'budget', now)
        await applyRateLimit(trx, owner, input.rate_limit, 'rate_limit', now)
      },
      () => ({ entity: kind, id, action: 'updated' }),
    )
    return this.get(id)
  }

  /** Deletes it with its budgets and rate limit; its virtual keys (and a customer's teams) stay, detached (as Bifrost). */
  async delete(id: string): Promise<OwnerTypes[K]['record']> {
    const { kind } = this.spec
    const before = await this.get(id)
    await this.deps.mutate(
      async (trx) => {
        if (!(await repo.deleteOwner(trx, kind, id, this.deps.now()))) this.notFound()
      },
      () => ({ entity: kind, id, action: 'deleted' }),
    )
    return before
  }

  async get(id: string): Promise<OwnerTypes[K]['record']> {
    const row = await repo.findOwner(this.deps.db, this.spec.kind, id)
    if (!row) this.notFound()
    const [record] = await this.spec.read(this.deps.db, [row], true)
    return record
  }

  /** Bifrost's list: without limit, offset or search, every match (limit = their number); else one page. */
  async list(query: OwnerTypes[K]['query'] = {}): Promise<OwnerTypes[K]['list']> {
    const paged = query.limit !== undefined || query.offset !== undefined || Boolean(query.search)
    const page = paged ? pageOf(query.limit, query.offset) : undefined
    const { rows, total } = await repo.listOwnerRows(this.deps.db, this.spec.kind, query, page)
    const records = await this.spec.read(this.deps.db, rows, false)
    return {
      [this.spec.listKey]: records,
      ...listShape(records.length, total, page),
    } as OwnerTypes[K]['list']
  }

  private notFound(): never {
    const noun = this.spec.noun
    return notFound(`${noun[0].toUpperCase()}${noun.slice(1)} not found`)
  }
}
