import type { Kysely } from 'kysely'
import type { RoutingRulesTable } from '../../store/index.js'
import type { RoutingRule } from './rule.js'

type Db = Kysely<{ routing_rules: RoutingRulesTable }>

export interface RuleListFilter {
  scope?: string
  scope_id?: string
  /** Case-insensitive part of the name or description. */
  search?: string
}

/** Routing rules in the config store (SQLite, or the PostgreSQL every node shares). */
export class RoutingRuleRepo {
  private readonly db: Db

  constructor(db: Kysely<unknown>) {
    this.db = db as unknown as Db
  }

  async all(): Promise<RoutingRule[]> {
    const rows = await this.db.selectFrom('routing_rules').select('rule').execute()
    return rows.map((r) => JSON.parse(r.rule) as RoutingRule).sort(byScopeAndPriority)
  }

  async list(filter: RuleListFilter): Promise<RoutingRule[]> {
    let q = this.db.selectFrom('routing_rules').select('rule')
    if (filter.scope) q = q.where('scope', '=', filter.scope)
    if (filter.scope_id) q = q.where('scope_id', '=', filter.scope_id)
    const rules = (await q.execute()).map((r) => JSON.parse(r.rule) as RoutingRule)
    const needle = filter.search?.toLowerCase()
    return rules
      .filter((r) => !needle || `${r.name}\n${r.description}`.toLowerCase().includes(needle))
      .sort(byScopeAndPriority)
  }

  async get(id: string): Promise<RoutingRule | undefined> {
    const row = await this.db
      .selectFrom('routing_rules')
      .select('rule')
      .where('id', '=', id)
      .executeTakeFirst()
    return row ? (JSON.parse(row.rule) as RoutingRule) : undefined
  }

  /** Whether another rule of the same scope has this name (Bifrost: names are unique within a scope). */
  async nameTaken(rule: RoutingRule): Promise<boolean> {
    let q = this.db
      .selectFrom('routing_rules')
      .select('id')
      .where('name', '=', rule.name)
      .where('scope', '=', rule.scope)
      .where('id', '!=', rule.id)
    q = rule.scope_id === null ? q.where('scope_id', 'is', null) : q.where('scope_id', '=', rule.scope_id)
    return (await q.executeTakeFirst()) !== undefined
  }

  async put(rule: RoutingRule): Promise<void> {
    const row: RoutingRulesTable = {
      id: rule.id,
      name: rule.name,
      scope: rule.scope,
      scope_id: rule.scope_id,
      priority: rule.priority,
      enabled: rule.enabled ? 1 : 0,
      rule: JSON.stringify(rule),
      created_at: rule.created_at,
      updated_at: rule.updated_at,
    }
    const { id: _id, created_at: _c, ...rest } = row
    await this.db
      .insertInto('routing_rules')
      .values(row)
      .onConflict((oc) => oc.column('id').doUpdateSet(rest))
      .execute()
  }

  async delete(id: string): Promise<boolean> {
    const r = await this.db.deleteFrom('routing_rules').where('id', '=', id).executeTakeFirst()
    return Number(r.numDeletedRows) > 0
  }
}

const SCOPE_ORDER: Record<string, number> = { virtual_key: 0, team: 1, customer: 2, global: 3 }

function byScopeAndPriority(a: RoutingRule, b: RoutingRule): number {
  return (
    (SCOPE_ORDER[a.scope] ?? 9) - (SCOPE_ORDER[b.scope] ?? 9) ||
    a.priority - b.priority ||
    a.created_at.localeCompare(b.created_at)
  )
}
