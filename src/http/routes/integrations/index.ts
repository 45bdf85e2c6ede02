import type { FastifyInstance } from 'fastify'
import type { Gateway } from '../../../core/gateway.js'
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

/**
 * The drop-in routes: each accepts one SDK's own requests and answers in that SDK's own format
 * (errors included), while the request may go to any configured provider.
 */
export function registerIntegrationRoutes(app: FastifyInstance, deps: IntegrationDeps): void {
  registerOpenAIIntegration(app, deps)
  registerAnthropicIntegration(app, deps)
  registerGenAIIntegration(app, deps)
  registerBedrockIntegration(app, deps)
  registerCohereIntegration(app, deps)
  registerFrameworkIntegrations(app, deps)
}
