import { request as httpRequest } from 'node:http'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { startFakeAnthropic } from './fakes/anthropic.js'
import { startFakeAzure, type FakeAzure } from './fakes/azure.js'
import { startFakeBedrock } from './fakes/bedrock.js'
import { startFakeCohere } from './fakes/cohere.js'
import { startFakeGemini } from './fakes/gemini.js'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import type { FakeGoogleCloud } from './fakes/vertex.js'
import { fakeBedrockProvider, fakeProvider, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'
import { fakeVertexProvider, startFakeVertexCloud, VERTEX } from './helpers/vertex.js'

/**
 * A model, deployment or file id chosen by the caller never chooses the path or the query the
 * gateway sends to a provider with its own key: it arrives as one encoded path segment (or in the
 * body), and a name that cannot be a segment (`..`) is refused with a 400 before anything is sent.
 */

const EVIL = 'x/../../evil?q=1#f'
const EVIL_SEGMENT = 'x%2F..%2F..%2Fevil%3Fq%3D1%23f'
const CREDS = { accessKeyId: 'AKIAFAKE', secretAccessKey: 'fake-secret', sessionToken: 'fake-session' }

let openai: FakeServer
let anthropic: FakeServer
let cohere: FakeServer
let gemini: FakeServer
let bedrock: FakeServer
let azure: FakeAzure
let cloud: FakeGoogleCloud
let gw: RunningHeimdall

const noRetry = { network_config: { max_retries: 0 } }

beforeAll(async () => {
  ;[openai, anthropic, cohere, gemini, bedrock] = await Promise.all([
    startFakeOpenAI(),
    startFakeAnthropic(),
    startFakeCohere(),
    startFakeGemini(),
    startFakeBedrock([CREDS]),
  ])
  azure = await startFakeAzure({ apiKey: 'azure-secret', deployments: { 'gpt4o-prod': 'gpt-4o' } })
  cloud = await startFakeVertexCloud()
  gw = await startHeimdall({
    providers: {
      openai: fakeProvider(openai.url, noRetry),
      anthropic: fakeProvider(anthropic.url, noRetry),
      cohere: fakeProvider(cohere.url, noRetry),
      gemini: fakeProvider(gemini.url, noRetry),
      bedrock: fakeBedrockProvider(bedrock.url, CREDS, 'us-west-2', noRetry),
      azure: fakeProvider(azure.url, noRetry, [
        {
          name: 'az',
          value: 'azure-secret',
          models: ['*'],
          weight: 1,
          azure_key_config: { endpoint: azure.url },
        },
      ]),
      vertex: fakeVertexProvider(cloud, noRetry),
    },
  } as never)
})
afterAll(async () => {
  await gw?.close()
  await Promise.all([openai, anthropic, cohere, gemini, bedrock, azure, cloud].map((f) => f?.close()))
})
beforeEach(() => {
  for (const f of [openai, anthropic, cohere, gemini, bedrock, azure.resource, cloud.vertex]) f.reset()
})

/** A request sent byte for byte as written (fetch would resolve `..` and `\` in the path itself). */
function send(
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: any }> {
  const url = new URL(gw.url)
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        path,
        method: body === undefined ? 'GET' : 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        timeout: 10_000,
      },
      (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (c: string) => (text += c))
        res.on('end', () => {
          let json: unknown = text
          try {
            json = JSON.parse(text)
          } catch {
            // not JSON: kept as text
          }
          resolve({ status: res.statusCode ?? 0, json })
        })
      },
    )
    req.on('timeout', () => req.destroy(new Error('timed out')))
    req.on('error', reject)
    req.end(body === undefined ? undefined : JSON.stringify(body))
  })
}

const chat = (model: string) =>
  send('/v1/chat/completions', { model, messages: [{ role: 'user', content: 'hi' }] })
const paths = (f: FakeServer) => f.requests.map((r) => r.path)

describe('a model name that goes in the upstream path is one encoded segment', () => {
  it('gemini: models/{model} carries the whole name, its slashes, ? and # encoded', async () => {
    await chat(`gemini/${EVIL}`)
    expect(paths(gemini)).toEqual([`/v1beta/models/${EVIL_SEGMENT}:generateContent`])
  })

  it('gemini: a tuned model keeps its tunedModels/ collection', async () => {
    await chat('gemini/tunedModels/my-model-7')
    expect(paths(gemini)).toEqual(['/v1beta/tunedModels/my-model-7:generateContent'])
  })

  it('bedrock: /model/{id} carries the whole name; a real id keeps its : and .', async () => {
    await chat(`bedrock/${EVIL}`)
    await chat('bedrock/anthropic.claude-3-haiku-20240307-v1:0')
    expect(paths(bedrock)).toEqual([
      `/model/${EVIL_SEGMENT}/converse`,
      '/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse',
    ])
  })

  it('azure: /openai/deployments/{deployment} carries the whole name, the api-version stays the query', async () => {
    await chat(`azure/${EVIL}`)
    expect(paths(azure.resource)).toHaveLength(1)
    expect(paths(azure.resource)[0]).toMatch(
      new RegExp(`^/openai/deployments/${EVIL_SEGMENT}/chat/completions\\?api-version=[^&#]+$`),
    )
  })

  it('vertex: publishers/google/models/{model} carries the whole name', async () => {
    await chat(`vertex/gemini-${EVIL}`)
    expect(paths(cloud.vertex)).toEqual([
      `/v1/projects/${VERTEX.project}/locations/${VERTEX.region}/publishers/google/models/gemini-${EVIL_SEGMENT}:generateContent`,
    ])
  })

  for (const [provider, fake, path] of [
    ['openai', () => openai, '/v1/chat/completions'],
    ['anthropic', () => anthropic, '/v1/messages'],
    ['cohere', () => cohere, '/v2/chat'],
  ] as const) {
    it(`${provider}: the model travels in the body, the path is the operation's`, async () => {
      await chat(`${provider}/${EVIL}`)
      expect(fake().requests.map((r) => [r.path, r.body?.model])).toEqual([[path, EVIL]])
    })
  }

  for (const provider of ['gemini', 'bedrock', 'azure', 'vertex']) {
    it(`${provider}: a model named .. is a 400 and nothing is sent`, async () => {
      const r = await chat(`${provider}/..`)
      expect(r.status).toBe(400)
      expect(r.json.error.code).toMatch(/invalid_request/)
      for (const f of [gemini, bedrock, azure.resource, cloud.vertex]) expect(f.requests).toEqual([])
    })
  }
})

describe('drop-in routes and ids in the path', () => {
  it('/genai: a model with encoded slashes, ? and # reaches Gemini as one segment', async () => {
    await send(`/genai/v1beta/models/${EVIL_SEGMENT}:generateContent`, {
      contents: [{ parts: [{ text: 'hi' }] }],
    })
    expect(paths(gemini)).toEqual([`/v1beta/models/${EVIL_SEGMENT}:generateContent`])
  })

  for (const [what, model] of [
    ['raw backslashes', 'gem\\..\\..\\evil'],
    ['encoded backslashes', 'gem%5C..%5Cevil'],
    ['a second encoding of invalid UTF-8', 'gem%25FFx'],
    ['a control character', 'gem%0Ax'],
  ]) {
    it(`/genai: a model holding ${what} is a 400 in Google's shape, nothing is sent`, async () => {
      const r = await send(`/genai/v1beta/models/${model}:generateContent`, {
        contents: [{ parts: [{ text: 'hi' }] }],
      })
      expect(r.status).toBe(400)
      expect(r.json.error.code).toBe(400)
      expect(gemini.requests).toEqual([])
    })
  }

  it('/genai: invalid UTF-8 in the path is a 400', async () => {
    const r = await send('/genai/v1beta/models/gem%FFx:generateContent', { contents: [] })
    expect(r.status).toBe(400)
    expect(gemini.requests).toEqual([])
  })

  it('/bedrock: a model id with encoded slashes reaches Bedrock as one segment', async () => {
    await send(`/bedrock/model/${encodeURIComponent('bedrock/x/../../evil')}/converse`, {
      messages: [{ role: 'user', content: [{ text: 'hi' }] }],
    })
    expect(paths(bedrock)).toEqual([`/model/${encodeURIComponent('x/../../evil')}/converse`])
  })

  it('/v1/files/{id}: an id of .. is a 400 and nothing is sent', async () => {
    const r = await send('/v1/files/%2E%2E?provider=openai', undefined)
    expect(r.status).toBe(400)
    expect(r.json.error.param).toBe('file_id')
    expect(openai.requests).toEqual([])
  })

  it('/v1/batches/{id}: an id with slashes reaches the provider as one segment', async () => {
    await send(`/v1/batches/${encodeURIComponent('b/../../files')}?provider=openai`, undefined)
    expect(paths(openai)).toEqual([`/v1/batches/${encodeURIComponent('b/../../files')}`])
  })
})
