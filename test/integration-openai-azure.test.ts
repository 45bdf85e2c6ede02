import OpenAI, { AzureOpenAI, toFile } from 'openai'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { startFakeAzure, startFakeOpenAIWithMedia, type FakeAzure } from './fakes/azure.js'
import type { FakeServer } from './fakes/server.js'
import { gatewayRequiringKeys } from './helpers/gateway-requiring-keys.js'
import { createVirtualKey, fakeProvider, type RunningHeimdall, startHeimdall } from './helpers/heimdall.js'

/**
 * The official AzureOpenAI client pointed at Heimdall: its deployment paths
 * (`/openai/deployments/{deployment}/...?api-version=`) are served like the OpenAI routes, the
 * deployment naming the model (`azure/<deployment>`, or `provider/model` when it has a provider
 * in front, as Bifrost does).
 */
describe('AzureOpenAI client through /openai', () => {
  let azure: FakeAzure
  let openai: { server: FakeServer; close(): Promise<void> }
  let gw: RunningHeimdall

  beforeAll(async () => {
    azure = await startFakeAzure({
      apiKey: 'azure-secret',
      deployments: { 'gpt-4o': 'gpt-4o', embed: 'text-embedding-3-small' },
    })
    openai = await startFakeOpenAIWithMedia()
    gw = await startHeimdall({
      client: { enforce_auth_on_inference: false },
      providers: {
        azure: {
          keys: [
            { name: 'k', value: 'azure-secret', models: ['*'], azure_key_config: { endpoint: azure.url } },
          ],
        },
        openai: fakeProvider(openai.server.url),
      },
    })
  })
  afterAll(async () => {
    await gw?.close()
    await azure?.close()
    await openai?.close()
  })
  beforeEach(() => {
    azure.resource.reset()
    openai.server.reset()
  })

  const client = (deployment?: string, endpoint = `${gw.url}/openai`) =>
    new AzureOpenAI({ endpoint, apiKey: 'caller-key', apiVersion: '2024-10-21', deployment, maxRetries: 0 })

  it('serves a chat on a deployment path, routed to the azure provider', async () => {
    const { data, response } = await client('gpt-4o')
      .chat.completions.create({ model: 'ignored', messages: [{ role: 'user', content: 'hi azure' }] })
      .withResponse()
    expect(data.choices[0].message.content).toBe('Echo: hi azure')
    expect(response.url).toContain(
      '/openai/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21',
    )
    expect(response.headers.get('x-bifrost-original-model')).toBe('azure/gpt-4o')
    // Upstream: Heimdall's own key and api-version, never the caller's key.
    const sent = azure.resource.requests[0]
    expect(sent.path).toBe('/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21')
    expect(sent.headers['api-key']).toBe('azure-secret')
  })

  it('streams on a deployment path', async () => {
    const stream = await client('gpt-4o').chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'stream me' }],
      stream: true,
    })
    const parts: string[] = []
    for await (const chunk of stream) parts.push(chunk.choices[0]?.delta?.content ?? '')
    expect(parts.join('')).toBe('Echo: stream me')
  })

  it('takes the deployment from the model when the client names none, embeddings included', async () => {
    const emb = await client().embeddings.create({ model: 'embed', input: 'x' })
    expect(emb.data[0].embedding).toHaveLength(8)
    expect(azure.resource.requests[0].path.split('?')[0]).toBe('/openai/deployments/embed/embeddings')
  })

  it('routes a provider-prefixed deployment to that provider, audio and images included', async () => {
    const c = client(undefined, gw.url)
    const chat = await c.chat.completions.create({
      model: 'openai/gpt-4o-mini',
      messages: [{ role: 'user', content: 'via openai' }],
    })
    expect(chat.choices[0].message.content).toBe('Echo: via openai')
    const img = await c.images.generate({ model: 'openai/dall-e-3', prompt: 'owl' })
    expect(img.data?.[0].url).toBe('https://images.fake/owl/0.png')
    const heard = await c.audio.transcriptions.create({
      model: 'openai/whisper-1',
      file: await toFile(Buffer.from('hello'), 'h.wav'),
    })
    expect(heard.text).toBe('heard 5 bytes of h.wav: hello')
    expect(String(openai.server.requests[2].body)).toMatch(/name="model"\r\n\r\nwhisper-1\r\n/)
    expect(openai.server.requests.map((r) => r.path)).toEqual([
      '/v1/chat/completions',
      '/v1/images/generations',
      '/v1/audio/transcriptions',
    ])
    expect(azure.resource.requests).toHaveLength(0)
  })

  it('lists the Azure provider’s models on a deployment path (/openai/openai/deployments/{id}/models)', async () => {
    // A key naming its deployments, which are the models Azure lists.
    const listing = await startHeimdall({
      client: { enforce_auth_on_inference: false },
      providers: {
        azure: {
          keys: [
            {
              name: 'k',
              value: 'azure-secret',
              models: ['*'],
              azure_key_config: { endpoint: azure.url, deployments: { 'gpt-4o': 'gpt-4o', embed: 'embed' } },
            },
          ],
        },
        openai: fakeProvider(openai.server.url),
      },
    })
    try {
      const sdk = new OpenAI({
        baseURL: `${listing.url}/openai/openai/deployments/gpt-4o`,
        apiKey: 'caller-key',
        maxRetries: 0,
      })
      const ids: string[] = []
      for await (const m of sdk.models.list()) ids.push(m.id)
      expect(ids.sort()).toEqual(['azure/embed', 'azure/gpt-4o'])
    } finally {
      await listing.close()
    }
  })

  it('answers a path without an operation, and a bad body, with OpenAI-shaped 4xx', async () => {
    const res = await fetch(`${gw.url}/openai/deployments/gpt-4o/unknown?api-version=2024-10-21`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    })
    expect(res.status).toBe(404)
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/deployments/)
    const err = await client('gpt-4o')
      .chat.completions.create({ model: 'gpt-4o', messages: 'not a list' } as never)
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(OpenAI.BadRequestError)
  })
})

describe('AzureOpenAI client with a virtual key', () => {
  const keyed = gatewayRequiringKeys()

  it('accepts the virtual key in the api-key header the client sends', async () => {
    const { value: vk } = await createVirtualKey(keyed.gw.url, {
      name: 'azure-sdk',
      provider_configs: [{ provider: 'openai', allowed_models: ['*'], key_ids: ['*'] }],
    })
    const make = (apiKey: string) =>
      new AzureOpenAI({ endpoint: keyed.gw.url, apiKey, apiVersion: '2024-10-21', maxRetries: 0 })
    const refused = await make('not-a-vk')
      .chat.completions.create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(OpenAI.AuthenticationError)
    const ok = await make(vk).chat.completions.create({
      model: 'openai/gpt-4o-mini',
      messages: [{ role: 'user', content: 'with vk' }],
    })
    expect(ok.choices[0].message.content).toBe('Echo: with vk')
    expect(keyed.fake.server.requests[0].headers['api-key']).toBeUndefined()
  })
})
