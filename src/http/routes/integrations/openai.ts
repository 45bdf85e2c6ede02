import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { GatewayError } from '../../../core/errors.js'
import { registerInferenceRoutes, type InferenceHandler } from '../inference.js'
import { acceptMultipart, MODEL_OVERRIDE, registerModalityRoutes } from '../modalities.js'
import type { IntegrationDeps } from './index.js'

/** What may follow a deployment id in an Azure OpenAI path, as Bifrost recognises it. */
const AZURE_OPERATIONS = new Set(['chat', 'completions', 'embeddings', 'images', 'audio', 'responses'])

/**
 * Splits an Azure path after `/deployments/` into the model it names and the operation:
 * `gpt-4o/chat/completions` is `azure/gpt-4o`; `openai/gpt-4o/chat/completions` (a provider in
 * front of the deployment, as Bifrost allows) is `openai/gpt-4o`.
 */
export function parseDeploymentPath(rest: string): { model: string; operation: string } {
  const parts = rest.split('?')[0].split('/').filter(Boolean)
  const at = parts.findIndex((p) => AZURE_OPERATIONS.has(p))
  if (at <= 0) {
    throw new GatewayError(
      'route_not_found',
      `no Azure OpenAI operation in /deployments/${rest}; expected /deployments/{deployment}/chat/completions, /embeddings ...`,
    )
  }
  // The router has already decoded the path.
  const deployment = parts.slice(0, at)
  const model = deployment.length >= 2 ? deployment.join('/') : `azure/${deployment[0]}`
  return { model, operation: parts.slice(at).join('/') }
}

/**
 * Azure OpenAI's deployment paths (`{base}/deployments/{deployment}/chat/completions?api-version=`),
 * served by the OpenAI-format handlers with the deployment as the model. `api-version` is
 * accepted and not needed: the provider that serves the request has its own.
 */
function registerAzureDeploymentRoutes(
  app: FastifyInstance,
  deps: IntegrationDeps,
  bases: string[],
  handlers: Record<string, InferenceHandler>,
): void {
  const handle = async (request: FastifyRequest, reply: FastifyReply) => {
    const { model, operation } = parseDeploymentPath((request.params as { '*': string })['*'])
    const handler = Object.hasOwn(handlers, operation) ? handlers[operation] : undefined
    if (!handler) {
      throw new GatewayError('route_not_found', `no route for POST ${request.url.split('?')[0]}`)
    }
    const body = request.body
    // A multipart body (audio, images) is parsed by its route, which takes the model from here.
    if (Buffer.isBuffer(body)) request[MODEL_OVERRIDE] = model
    else if (body !== null && typeof body === 'object' && !Array.isArray(body)) {
      ;(body as Record<string, unknown>).model = model
    }
    return handler(request, reply)
  }
  // The models list, for the Azure provider when one is configured (Bifrost's default for Azure
  // callers); `?provider=` still names another.
  const models = async (request: FastifyRequest, reply: FastifyReply) => {
    const query = request.query as Record<string, unknown>
    if (query.provider === undefined && deps.gateway.lookup.configuredProviders().includes('azure')) {
      request.query = { ...query, provider: 'azure' }
    }
    return handlers.models(request, reply)
  }
  app.register(async (scope) => {
    acceptMultipart(scope)
    for (const base of bases) {
      scope.get(`${base}/deployments/:deployment/models`, models)
      scope.post(`${base}/deployments/*`, handle)
    }
  })
}

/**
 * The OpenAI API as Bifrost serves it under a path prefix: `{prefix}/v1/...`, `{prefix}/...`, and
 * Azure's deployment paths `{prefix}/openai/deployments/...` (where the AzureOpenAI client sends
 * its requests when given `{gateway}{prefix}` as its endpoint). `/openai` uses it, and so do the
 * framework routes (`/litellm`, `/langchain`, `/pydanticai`).
 */
export function registerOpenAIRoutesUnder(
  app: FastifyInstance,
  deps: IntegrationDeps,
  prefix: string,
  deploymentBases: string[] = [`${prefix}/openai`],
): void {
  let handlers: Record<string, InferenceHandler> = {}
  for (const p of [`${prefix}/v1`, prefix]) {
    const h = registerInferenceRoutes(app, deps, p)
    const m = registerModalityRoutes(app, deps, p)
    handlers = {
      'chat/completions': h.chat,
      completions: h.completions,
      embeddings: h.embeddings,
      responses: h.responses,
      'images/generations': m.images,
      'images/edits': m.imageEdit,
      'images/variations': m.imageVariation,
      'audio/speech': m.speech,
      'audio/transcriptions': m.transcription,
      models: h.models,
    }
  }
  registerAzureDeploymentRoutes(app, deps, deploymentBases, handlers)
}

/**
 * `/openai/...`: the OpenAI API and Azure OpenAI's deployment paths, for OpenAI SDKs, routed to
 * any configured provider and governed like `/v1`. Also registers image generation and audio
 * on `/v1`.
 */
export function registerOpenAIIntegration(app: FastifyInstance, deps: IntegrationDeps): void {
  registerModalityRoutes(app, deps, '/v1')
  // `/openai/openai/deployments` for an AzureOpenAI client whose endpoint is `{gateway}/openai`,
  // `/openai/deployments` for one whose endpoint is the gateway itself.
  registerOpenAIRoutesUnder(app, deps, '/openai', ['/openai/openai', '/openai'])
}
