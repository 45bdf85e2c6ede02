import { setTimeout as sleep } from 'node:timers/promises'
import OpenAI, { toFile } from 'openai'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { fakeSpeech, startFakeAzure, type FakeAzure } from './fakes/azure.js'
import { startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'

/**
 * The Azure OpenAI provider, reached as `azure/<model>` on /v1 with the official OpenAI SDK: each
 * model goes to its deployment under `{endpoint}/openai/deployments/...?api-version=`, with the
 * `api-key` header, or with an Entra ID token fetched with client credentials and cached.
 */

const DEPLOYMENTS = {
  'gpt4o-prod': 'gpt-4o',
  'embed-small': 'text-embedding-3-small',
  'images-d3': 'dall-e-3',
  voice: 'tts-1',
  ears: 'whisper-1',
}
/** model -> deployment, as `azure_key_config.deployments` says it. */
const KEY_DEPLOYMENTS = {
  'gpt-4o': 'gpt4o-prod',
  'text-embedding-3-small': 'embed-small',
  'dall-e-3': 'images-d3',
  'tts-1': 'voice',
  'whisper-1': 'ears',
}

function heimdallFor(azure: Record<string, unknown>, env: Record<string, string> = {}) {
  return startHeimdall(
    {
      providers: {
        azure: {
          keys: [{ name: 'azure-key', models: ['*'], weight: 1, ...azure }],
          network_config: { retry_backoff_initial: 10, retry_backoff_max: 50 },
        },
      },
    },
    { env },
  )
}

describe('Azure OpenAI with an API key', () => {
  let azure: FakeAzure
  let gw: RunningHeimdall
  let client: OpenAI

  beforeAll(async () => {
    azure = await startFakeAzure({ apiKey: 'azure-secret', deployments: DEPLOYMENTS })
    // Every field of the key may be an env.VAR reference.
    process.env.HEIMDALL_TEST_AZURE_ENDPOINT = azure.url
    gw = await heimdallFor(
      {
        value: 'env.HEIMDALL_TEST_AZURE_KEY',
        azure_key_config: {
          endpoint: 'env.HEIMDALL_TEST_AZURE_ENDPOINT',
          deployments: KEY_DEPLOYMENTS,
          api_version: '2025-01-01-preview',
        },
      },
      { HEIMDALL_TEST_AZURE_KEY: 'azure-secret' },
    )
    client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-unused', maxRetries: 0 })
  })
  afterAll(async () => {
    await gw?.close()
    await azure?.close()
    delete process.env.HEIMDALL_TEST_AZURE_ENDPOINT
  })
  beforeEach(() => azure.resource.reset())

  it('sends a chat to the model’s deployment with the api-version and the api-key header', async () => {
    const { data, response } = await client.chat.completions
      .create({ model: 'azure/gpt-4o', messages: [{ role: 'user', content: 'hello azure' }] })
      .withResponse()
    expect(data.choices[0].message.content).toBe('Echo: hello azure')
    expect(data.model).toBe('gpt-4o')
    expect(response.headers.get('x-bifrost-provider')).toBe('azure')
    const sent = azure.resource.requests[0]
    expect(sent.path).toBe('/openai/deployments/gpt4o-prod/chat/completions?api-version=2025-01-01-preview')
    expect(sent.headers['api-key']).toBe('azure-secret')
    expect(sent.headers.authorization).toBeUndefined()
  })

  it('streams a chat, with usage for accounting', async () => {
    const stream = await client.chat.completions.create({
      model: 'azure/gpt-4o',
      messages: [{ role: 'user', content: 'a b c' }],
      stream: true,
      stream_options: { include_usage: true },
    })
    const parts: string[] = []
    let total = 0
    for await (const chunk of stream) {
      parts.push(chunk.choices[0]?.delta?.content ?? '')
      total = chunk.usage?.total_tokens ?? total
    }
    expect(parts.join('')).toBe('Echo: a b c')
    expect(total).toBeGreaterThan(0)
  })

  it('serves embeddings, images, speech and transcriptions from their deployments', async () => {
    const emb = await client.embeddings.create({ model: 'azure/text-embedding-3-small', input: 'vector me' })
    expect(emb.data[0].embedding).toHaveLength(8)
    const img = await client.images.generate({ model: 'azure/dall-e-3', prompt: 'a lighthouse' })
    expect(img.data?.[0].url).toBe('https://images.fake/a%20lighthouse/0.png')
    const speech = await client.audio.speech.create({
      model: 'azure/tts-1',
      voice: 'nova',
      input: 'hi there',
    })
    expect(Buffer.from(await speech.arrayBuffer())).toEqual(fakeSpeech('hi there', 'nova'))
    const heard = await client.audio.transcriptions.create({
      model: 'azure/whisper-1',
      file: await toFile(Buffer.from('abc'), 'a.mp3'),
    })
    expect(heard.text).toBe('heard 3 bytes of a.mp3: abc')
    expect(azure.resource.requests.map((r) => r.path.split('?')[0])).toEqual([
      '/openai/deployments/embed-small/embeddings',
      '/openai/deployments/images-d3/images/generations',
      '/openai/deployments/voice/audio/speech',
      '/openai/deployments/ears/audio/transcriptions',
    ])
  })

  it('uses the model name as the deployment when the key maps none, and reports Azure’s 404', async () => {
    const err = await client.chat.completions
      .create({ model: 'azure/gpt-35', messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(OpenAI.NotFoundError)
    expect((err as InstanceType<typeof OpenAI.APIError>).message).toMatch(
      /deployment for this resource does not exist/,
    )
    expect(azure.resource.requests[0].path.split('?')[0]).toBe('/openai/deployments/gpt-35/chat/completions')
  })

  it('lists the deployed models', async () => {
    const models = await client.models.list()
    const ids = models.data.map((m) => m.id)
    expect(ids).toEqual(expect.arrayContaining(['azure/gpt-4o', 'azure/whisper-1']))
  })
})

describe('Azure OpenAI defaults and refusals', () => {
  let azure: FakeAzure

  beforeAll(async () => {
    azure = await startFakeAzure({ apiKey: 'right', deployments: DEPLOYMENTS })
  })
  afterAll(async () => {
    await azure?.close()
  })

  it('sends Bifrost’s default api-version when the key sets none', async () => {
    const gw = await heimdallFor({ value: 'right', azure_key_config: { endpoint: azure.url } })
    try {
      const c = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'x', maxRetries: 0 })
      await c.chat.completions.create({
        model: 'azure/gpt4o-prod',
        messages: [{ role: 'user', content: 'x' }],
      })
      expect(azure.resource.requests.at(-1)?.path).toBe(
        '/openai/deployments/gpt4o-prod/chat/completions?api-version=2024-10-21',
      )
    } finally {
      await gw.close()
    }
  })

  it('reports a refused api-key with Azure’s message, never with the key', async () => {
    const gw = await heimdallFor({ value: 'wrong-key-123', azure_key_config: { endpoint: azure.url } })
    try {
      const c = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'x', maxRetries: 0 })
      const err = (await c.chat.completions
        .create({ model: 'azure/gpt4o-prod', messages: [{ role: 'user', content: 'x' }] })
        .catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>
      expect(err).toBeInstanceOf(OpenAI.APIError)
      expect(err.message).toMatch(/Access denied due to invalid subscription key/)
      expect(err.message).not.toContain('wrong-key-123')
    } finally {
      await gw.close()
    }
  })

  it('refuses a key without an endpoint with a clear 400', async () => {
    const gw = await heimdallFor({ value: 'right' })
    try {
      const c = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'x', maxRetries: 0 })
      const err = await c.chat.completions
        .create({ model: 'azure/gpt4o-prod', messages: [{ role: 'user', content: 'x' }] })
        .catch((e: unknown) => e)
      expect(err).toBeInstanceOf(OpenAI.BadRequestError)
      expect((err as Error).message).toMatch(/azure_key_config\.endpoint/)
    } finally {
      await gw.close()
    }
  })
})

describe('Azure OpenAI with Entra ID client credentials', () => {
  let azure: FakeAzure
  let gw: RunningHeimdall
  let client: OpenAI

  beforeAll(async () => {
    azure = await startFakeAzure({
      apiKey: 'unused',
      deployments: DEPLOYMENTS,
      tenantId: 'contoso',
      clientId: 'app-id',
      clientSecret: 'app-secret',
      tokenLifetime: 1,
    })
    gw = await heimdallFor(
      {
        azure_key_config: {
          endpoint: azure.url,
          deployments: KEY_DEPLOYMENTS,
          tenant_id: 'contoso',
          client_id: 'app-id',
          client_secret: 'env.HEIMDALL_TEST_AZURE_CLIENT_SECRET',
          authority_host: azure.entraUrl,
        },
      },
      {},
    )
    client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'x', maxRetries: 0 })
  })
  afterAll(async () => {
    await gw?.close()
    await azure?.close()
  })

  it('gets a token for the Cognitive Services scope, sends it as a bearer, and reuses it until near expiry', async () => {
    process.env.HEIMDALL_TEST_AZURE_CLIENT_SECRET = 'app-secret'
    try {
      const ask = (text: string) =>
        client.chat.completions.create({ model: 'azure/gpt-4o', messages: [{ role: 'user', content: text }] })
      const answers = await Promise.all([ask('one'), ask('two'), ask('three')])
      expect(answers.map((a) => a.choices[0].message.content)).toEqual([
        'Echo: one',
        'Echo: two',
        'Echo: three',
      ])
      // One token for three concurrent requests.
      expect(azure.tokensIssued).toBe(1)
      const tokenRequest = azure.entra.requests[0]
      expect(tokenRequest.path).toBe('/contoso/oauth2/v2.0/token')
      expect(new URLSearchParams(tokenRequest.body).get('scope')).toBe(
        'https://cognitiveservices.azure.com/.default',
      )
      const sent = azure.resource.requests.at(-1)!
      expect(sent.headers.authorization).toMatch(/^Bearer eyJ\.fake\./)
      expect(sent.headers['api-key']).toBeUndefined()
      await ask('four')
      expect(azure.tokensIssued).toBe(1)
      // The token lives 1 s here; past half its life it is fetched again.
      await sleep(600)
      await ask('five')
      expect(azure.tokensIssued).toBe(2)
    } finally {
      delete process.env.HEIMDALL_TEST_AZURE_CLIENT_SECRET
    }
  })

  it('reports credentials Entra ID refuses with its message', async () => {
    process.env.HEIMDALL_TEST_AZURE_CLIENT_SECRET = 'not-the-secret'
    try {
      const err = await client.chat.completions
        .create({ model: 'azure/gpt-4o', messages: [{ role: 'user', content: 'x' }] })
        .catch((e: unknown) => e)
      expect(err).toBeInstanceOf(OpenAI.APIError)
      expect((err as Error).message).toMatch(/AADSTS7000215/)
      expect((err as Error).message).not.toContain('not-the-secret')
    } finally {
      delete process.env.HEIMDALL_TEST_AZURE_CLIENT_SECRET
    }
  })
})
