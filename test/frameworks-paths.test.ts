import Fastify from 'fastify'
import { describe, expect, it, vi } from 'vitest'
import type { Gateway } from '../src/core/gateway.js'
import { registerFrameworkIntegrations } from '../src/http/routes/integrations/frameworks.js'

// Stand-ins for the other drop-in integrations, registering absolute paths as theirs do.
vi.mock('../src/http/routes/integrations/anthropic.js', () => ({
  registerAnthropicIntegration: (app: import('fastify').FastifyInstance) => {
    app.post('/anthropic/v1/messages', async () => ({ served: 'anthropic messages' }))
    app.get('/anthropic/v1/models', async () => ({ served: 'anthropic models' }))
  },
}))
vi.mock('../src/http/routes/integrations/genai.js', () => ({
  registerGenAIIntegration: (app: import('fastify').FastifyInstance) => {
    app.register(async (nested) => {
      nested.post('/genai/v1beta/models/*', async (req) => ({ served: (req.params as { '*': string })['*'] }))
    })
  },
}))
vi.mock('../src/http/routes/integrations/cohere.js', () => ({
  registerCohereIntegration: (app: import('fastify').FastifyInstance) => {
    app.post('/cohere/v2/chat', async () => ({ served: 'cohere chat' }))
  },
}))

/** Where each framework puts the other integrations' routes: Bifrost's paths, the framework prefix first. */
describe('framework route paths', () => {
  it('puts each integration at {framework}{native path}, and keeps its prefix where an OpenAI route holds the path', async () => {
    const app = Fastify()
    registerFrameworkIntegrations(app, { gateway: {} as Gateway, allowDirectKeys: () => false })
    await app.ready()
    const call = async (method: 'GET' | 'POST', url: string) => {
      const res = await app.inject({ method, url, payload: method === 'POST' ? {} : undefined })
      return res.statusCode === 200 ? (res.json() as { served: string }).served : res.statusCode
    }
    for (const prefix of ['/litellm', '/langchain', '/pydanticai']) {
      expect(await call('POST', `${prefix}/v1/messages`)).toBe('anthropic messages')
      expect(await call('POST', `${prefix}/v1beta/models/gemini-2.0-flash:generateContent`)).toBe(
        'gemini-2.0-flash:generateContent',
      )
      // GET /v1/models is OpenAI's under the framework prefix; Anthropic's keeps its own prefix.
      expect(await call('GET', `${prefix}/anthropic/v1/models`)).toBe('anthropic models')
      expect(app.hasRoute({ method: 'GET', url: `${prefix}/v1/models` })).toBe(true)
      expect(app.hasRoute({ method: 'POST', url: `${prefix}/openai/deployments/*` })).toBe(true)
      expect(app.hasRoute({ method: 'POST', url: `${prefix}/anthropic/v1/messages` })).toBe(false)
    }
    // Cohere's API only on Pydantic AI's routes, as in Bifrost.
    expect(await call('POST', '/pydanticai/v2/chat')).toBe('cohere chat')
    expect(app.hasRoute({ method: 'POST', url: '/litellm/v2/chat' })).toBe(false)
    await app.close()
  })
})
