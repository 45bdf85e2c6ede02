import type { FastifyInstance } from 'fastify'
import type { Kysely } from 'kysely'
import {
  AsyncJobs,
  AsyncJobStore,
  BullJobQueue,
  InProcessJobQueue,
  type JobQueue,
  type Replay,
} from '../async/index.js'
import { resolveSecret } from '../core/config.js'
import type { GatewayEvents } from '../core/events.js'
import type { HealthTracker } from '../core/router/health.js'
import type { GovernanceRuntime } from '../governance/index.js'
import type { Logger } from '../observability/logger.js'
import type { ConfigStore } from '../store/index.js'
import {
  CallbackPolicy,
  WebhookDeliveries,
  WebhookEndpointRegistry,
  type CallbackPolicyConfig,
  type DeliverySettings,
} from '../webhooks/index.js'
import { registerAsyncRoutes } from './routes/async.js'
import { registerWebhookRoutes } from './routes/webhooks.js'

/** Heimdall's `async_jobs` section of config.json: how this node runs jobs. */
export interface AsyncJobsSettings {
  /** Jobs this node runs at once; default 8. */
  concurrency?: number
  /** BullMQ queue name (several nodes of one deployment share it); default `heimdall-async`. */
  queue_name?: string
  /** BullMQ key prefix; default the cluster prefix, else `heimdall`. */
  queue_prefix?: string
  /** How long a dead node's job stays locked before another node takes it; default 30 s. */
  lock_duration_ms?: number
}

export interface AsyncSetupDeps {
  app: FastifyInstance
  store: ConfigStore
  governance: GovernanceRuntime
  client: Record<string, unknown>
  settings?: AsyncJobsSettings
  /** The cluster's Redis: jobs go through BullMQ there; without it, in process. */
  redisUrl?: string
  clusterPrefix?: string
  enforceAuth: () => boolean
  logger: Logger
  env: NodeJS.ProcessEnv
  /** Operational events (budget exhausted, key rotated) delivered to the endpoints subscribed to them. */
  events?: GatewayEvents
  /** The router's health: a circuit that opens on this node is the `provider.circuit_opened` event. */
  health?: HealthTracker
}

type WebhookConfig = CallbackPolicyConfig & DeliverySettings

/** The replay of a job through the synchronous route, in this process, as the caller sent it. */
function injectReplay(app: FastifyInstance): Replay {
  return async (route, job) => {
    const res = await app.inject({
      method: 'POST',
      url: route,
      headers: job.headers,
      payload: job.raw === undefined ? JSON.stringify(job.body) : Buffer.from(job.raw, 'base64'),
    })
    const cost = Number(res.headers['x-bifrost-cost-usd'])
    // An answer in bytes (speech) is kept as Bifrost's speech response: {"audio": "<base64>"}.
    const bytes = res.statusCode < 400 && !String(res.headers['content-type'] ?? '').includes('json')
    const body = bytes ? JSON.stringify({ audio: res.rawPayload.toString('base64') }) : res.body
    return { statusCode: res.statusCode, body, ...(Number.isFinite(cost) && { costUsd: cost }) }
  }
}

/**
 * Async inference (/v1/async/...) and webhooks, assembled: the job store, the queue (BullMQ on the
 * cluster's Redis, else in process), the delivery log, and their routes. Answers its closer.
 */
export async function setupAsyncInference(
  deps: AsyncSetupDeps,
): Promise<{ start(): Promise<void>; close(graceMs: number): Promise<void> }> {
  const { app, store, governance, client, logger, env } = deps
  const settings = deps.settings ?? {}
  const webhookConfig = (): WebhookConfig => {
    const c = (client.webhook_config ?? {}) as WebhookConfig
    return { ...c, secret: c.secret ? resolveSecret(c.secret, env) : undefined }
  }
  const db = store.db as unknown as Kysely<unknown>
  const policy = new CallbackPolicy(webhookConfig)
  const endpoints = new WebhookEndpointRegistry({
    db,
    secrets: store.secrets,
    policy,
    configuredNames: () => (webhookConfig().endpoints ?? []).map((e) => e.name ?? e.id),
  })
  const deliveries = new WebhookDeliveries({ db, policy, settings: webhookConfig, endpoints, logger })
  const dispatchFailed = (event: string) => (err: unknown) =>
    logger.warn({ err: (err as Error).message, event }, 'could not record a webhook event')
  const offEvents = deps.events?.on((event, data) => {
    // The same exhaustion seen by several nodes is one delivery per endpoint.
    const spent = event === 'budget.exhausted' ? (data as { budget_id: string; reset_at: string }) : undefined
    const dedupeKey = spent && `${event}|${spent.budget_id}|${spent.reset_at}`
    deliveries.dispatch(event, data, { dedupeKey }).catch(dispatchFailed(event))
  })
  const offHealth = deps.health?.onTransition((t) => {
    if (t.state !== 'open') return
    const data = {
      provider: t.provider,
      key_id: t.keyId,
      key_name: t.keyName,
      model: t.model,
      reason: t.reason,
      ...(t.openUntil ? { open_until: new Date(t.openUntil).toISOString() } : {}),
    }
    deliveries.dispatch('provider.circuit_opened', data, {}).catch(dispatchFailed('provider.circuit_opened'))
  })
  const jobStore = new AsyncJobStore(db)
  const onError = (err: Error, jobId: string) =>
    logger.warn({ err: err.message, async_job_id: jobId }, 'async job could not run')
  const concurrency = settings.concurrency ?? 8
  const queue: JobQueue = deps.redisUrl
    ? new BullJobQueue({
        redisUrl: deps.redisUrl,
        prefix: settings.queue_prefix ?? deps.clusterPrefix ?? 'heimdall',
        name: settings.queue_name ?? 'heimdall-async',
        concurrency,
        lockDurationMs: settings.lock_duration_ms ?? 30_000,
        onError,
      })
    : new InProcessJobQueue(concurrency, () => jobStore.unfinished(1000), onError)
  const jobs = new AsyncJobs({
    store: jobStore,
    queue,
    replay: injectReplay(app),
    secrets: store.secrets,
    logger,
    onFinished: async (job, row) => {
      const event = job.status === 'completed' ? 'async_job.completed' : 'async_job.failed'
      await deliveries.dispatch(event, job, {
        url: row.callback_url ?? undefined,
        endpoint: row.webhook_endpoint ?? undefined,
        asyncJobId: job.id,
      })
    },
  })
  registerAsyncRoutes(app, {
    jobs,
    state: governance.state,
    usage: governance.usage,
    enforceAuth: deps.enforceAuth,
    defaultTtlSeconds: () => Number(client.async_job_result_ttl ?? 3600),
    callbacks: policy,
    webhookEndpointExists: (name) => deliveries.endpointExists(name),
  })
  registerWebhookRoutes(app, { deliveries, endpoints })
  return {
    async start() {
      deliveries.start()
      await jobs.start()
    },
    async close(graceMs: number) {
      offEvents?.()
      offHealth?.()
      await jobs.close(graceMs)
      await deliveries.close()
    },
  }
}
