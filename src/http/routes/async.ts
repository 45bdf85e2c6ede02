import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { admitJob, type JobAdmissionDeps } from '../../async/index.js'
import type { AsyncJobs, AsyncJobStatus, JobRequest } from '../../async/index.js'
import { GatewayError } from '../../core/errors.js'
import { virtualKeyFromHeaders } from '../../core/virtual-keys.js'
import type { CallbackPolicy } from '../../webhooks/index.js'
import { acceptMultipart, readForm } from './modalities.js'
import { limitOf } from './webhooks.js'

/** Bifrost's async routes: the synchronous route each replays, and its request type. */
export const ASYNC_ROUTES: Readonly<Record<string, string>> = {
  completions: 'text_completion',
  'chat/completions': 'chat_completion',
  responses: 'responses',
  embeddings: 'embedding',
  'audio/speech': 'speech',
  'images/generations': 'image_generation',
  rerank: 'rerank',
}

/** The async routes whose body is a multipart upload, kept as its bytes and replayed as sent. */
export const MULTIPART_ASYNC_ROUTES: Readonly<Record<string, string>> = {
  'audio/transcriptions': 'transcription',
  'images/edits': 'image_edit',
  'images/variations': 'image_variation',
}

/** Bifrost's header: how long a finished job's result is kept, in seconds. */
export const RESULT_TTL_HEADER = 'x-bf-async-job-result-ttl'
/** Bifrost's header: the name of a registered webhook endpoint to notify when the job finishes. */
export const WEBHOOK_HEADER = 'x-bf-async-webhook'
/** A year: longer results would outlive any use, and a date past year 275760 cannot be stored. */
const MAX_RESULT_TTL_SECONDS = 366 * 86_400
/** Heimdall's header: a URL to POST the finished job to (signed like every webhook delivery). */
export const CALLBACK_HEADER = 'x-bf-async-webhook-url'

/** Headers never replayed: the connection's own, and the ones only this submission means. */
const DROPPED = new Set([
  'host',
  'content-length',
  'connection',
  'transfer-encoding',
  'keep-alive',
  'expect',
  'upgrade',
  'te',
  'cookie',
  'origin',
  'referer',
  'accept-encoding',
  RESULT_TTL_HEADER,
  CALLBACK_HEADER,
  WEBHOOK_HEADER,
])

export interface AsyncRouteDeps extends JobAdmissionDeps {
  jobs: AsyncJobs
  /** `client.async_job_result_ttl`, seconds. */
  defaultTtlSeconds: () => number
  callbacks: CallbackPolicy
  webhookEndpointExists: (name: string) => Promise<boolean>
}

function replayHeaders(request: FastifyRequest): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(request.headers)) {
    if (DROPPED.has(name) || value === undefined) continue
    out[name] = Array.isArray(value) ? value.join(', ') : value
  }
  out['content-type'] = 'application/json'
  return out
}

function resultTtl(request: FastifyRequest, fallback: number): number {
  const raw = request.headers[RESULT_TTL_HEADER]
  if (typeof raw !== 'string' || raw === '') return fallback
  const n = Number(raw)
  // Bifrost falls back to the default on a value it cannot read.
  if (!Number.isInteger(n) || n < 0) return fallback
  if (n > MAX_RESULT_TTL_SECONDS)
    throw new GatewayError(
      'invalid_request',
      `${RESULT_TTL_HEADER} may be at most ${MAX_RESULT_TTL_SECONDS} seconds`,
      {
        param: RESULT_TTL_HEADER,
      },
    )
  return n
}

/** A JSON body as it is, or a multipart upload as its bytes (the form read only for `model` and `stream`). */
async function jobRequestOf(
  request: FastifyRequest,
  multipart: boolean,
): Promise<{ model: unknown; stream: unknown; job: JobRequest }> {
  const headers = replayHeaders(request)
  if (!multipart) {
    const body = request.body
    if (!body || typeof body !== 'object' || Array.isArray(body))
      throw new GatewayError('invalid_request', 'the request body must be a JSON object')
    const { model, stream } = body as { model?: unknown; stream?: unknown }
    return { model, stream, job: { body, headers } }
  }
  const form = await readForm(request, 'upload')
  headers['content-type'] = request.headers['content-type'] as string
  return {
    model: form.get('model'),
    stream: form.get('stream'),
    job: { body: null, headers, raw: (request.body as Buffer).toString('base64') },
  }
}

/** `POST /v1/async/<route>` answers 202 with the job; `GET /v1/async/<route>/{job_id}` polls it. */
export function registerAsyncRoutes(app: FastifyInstance, deps: AsyncRouteDeps): void {
  const routes = { ...ASYNC_ROUTES, ...MULTIPART_ASYNC_ROUTES }
  for (const path of Object.keys(MULTIPART_ASYNC_ROUTES))
    // Uploads are parsed only on these routes, in their own scope, as on the synchronous ones.
    void app.register(async (scope) => {
      acceptMultipart(scope)
      scope.post(`/v1/async/${path}`, (request, reply) => submit(path, request, reply))
    })
  for (const path of Object.keys(ASYNC_ROUTES))
    app.post(`/v1/async/${path}`, (request, reply) => submit(path, request, reply))

  async function submit(path: string, request: FastifyRequest, reply: FastifyReply) {
    const requestType = routes[path]
    const { model, stream, job } = await jobRequestOf(request, path in MULTIPART_ASYNC_ROUTES)
    if (typeof model !== 'string' || model === '')
      throw new GatewayError('model_required', 'model is required', { param: 'model' })
    // Speech streams as SSE when asked with stream_format; a job keeps one answer.
    const sse = (job.body as { stream_format?: unknown } | null)?.stream_format === 'sse'
    if (stream === true || stream === 'true' || sse)
      throw new GatewayError(
        'invalid_request',
        `stream is not supported for async ${requestType.replace('_', ' ')}s`,
        { param: sse ? 'stream_format' : 'stream' },
      )
    // Who asks first: an unknown key learns nothing about callback rules.
    const vk = await admitJob(deps, request.headers)
    const callback = request.headers[CALLBACK_HEADER]
    const callbackUrl = typeof callback === 'string' && callback !== '' ? callback : undefined
    if (callbackUrl) await deps.callbacks.check(callbackUrl)
    const named = request.headers[WEBHOOK_HEADER]
    const webhookEndpoint = typeof named === 'string' && named.trim() !== '' ? named.trim() : undefined
    if (webhookEndpoint && !(await deps.webhookEndpointExists(webhookEndpoint)))
      throw new GatewayError('invalid_request', `webhook endpoint "${webhookEndpoint}" is not registered`, {
        param: WEBHOOK_HEADER,
      })
    const view = await deps.jobs.submit({
      route: `/v1/${path}`,
      requestType,
      model,
      virtualKeyId: vk?.id,
      request: job,
      ttlSeconds: resultTtl(request, deps.defaultTtlSeconds()),
      callbackUrl,
      webhookEndpoint,
    })
    return reply.code(202).send(view)
  }

  for (const [path, requestType] of Object.entries(routes)) {
    app.get<{ Params: { job_id: string } }>(`/v1/async/${path}/:job_id`, async (request, reply) => {
      const value = virtualKeyFromHeaders(request.headers)
      const vk = value === undefined ? undefined : deps.state.virtualKeyByValue(value)
      if (value !== undefined && !vk) throw new GatewayError('virtual_key_not_found', 'virtual key not found')
      const view = await deps.jobs.find(request.params.job_id, vk?.id, requestType)
      return reply.code(view.status === 'pending' || view.status === 'processing' ? 202 : 200).send(view)
    })
  }
  registerJobList(app, deps)
}

const JOB_STATUSES = new Set(['pending', 'processing', 'completed', 'failed'])

/**
 * Heimdall's `GET /api/async/jobs[?status&limit&offset]`: every key's jobs for the operator (the web
 * UI's jobs page): status, key, model, duration and cost, never the request or the answer.
 */
function registerJobList(app: FastifyInstance, deps: AsyncRouteDeps): void {
  app.get<{ Querystring: { status?: string; limit?: string; offset?: string } }>(
    '/api/async/jobs',
    async (request) => {
      const { status } = request.query
      if (status !== undefined && !JOB_STATUSES.has(status))
        throw new GatewayError('invalid_request', 'status must be pending, processing, completed or failed', {
          param: 'status',
        })
      const limit = limitOf(request.query.limit, 50, 1000, 'limit')
      const offset = limitOf(request.query.offset, 0, 1_000_000_000, 'offset')
      const page = await deps.jobs.list({ status: status as AsyncJobStatus | undefined, limit, offset })
      const jobs = page.jobs.map((j) => ({
        ...j,
        virtual_key_name: j.virtual_key_id ? deps.state.virtualKey(j.virtual_key_id)?.name : undefined,
        duration_ms:
          j.started_at && j.completed_at ? Date.parse(j.completed_at) - Date.parse(j.started_at) : undefined,
      }))
      return { jobs, total: page.total, limit, offset }
    },
  )
}
