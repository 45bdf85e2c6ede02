import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { GatewayError } from '../../../core/errors.js'
import type { ModelEntry } from '../../../core/schemas/index.js'
import { beginRequest, overheadMs } from '../inference.js'
import type { IntegrationDeps } from './index.js'

/** Gemini's default and largest page of models. */
const MODELS_PAGE = { default: 50, max: 1000 }

/**
 * `GET /v1beta/models`: the configured providers' models (as `/v1/models` lists them) in Google's
 * list format, `models/{name}` without the provider, as Bifrost has it; paged by `pageSize` and an
 * opaque `pageToken`.
 */
async function listModels(
  deps: IntegrationDeps,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<unknown> {
  const query = request.query as Record<string, unknown>
  const size = query.pageSize === undefined ? MODELS_PAGE.default : Number(query.pageSize)
  if (!Number.isInteger(size) || size < 1)
    throw new GatewayError('invalid_request', 'pageSize must be a positive integer', { param: 'pageSize' })
  let start = 0
  if (typeof query.pageToken === 'string' && query.pageToken) {
    start = Number(Buffer.from(query.pageToken, 'base64url').toString('utf8'))
    if (!Number.isSafeInteger(start) || start < 0)
      throw new GatewayError('invalid_request', 'pageToken is not one this gateway gave', {
        param: 'pageToken',
      })
  }
  const ctx = beginRequest(request, reply, 'list_models', '', deps.allowDirectKeys())
  const all = await deps.gateway.listModels(ctx)
  const end = start + Math.min(size, MODELS_PAGE.max)
  const models = all.slice(start, end).map(toGeminiModel)
  const body = {
    models,
    ...(end < all.length && { nextPageToken: Buffer.from(String(end)).toString('base64url') }),
  }
  return reply
    .header('x-heimdall-overhead-ms', overheadMs(ctx))
    .type('application/json; charset=utf-8')
    .send(JSON.stringify(body))
}

function toGeminiModel(m: ModelEntry): Record<string, unknown> {
  const slash = m.id.indexOf('/')
  const out: Record<string, unknown> = { name: `models/${slash >= 0 ? m.id.slice(slash + 1) : m.id}` }
  const text = (v: unknown) => (typeof v === 'string' && v ? v : undefined)
  const count = (v: unknown) => (typeof v === 'number' && v > 0 ? v : undefined)
  const displayName = text(m.name)
  const description = text(m.description)
  const input = count(m.max_input_tokens) ?? count(m.context_length)
  const output = count(m.max_output_tokens)
  if (displayName) out.displayName = displayName
  if (description) out.description = description
  if (input) out.inputTokenLimit = input
  if (output) out.outputTokenLimit = output
  if (Array.isArray(m.supported_methods)) out.supportedGenerationMethods = m.supported_methods
  return out
}

/**
 * `GET /v1beta/models/{model}`: one model's metadata (the SDK's `models.get`), found among the
 * listed models of the provider `x-model-provider` names (Gemini by default); a model not listed
 * answers with its name alone, as Bifrost does, so that an SDK's metadata lookup does not fail.
 */
async function getModel(
  deps: IntegrationDeps,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<unknown> {
  const model = ((request.params as { '*': string })['*'] ?? '').replace(/^models\//, '')
  if (!model || /[%\\\u0000-\u001f\u007f]/.test(model))
    throw new GatewayError(
      'invalid_request',
      'the model name in the path is empty or holds %, \\ or control characters',
      {
        param: 'model',
      },
    )
  const header = request.headers['x-model-provider']
  const provider = (Array.isArray(header) ? header[0] : header) || 'gemini'
  if (!deps.gateway.lookup.isProviderName(provider))
    throw new GatewayError('unknown_provider', `unknown provider "${provider}"`, { param: 'provider' })
  const ctx = beginRequest(request, reply, 'list_models', `${provider}/${model}`, deps.allowDirectKeys())
  const listed = await deps.gateway.listModels(ctx, provider)
  const found = listed.find((m) => m.id === `${provider}/${model}`)
  return reply
    .header('x-heimdall-overhead-ms', overheadMs(ctx))
    .type('application/json; charset=utf-8')
    .send(JSON.stringify(found ? toGeminiModel(found) : { name: `models/${model}` }))
}

/** The models routes of the GenAI drop-in under `prefix` (`/genai`). */
export function registerGenAIModelRoutes(
  scope: FastifyInstance,
  deps: IntegrationDeps,
  prefix: string,
): void {
  scope.get(`${prefix}/v1beta/models`, (request, reply) => listModels(deps, request, reply))
  // A wildcard: a tuned model's name or a provider-qualified one may hold '/'.
  scope.get(`${prefix}/v1beta/models/*`, (request, reply) => getModel(deps, request, reply))
}
