import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { GatewayContext } from '../../../core/context.js'
import { GatewayError, type RequestType } from '../../../core/errors.js'
import { callBedrockControlPlane, jobPath } from '../../../providers/bedrock/jobs.js'
import type { Attempt, JsonResult } from '../../../providers/types.js'
import { beginRequest, responseHeaders } from '../inference.js'
import type { IntegrationDeps } from './index.js'

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

function providerOf(deps: IntegrationDeps, request: FastifyRequest): string {
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
 * `/model-invocation-jobs/{jobIdentifier}`...). The answers are AWS's own; errors AWS's shape.
 */
export function registerBedrockJobRoutes(
  scope: FastifyInstance,
  deps: IntegrationDeps,
  prefix: string,
  sendError: SendError,
): void {
  async function run(
    request: FastifyRequest,
    reply: FastifyReply,
    type: RequestType,
    serve: (a: Attempt) => Promise<JsonResult<unknown>>,
  ): Promise<FastifyReply> {
    const provider = providerOf(deps, request)
    const ctx = beginRequest(request, reply, type, `${provider}/*`, deps.allowDirectKeys())
    try {
      const result = await deps.gateway.operation(
        ctx,
        { model: `${provider}/*` },
        undefined,
        (adapter, a) => {
          if (adapter.format !== 'bedrock')
            throw validation(`provider ${a.provider.name} does not serve Bedrock's model invocation jobs`)
          return serve(a)
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
    return run(request, reply, 'batch_create', (a) =>
      callBedrockControlPlane(a, { method: 'POST', path: '/model-invocation-job', body }),
    )
  }

  const list = (request: FastifyRequest, reply: FastifyReply) => {
    const q = request.query as Record<string, unknown>
    const query: Record<string, string> = {}
    for (const k of LIST_PARAMS) if (typeof q[k] === 'string' && q[k]) query[k] = q[k]
    if (query.maxResults !== undefined && !/^([1-9]\d{0,2}|1000)$/.test(query.maxResults))
      throw validation(
        "Value at 'maxResults' failed to satisfy constraint: Member must be between 1 and 1000",
      )
    return run(request, reply, 'batch_list', (a) =>
      callBedrockControlPlane(a, { method: 'GET', path: '/model-invocation-jobs', query }),
    )
  }

  // Wildcards: a job ARN (with its '/' once decoded) may exceed the router's parameter length.
  const rest = (request: FastifyRequest) => (request.params as { '*': string })['*'] ?? ''

  const get = (request: FastifyRequest, reply: FastifyReply) => {
    const path = jobPath(rest(request))
    return run(request, reply, 'batch_retrieve', (a) => callBedrockControlPlane(a, { method: 'GET', path }))
  }

  const stop = (request: FastifyRequest, reply: FastifyReply) => {
    const tail = rest(request)
    if (!tail.endsWith('/stop'))
      throw new GatewayError('route_not_found', `no route for POST ${request.url.split('?')[0]}`)
    const path = jobPath(tail.slice(0, -'/stop'.length), '/stop')
    return run(request, reply, 'batch_cancel', (a) => callBedrockControlPlane(a, { method: 'POST', path }))
  }

  // AWS's own paths, where the AWS SDK sends them, and Bifrost's documented plural ones.
  for (const base of [`${prefix}/model-invocation-job`, `${prefix}/model-invocation-jobs`]) {
    scope.post(base, create)
    scope.get(`${base}/*`, get)
    scope.post(`${base}/*`, stop)
  }
  scope.get(`${prefix}/model-invocation-jobs`, list)
}
