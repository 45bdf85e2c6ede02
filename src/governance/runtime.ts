import type { Cluster } from '../cluster/index.js'
import type { Pricing } from '../core/pricing.js'
import type { GatewayEvents } from '../core/events.js'
import type { TargetLookup } from '../core/router/targets.js'
import type { Logger } from '../observability/logger.js'
import type { ConfigReloads, ConfigStore } from '../store/index.js'
import { GovernanceHook } from './enforce.js'
import { budgetCounter, windowFor } from './limits.js'
import { counterSeeds, preloadEstimatesFor, seedCounters, UsagePersistence } from './persist.js'
import { PricingOverrides, pricingPort } from './pricing/index.js'
import { addUsage, loadSnapshot } from './repo/index.js'
import { rotationCooldownMs } from './key-values.js'
import { ModelLimitsService } from './model-limits.js'
import { governanceDb } from './repo/index.js'
import { GovernanceService, importGovernanceFromFile, type GovernanceChange } from './service.js'
import { GovernanceState } from './state.js'
import { UsageView } from './usage.js'

export const GOVERNANCE_TOPIC = 'governance'

export interface GovernanceRuntimeOptions {
  store: ConfigStore
  cluster: Cluster
  logger: Logger
  lookup: TargetLookup
  enforceAuth: () => boolean
  fileGovernance?: unknown
  /** config.json's `providers`: their `budget_id` / `rate_limit_id` are provider governance. */
  fileProviders?: unknown
  env?: NodeJS.ProcessEnv
  /** How long a hold counts when its request never settles it (see GovernanceHookOptions). */
  reservationTtlMs?: number
  /** Runs after a change made through this node's service, once the state has reloaded. */
  afterChange?: () => Promise<void> | void
  /** Reloads the state on change events, and again until it succeeds; without it, once. */
  reloads?: ConfigReloads
  /** `client.vk_rotation_cooldown` as configured (a duration string or nanoseconds), read at each rotation. */
  vkRotationCooldown?: () => unknown
  /** Operational events (budget exhausted, key rotated) for the webhooks. */
  events?: GatewayEvents
}

export interface GovernanceRuntime {
  state: GovernanceState
  service: GovernanceService
  /** Model configs and provider governance. */
  modelLimits: ModelLimitsService
  hook: GovernanceHook
  usage: UsageView
  pricing: PricingOverrides
  /** Prices with these overrides, for what reports costs outside governance (logs, metrics). */
  prices: Pricing
  close(): Promise<void>
}

/**
 * Governance assembled: the store-backed service the API uses, the in-memory state the hot path
 * reads, the hook that enforces, and the plumbing that keeps every node's state and the stored
 * usage current. A change on one node reaches the others over the cluster bus.
 */
export async function createGovernanceRuntime(opts: GovernanceRuntimeOptions): Promise<GovernanceRuntime> {
  const { store, cluster, logger } = opts
  const state = new GovernanceState(async () => preloadEstimatesFor(await loadSnapshot(store.db)))
  const usage = new UsageView(cluster.counters)
  const persistence = new UsagePersistence((d) => addUsage(store.db, d), logger)
  const pricing = new PricingOverrides()

  // A bad vk_rotation_cooldown in config.json stops the start, not a later rotation.
  const cooldown = () => rotationCooldownMs(opts.vkRotationCooldown?.(), 'client.vk_rotation_cooldown')
  cooldown()
  const service = new GovernanceService({
    db: store.db,
    rotationCooldownMs: cooldown,
    onChange: async (change?: GovernanceChange) => {
      await resetBudgets(change?.resetBudgetIds ?? [])
      if (change?.entity === 'virtual_key' && change.action === 'rotated')
        opts.events?.emit('virtual_key.rotated', { virtual_key_id: change.id })
      await state.reload()
      await cluster.bus.publish(GOVERNANCE_TOPIC, { change: change ?? null }).catch((err: unknown) => {
        logger.warn({ err: (err as Error).message }, 'could not broadcast a governance change')
      })
      try {
        await opts.afterChange?.()
      } catch (err) {
        logger.warn({ err: (err as Error).message }, 'governance after-change work failed')
      }
    },
  })

  /** Zeroes the current window of budgets whose usage an admin reset. */
  async function resetBudgets(ids: string[]): Promise<void> {
    if (ids.length === 0) return
    const snapshot = await loadSnapshot(store.db)
    const now = Date.now()
    const all = snapshot.virtualKeys.flatMap((vk) => [
      ...vk.budgets,
      ...vk.provider_configs.flatMap((pc) => pc.budgets),
    ])
    for (const b of all) {
      if (!ids.includes(b.id)) continue
      const w = windowFor(b.reset_duration, b.calendar_aligned, b.last_reset ?? b.created_at, now)
      await cluster.counters.reset(budgetCounter(b.id), w.start, w.end - w.start, 0)
    }
  }

  await importGovernanceFromFile(
    service,
    opts.fileGovernance as Parameters<typeof importGovernanceFromFile>[1],
    { env: opts.env },
  )
  const modelLimits = new ModelLimitsService(governanceDb(store.db), service)
  await modelLimits.importFromFile(opts.fileGovernance, opts.fileProviders)
  await state.reload()
  if (cluster.kind === 'memory')
    await seedCounters(cluster.counters, await loadSnapshot(store.db), Date.now())
  // Shared counters that lost their data are seeded from the store; then every node adds back
  // what it charged that the store did not have yet when the seed read it.
  cluster.counters.onReset?.(async () => {
    logger.warn('Redis lost the governance counters: seeding them from the config store')
    return counterSeeds(await loadSnapshot(store.db), Date.now())
  })
  cluster.counters.onLost?.(() => void persistence.flush())
  cluster.counters.onReseeded?.((seededAt) => {
    for (const { check, amount } of persistence.unwrittenSince(seededAt)) {
      cluster.counters.add(check.counter, check.windowStart, check.windowMs, amount).catch((err: unknown) => {
        logger.warn({ err: (err as Error).message }, 'could not add back usage the seeded counters missed')
      })
    }
  })

  // Another node changed something: reload. After a lost connection, reload whatever was missed.
  opts.reloads?.add(GOVERNANCE_TOPIC, () => state.reload())
  const reloadState = () => {
    if (opts.reloads) opts.reloads.reload(GOVERNANCE_TOPIC)
    else
      state
        .reload()
        .catch((err: unknown) => logger.error({ err: (err as Error).message }, 'governance reload failed'))
  }
  const unsubscribe = cluster.bus.subscribe(GOVERNANCE_TOPIC, reloadState)
  const offReconnect = cluster.bus.onReconnect(reloadState)
  persistence.start()

  const hook = new GovernanceHook({
    state,
    counters: cluster.counters,
    enforceAuth: opts.enforceAuth,
    lookup: opts.lookup,
    pricing,
    reservationTtlMs: opts.reservationTtlMs,
    onCharged: (planned, actual) => persistence.charged(planned, actual),
    events: opts.events,
  })

  return {
    state,
    service,
    modelLimits,
    hook,
    usage,
    pricing,
    prices: pricingPort(pricing),
    async close() {
      unsubscribe()
      offReconnect()
      await hook.drain()
      await persistence.stop()
    },
  }
}
