import type { FastifyInstance } from 'fastify'
import type { Gateway } from '../../../core/gateway.js'
import { registerCountTokensRoutes } from '../count-tokens.js'
import { registerFileRoutes, type FilesDeps } from '../files.js'
import { registerAnthropicIntegration } from './anthropic.js'
import { registerBedrockIntegration } from './bedrock.js'
import { registerCohereIntegration } from './cohere.js'
import { registerFrameworkIntegrations } from './frameworks.js'
import { registerGenAIIntegration } from './genai.js'
import { registerOpenAIIntegration } from './openai.js'

/** What the drop-in routes need: the same gateway and settings as `/v1`, so they are governed alike. */
export interface IntegrationDeps {
  gateway: Gateway
  allowDirectKeys: () => boolean
}

/** With the file and batch routes' settings, which the OpenAI drop-in serves too. */
export type DropInDeps = IntegrationDeps & Pick<FilesDeps, 'bodyLimitBytes' | 'ownership'>

/**
 * One SDK's drop-in API: `register` adds every route of it, each path starting with `prefix`.
 * The framework prefixes mount the same function again (frameworks.ts), so a route added here is
 * served under `/litellm`, `/langchain` and `/pydanticai` too.
 */
export interface DropIn {
  prefix: string
  register: (app: FastifyInstance, deps: DropInDeps) => void
}

/** The OpenAI API with Azure's deployment paths, and OpenAI's files, batches and token counting. */
function registerOpenAIDropIn(app: FastifyInstance, deps: DropInDeps): void {
  registerOpenAIIntegration(app, deps)
  for (const prefix of ['/openai/v1', '/openai']) {
    registerFileRoutes(app, deps, prefix)
    registerCountTokensRoutes(app, deps, prefix)
  }
}

/** OpenAI's first: under a framework prefix, a path two integrations share is OpenAI's. */
export const DROP_INS: readonly DropIn[] = [
  { prefix: '/openai', register: registerOpenAIDropIn },
  { prefix: '/anthropic', register: registerAnthropicIntegration },
  { prefix: '/genai', register: registerGenAIIntegration },
  { prefix: '/bedrock', register: registerBedrockIntegration },
  { prefix: '/cohere', register: registerCohereIntegration },
]

/**
 * The drop-in routes: each accepts one SDK's own requests and answers in that SDK's own format
 * (errors included), while the request may go to any configured provider.
 */
export function registerIntegrationRoutes(app: FastifyInstance, deps: DropInDeps): void {
  for (const dropIn of DROP_INS) dropIn.register(app, deps)
  registerFrameworkIntegrations(app, deps, DROP_INS)
}
