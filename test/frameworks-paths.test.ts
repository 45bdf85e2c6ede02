import Anthropic from '@anthropic-ai/sdk'
import { ConverseCommand } from '@aws-sdk/client-bedrock-runtime'
import { GoogleGenAI } from '@google/genai'
import { CohereClientV2 } from 'cohere-ai'
import Fastify, { type RouteOptions } from 'fastify'
import OpenAI from 'openai'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { Gateway } from '../src/core/gateway.js'
import type { ProviderObjects } from '../src/store/index.js'
import { FRAMEWORK_PREFIXES } from '../src/http/routes/integrations/frameworks.js'
import { DROP_INS, registerIntegrationRoutes } from '../src/http/routes/integrations/index.js'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { fakeProvider, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'
import { bedrockCaller } from './helpers/bedrock-caller.js'

/**
 * `/litellm`, `/langchain` and `/pydanticai` serve every drop-in integration both ways Bifrost
 * does: at `{framework}/{integration}/...` (its OpenAPI) and at `{framework}/...` (its route code).
 */

/** Every route the drop-ins declare at the root, as registered (no request is made). */
async function declaredRoutes(): Promise<{ app: ReturnType<typeof Fastify>; routes: RouteOptions[] }> {
  const app = Fastify()
  const routes: RouteOptions[] = []
  app.addHook('onRoute', (route) => {
    if (route.method !== 'HEAD') routes.push(route)
  })
  registerIntegrationRoutes(app, {
    gateway: {} as Gateway,
    allowDirectKeys: () => false,
    bodyLimitBytes: 1024,
    ownership: { objects: {} as ProviderObjects, isAdmin: async () => false },
  })
  await app.ready()
  return { app, routes }
}

const methodsOf = (route: RouteOptions) => (Array.isArray(route.method) ? route.method : [route.method])

describe('framework prefixes mount every drop-in route', () => {
  it('serves each integration route at {framework}{route} and at {framework} in place of the integration prefix', async () => {
    const { app, routes } = await declaredRoutes()
    const own = routes.filter((r) => DROP_INS.some((d) => r.url.startsWith(`${d.prefix}/`)))
    // The integrations the issue names, their newer routes included as they land.
    for (const url of [
      '/anthropic/v1/messages',
      '/genai/v1beta/models/*',
      '/bedrock/model/*',
      '/cohere/v2/chat',
    ])
      expect(own.some((r) => r.url === url)).toBe(true)
    const missing: string[] = []
    for (const route of own) {
      const dropIn = DROP_INS.find((d) => route.url.startsWith(`${d.prefix}/`))!
      for (const framework of FRAMEWORK_PREFIXES) {
        for (const method of methodsOf(route)) {
          const full = `${framework}${route.url}`
          const short = `${framework}${route.url.slice(dropIn.prefix.length)}`
          for (const url of [full, short])
            if (!app.hasRoute({ method, url })) missing.push(`${method} ${url}`)
        }
      }
    }
    expect(missing).toEqual([])
    await app.close()
  })
})

describe('framework prefixes with the official SDKs', () => {
  let openai: FakeServer
  let gw: RunningHeimdall
  const MODEL = 'openai/gpt-4o-mini'

  beforeAll(async () => {
    openai = await startFakeOpenAI()
    gw = await startHeimdall({ providers: { openai: fakeProvider(openai.url) } })
  })
  afterAll(async () => {
    await gw?.close()
    await openai?.close()
  })
  beforeEach(() => openai.reset())

  /** The fake provider saw one more chat request. */
  async function reachesProvider(call: () => Promise<string | undefined>, said: string): Promise<void> {
    const before = openai.requests.length
    expect(await call()).toContain(said)
    expect(openai.requests.slice(before).some((r) => r.path.endsWith('/chat/completions'))).toBe(true)
  }

  for (const framework of FRAMEWORK_PREFIXES) {
    for (const [form, at] of [
      ['short', ''],
      ['full', 'integration'],
    ] as const) {
      const base = (integration: string) => `${gw.url}${framework}${at ? `/${integration}` : ''}`

      it(`${framework}, ${form} form: OpenAI chat and responses input tokens`, async () => {
        const c = new OpenAI({ baseURL: `${base('openai')}/v1`, apiKey: 'x', maxRetries: 0 })
        await reachesProvider(
          async () =>
            (await c.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'oa' }] }))
              .choices[0].message.content ?? undefined,
          'Echo: oa',
        )
        const counted = await c.responses.inputTokens.count({ model: MODEL, input: 'count these tokens' })
        expect(counted.object).toBe('response.input_tokens')
        expect(counted.input_tokens).toBeGreaterThan(0)
      })

      it(`${framework}, ${form} form: OpenAI's models list (the path Anthropic's list also has)`, async () => {
        const c = new OpenAI({ baseURL: `${base('openai')}/v1`, apiKey: 'x', maxRetries: 0 })
        const models = await c.models.list()
        expect(models.data.some((m) => m.id.startsWith('openai/'))).toBe(true)
      })

      it(`${framework}, ${form} form: Anthropic messages`, async () => {
        const c = new Anthropic({ baseURL: base('anthropic'), apiKey: 'x', maxRetries: 0 })
        await reachesProvider(async () => {
          const msg = await c.messages.create({
            model: MODEL,
            max_tokens: 20,
            messages: [{ role: 'user', content: 'an' }],
          })
          return msg.content[0].type === 'text' ? msg.content[0].text : undefined
        }, 'Echo: an')
      })

      it(`${framework}, ${form} form: GenAI generateContent`, async () => {
        const ai = new GoogleGenAI({
          apiKey: 'AIza-unused',
          httpOptions: { baseUrl: base('genai'), retryOptions: { attempts: 1 } },
        })
        await reachesProvider(
          async () => (await ai.models.generateContent({ model: MODEL, contents: 'ge' })).text,
          'Echo: ge',
        )
      })

      it(`${framework}, ${form} form: Bedrock Converse`, async () => {
        const client = bedrockCaller(base('bedrock'))
        try {
          await reachesProvider(async () => {
            const out = await client.send(
              new ConverseCommand({
                modelId: MODEL,
                messages: [{ role: 'user', content: [{ text: 'br' }] }],
              }),
            )
            return out.output?.message?.content?.[0]?.text
          }, 'Echo: br')
        } finally {
          client.destroy()
        }
      })

      it(`${framework}, ${form} form: Cohere chat`, async () => {
        const co = new CohereClientV2({ token: 'unused', environment: base('cohere'), maxRetries: 0 })
        await reachesProvider(async () => {
          const res = await co.chat({ model: MODEL, messages: [{ role: 'user', content: 'co' }] })
          const part = res.message.content?.[0]
          return part?.type === 'text' ? part.text : undefined
        }, 'Echo: co')
      })
    }
  }
})
