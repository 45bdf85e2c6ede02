import type { FastifyInstance, RouteOptions } from 'fastify'
import { registerAnthropicIntegration } from './anthropic.js'
import { registerCohereIntegration } from './cohere.js'
import { registerGenAIIntegration } from './genai.js'
import type { IntegrationDeps } from './index.js'
import { registerOpenAIRoutesUnder } from './openai.js'

type Register = (app: FastifyInstance, deps: IntegrationDeps) => void

/**
 * The frameworks Bifrost serves, and the SDK formats each accepts under its prefix (Bifrost's
 * litellm.go, langchain.go, pydanticai.go): OpenAI's API, Anthropic's and Google GenAI's, and for
 * Pydantic AI Cohere's too.
 */
const FRAMEWORKS: Record<string, { integration: string; register: Register }[]> = {
  '/litellm': [
    { integration: '/anthropic', register: registerAnthropicIntegration },
    { integration: '/genai', register: registerGenAIIntegration },
  ],
  '/langchain': [
    { integration: '/anthropic', register: registerAnthropicIntegration },
    { integration: '/genai', register: registerGenAIIntegration },
  ],
  '/pydanticai': [
    { integration: '/anthropic', register: registerAnthropicIntegration },
    { integration: '/genai', register: registerGenAIIntegration },
    { integration: '/cohere', register: registerCohereIntegration },
  ],
}

/**
 * `/litellm/...`, `/langchain/...`, `/pydanticai/...`: the same handlers as the drop-in routes,
 * at Bifrost's paths, which put the framework's prefix where the integration's own prefix was
 * (`/anthropic/v1/messages` is `/litellm/v1/messages`, `/genai/v1beta/models/...` is
 * `/litellm/v1beta/models/...`). A path that would collide with one already taken (an OpenAI
 * route such as `/v1/models`) keeps the integration's prefix (`/litellm/anthropic/v1/models`).
 */
export function registerFrameworkIntegrations(app: FastifyInstance, deps: IntegrationDeps): void {
  for (const [prefix, integrations] of Object.entries(FRAMEWORKS)) {
    app.register(
      async (scope) => {
        // Scopes load one after the other, so the OpenAI routes are all known before the others.
        const taken = new Set<string>()
        const record = (route: RouteOptions) => {
          for (const m of methodsOf(route)) taken.add(`${m} ${route.url}`)
        }
        scope.register(async (openai) => {
          openai.addHook('onRoute', record)
          registerOpenAIRoutesUnder(openai, deps, '', ['/openai'])
        })
        for (const { integration, register } of integrations) {
          scope.register(async (inner) => {
            inner.addHook('onRoute', (route: RouteOptions) => {
              const own = `${prefix}${integration}/`
              if (route.url.startsWith(own)) {
                const shortened = prefix + route.url.slice(own.length - 1)
                if (!methodsOf(route).some((m) => taken.has(`${m} ${shortened}`))) {
                  route.url = shortened
                }
              }
              record(route)
            })
            register(inner, deps)
          })
        }
      },
      { prefix },
    )
  }
}

function methodsOf(route: RouteOptions): string[] {
  return Array.isArray(route.method) ? route.method : [route.method]
}
