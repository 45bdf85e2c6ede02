import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { GatewayContext } from '../../../core/context.js'
import { GatewayError, type RequestType } from '../../../core/errors.js'
import { callBedrockControlPlane, jobPath } from '../../../providers/index.js'
import type { Attempt, JsonResult } from '../../../core/provider-adapter.js'
import { ObjectScope, viewerOf } from '../file-ownership.js'
import { beginRequest, responseHeaders } from '../inference.js'
import type { DropInDeps } from './index.js'

type SendError = (reply: FastifyReply, err: unknown, ctx?: GatewayContext) => FastifyReply

/** ListModelInvocationJobs' query parameters, passed on as given. */
const LIST_PARAMS = [
  'maxResults',
  'nextToken',
  'statusEquals',
  'nameContains',
  'sortBy',
  'sortOrder',
  'submitTimeAfter',
  'submitTimeBefore',
]

/** CreateModelInvocationJob's required members. */
const REQUIRED = ['jobName', 'roleArn', 'modelId', 'inputDataConfig', 'outputDataConfig'] as const

/** AWS's 400 for a request that does not hold together. */
const validation = (message: string) =>
  new GatewayError('invalid_request', message, { type: 'ValidationException', retryable: false })

function providerOf(deps: DropInDeps, request: FastifyRequest): string {
  const v = request.headers['x-model-provider']
  const name = (Array.isArray(v) ? v[0] : v) || 'bedrock'
  if (!deps.gateway.lookup.isProviderName(name)) throw validation(`unknown provider "${name}"`)
  return name
}

function createBody(body: unknown): string {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw validation('The request body must be a JSON object.')
  const b = body as Record<string, unknown>
  for (const k of REQUIRED) {
    if (b[k] === undefined || b[k] === null || b[k] === '')
      throw validation(
        `1 validation error detected: Value at '${k}' failed to satisfy constraint: Member must not be null`,
      )
  }
  return JSON.stringify(b)
}

/**
 * Bedrock batch inference (model invocation jobs) under `/bedrock`, for the Bedrock provider, as
 * AWS serves it on its control plane (`bedrock.{region}.amazonaws.com`, SigV4 service `bedrock`):
 * create (`POST /model-invocation-job`), list (`GET /model-invocation-jobs`), get
 * (`GET /model-invocation-job/{jobIdentifier}`) and stop (`POST .../{jobIdentifier}/stop`). Each is
 * also served at Bifrost's documented plural paths (`POST /model-invocation-jobs`,
 * `/model-invocation-jobs/{jobIdentifier}`...). The answers are AWS's own; errors AWS's shape. A
 * job belongs to the virtual key that created it, as batches do on `/v1` (file-ownership.ts).
 */
export function registerBedrockJobRoutes(
  scope: FastifyInstance,
  deps: DropInDeps,
  prefix: string,
  sendError: SendError,
): void {
  async function run(
    request: FastifyRequest,
    reply: FastifyReply,
    type: RequestType,
    serve: (a: Attempt, owned: ObjectScope) => Promise<JsonResult<unknown>>,
  ): Promise<FastifyReply> {
    const provider = providerOf(deps, request)
    const admin = await deps.ownership.isAdmin(request)
    const ctx = beginRequest(request, reply, type, `${provider}/*`, deps.allowDirectKeys())
    try {
      const result = await deps.gateway.operation(
        ctx,
        { model: `${provider}/*` },
        undefined,
        (adapter, a) => {
          if (adapter.format !== 'bedrock')
            throw validation(`provider ${a.provider.name} does not serve Bedrock's model invocation jobs`)
          return serve(a, new ObjectScope(deps.ownership.objects, provider, viewerOf(ctx, admin)))
        },
      )
      return reply
        .headers(responseHeaders(ctx, result.headers))
        .type('application/json')
        .send(result.raw ?? JSON.stringify(result.body))
    } catch (err) {
      return sendError(reply, err, ctx)
    }
  }

  const create = (request: FastifyRequest, reply: FastifyReply) => {
    const body = createBody(request.body)
    return run(request, reply, 'batch_create', async (a, owned) => {
      const result = await callBedrockControlPlane<{ jobArn?: unknown }>(a, {
        method: 'POST',
        path: '/model-invocation-job',
        body,
      })
      await owned.created('batch', result.body.jobArn)
      return result
    })
  }

  const list = (request: FastifyRequest, reply: FastifyReply) => {
    const q = request.query as Record<string, unknown>
    const query: Record<string, string> = {}
    for (const k of LIST_PARAMS) if (typeof q[k] === 'string' && q[k]) query[k] = q[k]
    if (query.maxResults !== undefined && !/^([1-9]\d{0,2}|1000)$/.test(query.maxResults))
      throw validation(
        "Value at 'maxResults' failed to satisfy constraint: Member must be between 1 and 1000",
      )
    return run(request, reply, 'batch_list', async (a, owned) => {
      const result = await callBedrockControlPlane<{ invocationJobSummaries?: { jobArn?: string }[] }>(a, {
        method: 'GET',
        path: '/model-invocation-jobs',
        query,
      })
      const jobs = result.body.invocationJobSummaries
      if (owned.viewer.admin || !Array.isArray(jobs) || jobs.length === 0) return result
      // The page narrowed to the caller's jobs; AWS's nextToken still leads on.
      const { kept } = await owned.visible(
        'batch',
        jobs.map((j) => ({ id: j?.jobArn })),
      )
      return {
        body: { ...result.body, invocationJobSummaries: jobs.filter((_, i) => kept[i]) },
        headers: result.headers,
      }
    })
  }

  // Wildcards: a job ARN (with its '/' once decoded) may exceed the router's parameter length.
  const rest = (request: FastifyRequest) => (request.params as { '*': string })['*'] ?? ''

  /**
   * The job, once the caller is known to own it: by its ARN before any call, or, named by its bare
   * id, by the ARN AWS answers with (jobs are recorded by ARN).
   */
  async function ownedJob(a: Attempt, owned: ObjectScope, identifier: string): Promise<JsonResult<unknown>> {
    if (identifier.startsWith('arn:')) await owned.assertSees('batch', identifier)
    const job = await callBedrockControlPlane<{ jobArn?: unknown }>(a, {
      method: 'GET',
      path: jobPath(identifier),
    })
    const arn = job.body.jobArn
    if (!identifier.startsWith('arn:'))
      await owned.assertSees('batch', typeof arn === 'string' ? arn : identifier)
    return job
  }

  const get = (request: FastifyRequest, reply: FastifyReply) => {
    const identifier = rest(request)
    return run(request, reply, 'batch_retrieve', (a, owned) => ownedJob(a, owned, identifier))
  }

  const stop = (request: FastifyRequest, reply: FastifyReply) => {
    const tail = rest(request)
    if (!tail.endsWith('/stop'))
      throw new GatewayError('route_not_found', `no route for POST ${request.url.split('?')[0]}`)
    const identifier = tail.slice(0, -'/stop'.length)
    return run(request, reply, 'batch_cancel', async (a, owned) => {
      await ownedJob(a, owned, identifier)
      return callBedrockControlPlane(a, { method: 'POST', path: jobPath(identifier, '/stop') })
    })
  }

  // AWS's own paths, where the AWS SDK sends them, and Bifrost's documented plural ones.
  for (const base of [`${prefix}/model-invocation-job`, `${prefix}/model-invocation-jobs`]) {
    scope.post(base, create)
    scope.get(`${base}/*`, get)
    scope.post(`${base}/*`, stop)
  }
  scope.get(`${prefix}/model-invocation-jobs`, list)
}
