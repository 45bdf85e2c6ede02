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
import type { GovernanceRuntime } from '../governance/runtime.js'
import type { Logger } from '../observability/logger.js'
import type { ConfigStore } from '../store/index.js'
import {
  CallbackPolicy,
  WebhookDeliveries,
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
}

type WebhookConfig = CallbackPolicyConfig & DeliverySettings

/** The replay of a job through the synchronous route, in this process, as the caller sent it. */
function injectReplay(app: FastifyInstance): Replay {
  return async (route, job) => {
    const res = await app.inject({
      method: 'POST',
      url: route,
      headers: job.headers,
      payload: JSON.stringify(job.body),
    })
    return { statusCode: res.statusCode, body: res.body }
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
  const deliveries = new WebhookDeliveries({ db, policy, settings: webhookConfig, logger })
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
    webhookEndpointExists: (name) => deliveries.endpoint(name) !== undefined,
  })
  registerWebhookRoutes(app, { deliveries })
  return {
    start: () => jobs.start(),
    async close(graceMs: number) {
      await jobs.close(graceMs)
      await deliveries.close()
    },
  }
}
