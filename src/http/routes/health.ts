import type { FastifyInstance, FastifyReply } from 'fastify'
import { GatewayError, toErrorBody } from '../../core/errors.js'

/** One store the node depends on, as a readiness probe sees it. */
export interface StoreProbe {
  /** Named in answers: `config_store`, `redis`, `log_store`. */
  name: string
  /** Required: down means not ready (503). Otherwise down only degrades the answer (still 200). */
  required: boolean
  /** A database (config or log store): not pinged when `client.disable_db_pings_in_health` is set. */
  database?: boolean
  /** Rejects when the store is unreachable; `undefined` when the store is switched off. */
  ping: () => Promise<void> | undefined
}

export interface HealthDeps {
  /** Read per request: a probe may be added after the routes (the log store opens later). */
  storeProbes: () => readonly StoreProbe[]
  /** Longest a probe may take before its store counts as down (default 750 ms). */
  probeTimeoutMs?: number
  /** `client.disable_db_pings_in_health`, read per request: the databases are not pinged. */
  dbPingsDisabled?: () => boolean
}

export const DEFAULT_PROBE_TIMEOUT_MS = 750

type ProbeResult = { name: string; required: boolean; state: 'ok' | 'disabled' } | Failed
type Failed = { name: string; required: boolean; state: 'unavailable'; reason: string }

/**
 * `/health` and `/health/ready`: readiness, Bifrost's answer (200 `{status, components.db_pings}`,
 * else 503 with a BifrostError) with each store named. `/health/live`: 200 while the process serves.
 * With `client.disable_db_pings_in_health`, as in Bifrost, the databases are left alone and
 * `db_pings` reads `disabled`; Redis, which admission needs, is still pinged.
 */
export function registerHealthRoutes(app: FastifyInstance, deps: HealthDeps): void {
  const timeoutMs = deps.probeTimeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS
  const ready = async (_request: unknown, reply: FastifyReply) => {
    const skipDatabases = deps.dbPingsDisabled?.() === true
    const probes = deps.storeProbes().filter((p) => !(skipDatabases && p.database))
    const results = await Promise.all(probes.map((p) => runProbe(p, timeoutMs)))
    const components: Record<string, string> = {}
    for (const r of results) components[r.name] = r.state
    const failed = results.filter((r): r is Failed => r.state === 'unavailable')
    const down = failed.filter((r) => r.required)
    if (down.length > 0) {
      const message = down.map((r) => `${r.name} unavailable: ${r.reason}`).join('; ')
      const body = toErrorBody(new GatewayError('store_unavailable', message))
      const dbPings = skipDatabases ? 'disabled' : 'failed'
      return reply.code(503).send({ ...body, components: { db_pings: dbPings, ...components } })
    }
    if (failed.length > 0) {
      const degraded = Object.fromEntries(failed.map((r) => [r.name, r.reason]))
      const dbPings = skipDatabases ? 'disabled' : 'degraded'
      return reply.send({ status: 'ok', degraded, components: { db_pings: dbPings, ...components } })
    }
    const dbPings = skipDatabases ? 'disabled' : 'ok'
    return reply.send({ status: 'ok', components: { db_pings: dbPings, ...components } })
  }
  app.get('/health', ready)
  app.get('/health/ready', ready)
  // No store is touched: a node whose stores are down is alive, and restarting it would not help.
  app.get('/health/live', async (_request, reply) => reply.send({ status: 'ok' }))
}

async function runProbe(probe: StoreProbe, timeoutMs: number): Promise<ProbeResult> {
  const { name, required } = probe
  let timer: NodeJS.Timeout | undefined
  try {
    const pinging = probe.ping()
    if (pinging === undefined) return { name, required, state: 'disabled' }
    await Promise.race([
      pinging,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs)
      }),
    ])
    return { name, required, state: 'ok' }
  } catch (err) {
    return { name, required, state: 'unavailable', reason: err instanceof Error ? err.message : String(err) }
  } finally {
    clearTimeout(timer)
  }
}
