import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { startFakeAnthropic } from './fakes/anthropic.js'
import { startFakeAzure, type FakeAzure } from './fakes/azure.js'
import { startFakeBedrock } from './fakes/bedrock.js'
import { startFakeCohere } from './fakes/cohere.js'
import { startFakeGemini } from './fakes/gemini.js'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer, ReportedAnswer } from './fakes/server.js'
import type { FakeGoogleCloud } from './fakes/vertex.js'
import { fakeBedrockProvider, fakeProvider, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'
import { anthropicRoute } from './helpers/matrix/anthropic.js'
import { bedrockRoute } from './helpers/matrix/bedrock.js'
import { cohereRoute } from './helpers/matrix/cohere.js'
import { genaiRoute } from './helpers/matrix/genai.js'
import { openaiRoute, responsesRoute } from './helpers/matrix/openai.js'
import type { Neutral, Route } from './helpers/matrix/route.js'
import { fakeVertexProvider, startFakeVertexCloud } from './helpers/vertex.js'

/**
 * The any-to-any matrix: one conversation (a question with two tools offered and thinking asked
 * for in the route's own way, answered by a thinking block and two parallel tool calls; then the
 * tool results, answered by text) through every (route, provider) pair, streamed and not, each
 * route driven by its official SDK. Whatever the pair, the client must see what the provider
 * said: the text, the thinking (where the provider has some), the calls, the usage, and the finish
 * reason in the route's own words.
 */

const gateway = () => gw.url
const ROUTES: Route[] = [
  openaiRoute('/v1/chat/completions', '/v1', gateway),
  openaiRoute('/langchain/v1/chat/completions', '/langchain/v1', gateway),
  openaiRoute('/openai/v1/chat/completions', '/openai/v1', gateway),
  responsesRoute('/v1/responses', '/v1', gateway),
  anthropicRoute(gateway),
  genaiRoute(gateway),
  bedrockRoute(gateway),
  cohereRoute(gateway),
]

// ---------------------------------------------------------------- providers

interface Provider {
  name: string
  model: string
  /** Whether the provider sends reasoning text (OpenAI's chat API reports only reasoning tokens). */
  thinks: boolean
  /** Claude: with thinking on, a tool turn sent back must start with its signed thinking. */
  needsSignedThinking?: boolean
  /** The fake that answers, whose reported answers the client must see. */
  fake: () => FakeServer
}

const BEDROCK_CREDS = { accessKeyId: 'AKIAUPSTREAM', secretAccessKey: 'upstream-secret' }

let openai: FakeServer
let groq: FakeServer
let anthropic: FakeServer
let gemini: FakeServer
let azure: FakeAzure
let bedrock: FakeServer
let cloud: FakeGoogleCloud
let cohere: FakeServer
let gw: RunningHeimdall

const PROVIDERS: Provider[] = [
  { name: 'openai', model: 'openai/gpt-5-mini', thinks: false, fake: () => openai },
  { name: 'groq', model: 'groq/llama-3.3-70b-versatile', thinks: false, fake: () => groq },
  {
    name: 'anthropic',
    model: 'anthropic/claude-sonnet-4-5',
    thinks: true,
    needsSignedThinking: true,
    fake: () => anthropic,
  },
  { name: 'gemini', model: 'gemini/gemini-2.5-flash', thinks: true, fake: () => gemini },
  // Gemini 3 refuses a function-calling turn whose first call lost its thought signature.
  { name: 'gemini-3', model: 'gemini/gemini-3-pro-preview', thinks: true, fake: () => gemini },
  { name: 'azure', model: 'azure/gpt-5-mini', thinks: false, fake: () => azure.resource },
  {
    name: 'bedrock',
    model: 'bedrock/anthropic.claude-sonnet-4-5-20250929-v1:0',
    thinks: true,
    needsSignedThinking: true,
    fake: () => bedrock,
  },
  { name: 'vertex-gemini', model: 'vertex/gemini-2.5-flash', thinks: true, fake: () => cloud.vertex },
  {
    name: 'vertex-claude',
    model: 'vertex/claude-sonnet-4-5-20250929',
    thinks: true,
    needsSignedThinking: true,
    fake: () => cloud.vertex,
  },
  { name: 'cohere', model: 'cohere/command-a-reasoning-08-2025', thinks: true, fake: () => cohere },
]

beforeAll(async () => {
  ;[openai, groq, anthropic, gemini, azure, bedrock, cloud, cohere] = await Promise.all([
    startFakeOpenAI(),
    startFakeOpenAI(),
    startFakeAnthropic(),
    startFakeGemini(),
    startFakeAzure({ apiKey: 'azure-secret', deployments: { 'gpt5-prod': 'gpt-5-mini' } }),
    startFakeBedrock([BEDROCK_CREDS]),
    startFakeVertexCloud(),
    startFakeCohere(),
  ])
  const retries = { retry_backoff_initial: 10, retry_backoff_max: 50 }
  gw = await startHeimdall({
    providers: {
      openai: fakeProvider(openai.url),
      groq: fakeProvider(groq.url),
      anthropic: fakeProvider(anthropic.url),
      gemini: fakeProvider(gemini.url),
      azure: {
        keys: [
          {
            name: 'azure',
            value: 'azure-secret',
            models: ['*'],
            weight: 1,
            azure_key_config: {
              endpoint: azure.url,
              deployments: { 'gpt-5-mini': 'gpt5-prod' },
              api_version: '2025-04-01-preview',
            },
          },
        ],
        network_config: retries,
      },
      bedrock: fakeBedrockProvider(bedrock.url, BEDROCK_CREDS),
      vertex: fakeVertexProvider(cloud),
      cohere: fakeProvider(cohere.url, {}, [{ name: 'main', value: 'co-good', models: ['*'], weight: 1 }]),
    },
  } as never)
})

afterAll(async () => {
  await gw?.close()
  await Promise.all([openai, groq, anthropic, gemini, azure, bedrock, cloud, cohere].map((f) => f?.close()))
})

beforeEach(() => {
  for (const f of [openai, groq, anthropic, gemini, azure.resource, bedrock, cloud.vertex, cohere]) f.reset()
})

/** What the client must have seen of one answer the fake reported. */
function expected(answer: ReportedAnswer | undefined, finish: string): Neutral {
  expect(answer, 'the provider was not asked').toBeDefined()
  const a = answer!
  return { text: a.text, thinking: a.thinking, toolCalls: a.toolCalls, finish, usage: a.usage }
}

describe.each(ROUTES)('$name', (route) => {
  const cells = PROVIDERS.flatMap((provider) =>
    (['stream', 'json'] as const).map((mode) => ({
      provider,
      mode,
      name: `${route.name} -> ${provider.name} (${mode})`,
    })),
  )

  it.each(cells)('$name', async ({ provider, mode }) => {
    const [first, second] = await route.converse(provider.model, mode === 'stream')
    const answers = provider.fake().answers
    expect(answers).toHaveLength(2)
    // The fakes think only when thinking was asked for, in their own wire format.
    expect(answers[0].thinking !== '').toBe(provider.thinks)
    expect(answers[0].toolCalls).toHaveLength(2)
    // Claude thinks again after the tool results only if its signed thinking came back; a route
    // that cannot carry the signature gets the answer without thinking rather than an error.
    const thinksAgain = provider.thinks && (route.signs || !provider.needsSignedThinking)
    expect(answers[1].thinking !== '').toBe(thinksAgain)
    // Gemini's own signatures came back where the route can carry them; elsewhere its stand-in.
    const standIn = JSON.stringify(provider.fake().requests[1]?.body).includes(
      'skip_thought_signature_validator',
    )
    expect(standIn).toBe(provider.name === 'gemini-3' && !route.signsCalls)

    expect(first).toEqual(expected(answers[0], route.finish.tools))
    expect(second).toEqual(expected(answers[1], route.finish.stop))
    // Both results reached the provider, each with its own call.
    expect(second.text).toMatch(/21C[\s\S]*14:00/)
  })
})
