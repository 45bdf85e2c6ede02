/**
 * Micro-benchmark of provider health on the hot path (src/core/router/health.ts): ns per request
 * for one key pick plus recording its result, on a provider of 4 keys, without health tracking
 * (the pick alone), with tracking (breaker off, the default), with the circuit breaker on and one
 * key open, and with adaptive load balancing on; then both again with the windows of two other nodes
 * merged (what a node of a cluster decides by), and the cost of publishing this node's windows.
 * `npx tsx bench/health.ts`.
 */
import type { GatewayContext } from '../src/core/context.js'
import { GatewayError } from '../src/core/errors.js'
import { HealthTracker } from '../src/core/router/health.js'
import { pickKey } from '../src/core/router/pick-key.js'
import type { ProviderConfig } from '../src/core/schemas/index.js'
import { keysWithIds, openaiProviderOf } from '../test/helpers/provider-keys.js'

const keys = keysWithIds(['k1', 'k2', 'k3', 'k4'])

const provider = (extra: Partial<ProviderConfig>) => openaiProviderOf(keys, extra)

const ctx = { facts: {} } as GatewayContext
const dead = new Set<string>()
const model = 'gpt-4o-mini'
const failure = new GatewayError('upstream_error', 'injected 500', { status: 500 })

function time(name: string, cfg: ProviderConfig, health: HealthTracker | undefined): void {
  const run = (n: number) => {
    for (let i = 0; i < n; i++) {
      const key = pickKey(ctx, cfg, model, dead, undefined, false, health)!
      // One request in 50 fails: the failure path is measured too.
      if (health) {
        if (i % 50 === 0) health.failure(cfg, key, model, failure)
        else health.success(cfg, key, model, 200 + (i % 7))
      }
    }
  }
  run(200_000)
  const n = 2_000_000
  const t0 = process.hrtime.bigint()
  run(n)
  const ns = Number(process.hrtime.bigint() - t0) / n
  console.log(`${name.padEnd(52)} ${ns.toFixed(0).padStart(6)} ns/request`)
}

time('pick only, no health tracking', provider({}), undefined)
time('pick + record (breaker off: the default)', provider({}), new HealthTracker())

const breaker = provider({
  circuit_breaker: { enabled: true, failure_threshold: 1_000_000, open_seconds: 3600 },
})
const withOpen = new HealthTracker()
// k4 opened by its own failures; the others stay closed (their threshold is never reached).
for (let i = 0; i < 1_000_000; i++) withOpen.failure(breaker, keys[3], model, failure)
time('pick + record (breaker on, 1 of 4 keys open)', breaker, withOpen)

time(
  'pick + record (adaptive load balancing, recomputed each 5 s)',
  provider({ adaptive_load_balancing: { enabled: true } }),
  new HealthTracker(),
)

/** Two other nodes' windows of every key, merged as the change bus delivers them. */
function withOtherNodes(cfg: ProviderConfig): HealthTracker {
  const health = new HealthTracker()
  for (const node of ['node-b', 'node-c'])
    for (const k of keys)
      health.mergeWindow(
        node,
        {
          provider: cfg.name,
          keyId: k.id,
          keyName: k.name,
          model,
          req: 500,
          err: 10,
          rl: 0,
          to: 0,
          lat: 100_000,
          consecutive: 0,
          ewmaMs: 200,
        },
        cfg,
      )
  return health
}

const breakerOn = provider({
  circuit_breaker: { enabled: true, failure_threshold: 1_000_000, error_rate_threshold: 0.99 },
})
time('pick + record (breaker on, 2 other nodes merged)', breakerOn, withOtherNodes(breakerOn))
const adaptiveOn = provider({ adaptive_load_balancing: { enabled: true } })
time('pick + record (adaptive, 2 other nodes merged)', adaptiveOn, withOtherNodes(adaptiveOn))

// Publishing: every 300 ms, each target that changed (here: all 4, each time).
const publisher = new HealthTracker()
let flip = 0
const t0 = process.hrtime.bigint()
const rounds = 20_000
for (let i = 0; i < rounds; i++) {
  for (const k of keys) publisher.success(breakerOn, k, model, 200 + (flip++ % 3))
  publisher.windows()
}
const perRound = Number(process.hrtime.bigint() - t0) / rounds
console.log(
  `${'windows() of 4 changed targets (each 300 ms)'.padEnd(52)} ${perRound.toFixed(0).padStart(6)} ns/round`,
)
