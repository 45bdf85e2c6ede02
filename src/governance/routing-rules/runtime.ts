import type { Kysely } from 'kysely'
import type { Cluster } from '../../cluster/index.js'
import type { Target } from '../../core/context.js'
import type { TargetLookup } from '../../core/router/targets.js'
import type { ProviderKey } from '../../core/schemas/index.js'
import { GatewayError } from '../../core/errors.js'
import type { Logger } from '../../observability/logger.js'
import type { ConfigReloads, ConfigStore } from '../../store/index.js'
import type { VirtualKeyRecord } from '../model.js'
import type { GovernanceState } from '../state.js'
import { readCapacity } from './capacity.js'
import { DEFAULT_CHAIN_MAX_DEPTH, RoutingEngine } from './engine.js'
import { RoutingPlugin } from './plugin.js'
import { RoutingRuleRepo, type RuleListFilter } from './repo.js'
import { ruleFromCreate, ruleFromUpdate, type RoutingRule } from './rule.js'
import { SessionPins } from './sessions.js'
import { testRules, type RuleTestResult } from './tester.js'

export const ROUTING_RULES_TOPIC = 'routing.rules'

export interface RoutingRuntimeOptions {
  store: ConfigStore
  cluster: Cluster
  logger: Logger
  state: GovernanceState
  lookup: TargetLookup
  routeByWeight: (vk: VirtualKeyRecord, req: Record<string, unknown>) => Target[] | undefined
  providerKeys: (provider: string) => readonly ProviderKey[] | undefined
  /** `client.routing_chain_max_depth`, read at each evaluation. */
  chainMaxDepth: () => number | undefined
  /** config.json's `governance.routing_rules`. */
  fileRules?: unknown
  reloads?: ConfigReloads
}

/** Routing rules assembled: the store, the compiled rules every node holds, the plugin and the API's service. */
export class RoutingRuntime {
  readonly engine: RoutingEngine
  readonly plugin: RoutingPlugin
  readonly sessions: SessionPins
  private readonly repo: RoutingRuleRepo
  private readonly offs: (() => void)[] = []
  private byId = new Map<string, RoutingRule>()

  private constructor(private readonly opts: RoutingRuntimeOptions) {
    this.repo = new RoutingRuleRepo(opts.store.db as unknown as Kysely<unknown>)
    this.engine = new RoutingEngine(() => opts.chainMaxDepth() ?? DEFAULT_CHAIN_MAX_DEPTH)
    this.sessions = new SessionPins(opts.cluster.bus)
    this.plugin = new RoutingPlugin({
      engine: this.engine,
      state: opts.state,
      lookup: opts.lookup,
      routeByWeight: opts.routeByWeight,
      providerKeys: opts.providerKeys,
      capacity: (vk, provider) => readCapacity(opts.cluster.counters, opts.state, vk, provider),
      sessions: this.sessions,
    })
  }

  static async create(opts: RoutingRuntimeOptions): Promise<RoutingRuntime> {
    const rt = new RoutingRuntime(opts)
    await rt.importFileRules(opts.fileRules)
    await rt.reload()
    const reload = () => {
      if (opts.reloads) opts.reloads.reload('routing rules')
      else
        void rt
          .reload()
          .catch((err: unknown) =>
            opts.logger.error({ err: (err as Error).message }, 'routing rules reload failed'),
          )
    }
    opts.reloads?.add('routing rules', () => rt.reload())
    rt.offs.push(
      opts.cluster.bus.subscribe(ROUTING_RULES_TOPIC, reload),
      opts.cluster.bus.onReconnect(reload),
    )
    return rt
  }

  async reload(): Promise<void> {
    const rules = await this.repo.all()
    this.byId = new Map(rules.map((r) => [r.id, r]))
    this.engine.load(rules, (rule, err) =>
      this.opts.logger.warn(
        { rule: rule.id, err: err.message },
        'routing rule skipped: its expression does not compile',
      ),
    )
  }

  list(filter: RuleListFilter): Promise<RoutingRule[]> {
    return this.repo.list(filter)
  }

  async get(id: string): Promise<RoutingRule> {
    const rule = await this.repo.get(id)
    if (!rule) throw new GatewayError('not_found', `routing rule ${id} not found`, { retryable: false })
    return rule
  }

  async create(body: unknown): Promise<RoutingRule> {
    const rule = ruleFromCreate(body)
    if (await this.repo.get(rule.id)) {
      throw new GatewayError('conflict', `a routing rule with id ${rule.id} exists`, {
        param: 'id',
        retryable: false,
      })
    }
    return this.save(rule)
  }

  async update(id: string, body: unknown): Promise<RoutingRule> {
    return this.save(ruleFromUpdate(await this.get(id), body))
  }

  async delete(id: string): Promise<void> {
    if (!(await this.repo.delete(id))) {
      throw new GatewayError('not_found', `routing rule ${id} not found`, { retryable: false })
    }
    await this.changed()
  }

  /** Heimdall's rule tester: which rule a sample request matches and where it goes (tester.ts). */
  test(body: unknown): Promise<RuleTestResult> {
    return testRules(this.plugin, this.opts.state, (id) => this.byId.get(id), body)
  }

  close(): void {
    for (const off of this.offs) off()
    this.sessions.close()
  }

  private async save(rule: RoutingRule): Promise<RoutingRule> {
    if (await this.repo.nameTaken(rule)) {
      throw new GatewayError('conflict', `a routing rule named "${rule.name}" exists in this scope`, {
        param: 'name',
        retryable: false,
      })
    }
    await this.repo.put(rule)
    await this.changed()
    return rule
  }

  /** Reloads here, then tells the other nodes. */
  private async changed(): Promise<void> {
    await this.reload()
    await this.opts.cluster.bus.publish(ROUTING_RULES_TOPIC, {}).catch((err: unknown) => {
      this.opts.logger.warn({ err: (err as Error).message }, 'could not broadcast a routing rule change')
    })
  }

  /** config.json's rules: each one the store does not hold yet (by id, else by scope and name) is added. */
  private async importFileRules(input: unknown): Promise<void> {
    if (input === undefined || input === null) return
    if (!Array.isArray(input)) throw new Error('governance.routing_rules must be an array')
    const existing = await this.repo.all()
    for (const [i, entry] of input.entries()) {
      let rule: RoutingRule
      try {
        rule = ruleFromCreate(entry)
      } catch (err) {
        throw new Error(`governance.routing_rules[${i}]: ${(err as Error).message}`)
      }
      const hasId = typeof (entry as { id?: unknown }).id === 'string'
      const known = existing.some((r) =>
        hasId
          ? r.id === rule.id
          : r.scope === rule.scope && r.scope_id === rule.scope_id && r.name === rule.name,
      )
      if (!known) await this.repo.put(rule)
    }
  }
}
