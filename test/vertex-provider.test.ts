import { generateKeyPairSync } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import OpenAI from 'openai'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { startFakeGoogleCloud, type FakeGoogleCloud } from './fakes/vertex.js'
import { startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'

/**
 * Google Vertex AI reached as `vertex/<model>` on /v1 with the official OpenAI SDK: Gemini models
 * through generateContent, Claude through rawPredict, each with an OAuth token obtained for the
 * key's service account (JWT bearer grant, signed by google-auth-library) and cached.
 */

const PROJECT = 'heimdall-test'
const REGION = 'us-east5'
const CLIENT_EMAIL = 'heimdall@heimdall-test.iam.gserviceaccount.com'
const GEMINI = 'gemini-2.5-flash'
const CLAUDE = 'claude-sonnet-4-5-20250929'

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
const PRIVATE_PEM = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
const PUBLIC_PEM = publicKey.export({ type: 'spki', format: 'pem' }).toString()

function serviceAccount(tokenUri: string, key = PRIVATE_PEM): string {
  return JSON.stringify({
    type: 'service_account',
    project_id: PROJECT,
    private_key_id: 'k1',
    private_key: key,
    client_email: CLIENT_EMAIL,
    client_id: '1234567890',
    token_uri: tokenUri,
  })
}

const WEATHER = [
  {
    type: 'function' as const,
    function: {
      name: 'get_weather',
      parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
    },
  },
  {
    type: 'function' as const,
    function: { name: 'get_time', parameters: { type: 'object', properties: { city: { type: 'string' } } } },
  },
]

let cloud: FakeGoogleCloud
let gw: RunningHeimdall
let client: OpenAI

beforeAll(async () => {
  cloud = await startFakeGoogleCloud({
    publicKeyPem: PUBLIC_PEM,
    clientEmail: CLIENT_EMAIL,
    project: PROJECT,
    region: REGION,
  })
  // The credentials reach the gateway as an env.VAR reference, as a deployment would keep them.
  process.env.HEIMDALL_TEST_VERTEX_SA = serviceAccount(`${cloud.oauth.url}/token`)
  process.env.HEIMDALL_TEST_VERTEX_PROJECT = PROJECT
  gw = await startHeimdall({
    providers: {
      vertex: {
        keys: [
          {
            name: 'sa',
            models: ['*'],
            weight: 1,
            vertex_key_config: {
              project_id: 'env.HEIMDALL_TEST_VERTEX_PROJECT',
              region: REGION,
              auth_credentials: 'env.HEIMDALL_TEST_VERTEX_SA',
              deployments: { claude: CLAUDE },
            },
          },
        ],
        network_config: { base_url: cloud.vertex.url, retry_backoff_initial: 10, retry_backoff_max: 50 },
      },
    },
  } as never)
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-unused', maxRetries: 0 })
})
afterAll(async () => {
  await gw?.close()
  await cloud?.close()
})
beforeEach(() => {
  cloud.vertex.reset()
  cloud.oauth.reset()
})

describe('Gemini on Vertex', () => {
  it('answers a chat at the project and region path with the Bearer token', async () => {
    const r = await client.chat.completions.create({
      model: `vertex/${GEMINI}`,
      messages: [{ role: 'user', content: 'hi' }],
    })
    expect(r.choices[0].message.content).toBe('Echo: hi')
    expect(r.usage?.prompt_tokens).toBeGreaterThan(0)
    const sent = cloud.vertex.requests[0]
    expect(sent.path).toBe(
      `/v1/projects/${PROJECT}/locations/${REGION}/publishers/google/models/${GEMINI}:generateContent`,
    )
    expect(sent.headers.authorization).toMatch(/^Bearer ya29\.fake-/)
    expect(sent.headers['x-goog-api-key']).toBeUndefined()
  })

  it('streams text, then usage when asked', async () => {
    const stream = await client.chat.completions.create({
      model: `vertex/${GEMINI}`,
      messages: [{ role: 'user', content: 'tell me about the bridge' }],
      stream: true,
      stream_options: { include_usage: true },
    })
    let text = ''
    let usage: OpenAI.CompletionUsage | undefined | null
    for await (const c of stream) {
      text += c.choices[0]?.delta?.content ?? ''
      if (c.usage) usage = c.usage
    }
    expect(text).toBe('Echo: tell me about the bridge')
    expect(usage?.completion_tokens).toBeGreaterThan(0)
    expect(cloud.vertex.requests[0].path).toMatch(/:streamGenerateContent\?alt=sse$/)
  })

  it('streams parallel tool calls and reasoning', async () => {
    const stream = await client.chat.completions.create({
      model: `vertex/${GEMINI}`,
      messages: [{ role: 'user', content: 'weather in Paris and Oslo?' }],
      tools: WEATHER,
      reasoning_effort: 'low',
      stream: true,
    })
    const calls: { name: string; args: string }[] = []
    let reasoning = ''
    for await (const c of stream) {
      const delta = c.choices[0]?.delta as
        (OpenAI.Chat.ChatCompletionChunk.Choice.Delta & { reasoning?: string }) | undefined
      reasoning += delta?.reasoning ?? ''
      for (const tc of delta?.tool_calls ?? []) {
        calls[tc.index] ??= { name: '', args: '' }
        calls[tc.index].name += tc.function?.name ?? ''
        calls[tc.index].args += tc.function?.arguments ?? ''
      }
    }
    expect(calls.map((c) => c.name)).toEqual(['get_weather', 'get_time'])
    expect(calls.every((c) => typeof JSON.parse(c.args) === 'object')).toBe(true)
    expect(reasoning.length).toBeGreaterThan(0)
  })

  it('embeds through predict', async () => {
    const r = await client.embeddings.create({
      model: 'vertex/text-embedding-005',
      input: ['one', 'two'],
      dimensions: 4,
    })
    expect(r.data.map((d) => d.embedding.length)).toEqual([4, 4])
    expect(r.usage.prompt_tokens).toBeGreaterThan(0)
    const sent = cloud.vertex.requests[0]
    expect(sent.path).toMatch(/publishers\/google\/models\/text-embedding-005:predict$/)
    expect(sent.body.instances).toEqual([{ content: 'one' }, { content: 'two' }])
  })
})

describe('Claude on Vertex', () => {
  it('answers through rawPredict with anthropic_version in the body and the model in the path', async () => {
    const r = await client.chat.completions.create({
      model: 'vertex/claude',
      messages: [{ role: 'user', content: 'hi' }],
    })
    expect(r.choices[0].message.content).toBe('Echo: hi')
    expect(r.usage?.prompt_tokens).toBeGreaterThan(0)
    const sent = cloud.vertex.requests[0]
    expect(sent.path).toBe(
      `/v1/projects/${PROJECT}/locations/${REGION}/publishers/anthropic/models/${CLAUDE}:rawPredict`,
    )
    expect(sent.body.anthropic_version).toBe('vertex-2023-10-16')
    expect(sent.body.model).toBeUndefined()
  })

  it('streams tool calls, thinking and usage through streamRawPredict', async () => {
    const stream = await client.chat.completions.create({
      model: `vertex/${CLAUDE}`,
      messages: [{ role: 'user', content: 'weather in Paris and Oslo?' }],
      tools: WEATHER,
      reasoning_effort: 'low',
      stream: true,
      stream_options: { include_usage: true },
    })
    const calls: { name: string; args: string }[] = []
    let reasoning = ''
    let usage: OpenAI.CompletionUsage | undefined | null
    for await (const c of stream) {
      const delta = c.choices[0]?.delta as
        (OpenAI.Chat.ChatCompletionChunk.Choice.Delta & { reasoning?: string }) | undefined
      reasoning += delta?.reasoning ?? ''
      for (const tc of delta?.tool_calls ?? []) {
        calls[tc.index] ??= { name: '', args: '' }
        calls[tc.index].name += tc.function?.name ?? ''
        calls[tc.index].args += tc.function?.arguments ?? ''
      }
      if (c.usage) usage = c.usage
    }
    expect(calls.map((c) => c.name)).toEqual(['get_weather', 'get_time'])
    expect(calls.map((c) => JSON.parse(c.args).city)).toEqual(['Paris', 'Tokyo'])
    expect(reasoning.length).toBeGreaterThan(0)
    expect(usage?.completion_tokens).toBeGreaterThan(0)
    const sent = cloud.vertex.requests[0]
    expect(sent.path).toMatch(/publishers\/anthropic\/models\/claude-sonnet-4-5-20250929:streamRawPredict$/)
    expect(sent.body.stream).toBe(true)
  })

  it('answers response_format json_schema as JSON text through a forced tool, streamed and not', async () => {
    const schema = {
      type: 'object',
      properties: { name: { type: 'string' }, population: { type: 'integer' } },
      required: ['name', 'population'],
    }
    const ask = {
      model: `vertex/${CLAUDE}`,
      messages: [{ role: 'user' as const, content: 'Facts about Lyon' }],
      response_format: { type: 'json_schema' as const, json_schema: { name: 'city_facts', schema } },
    }
    const expected = { name: 'Echo: Facts about Lyon', population: 42 }
    const r = await client.chat.completions.create(ask)
    expect(JSON.parse(r.choices[0].message.content ?? '')).toEqual(expected)
    expect(r.choices[0].message.tool_calls).toBeUndefined()
    expect(r.choices[0].finish_reason).toBe('stop')
    const sent = cloud.vertex.requests[0].body
    expect(sent.output_config).toBeUndefined()
    expect(sent.tool_choice).toEqual({ type: 'tool', name: 'city_facts' })
    expect(sent.tools).toEqual([
      { name: 'city_facts', description: expect.any(String), input_schema: schema },
    ])

    const stream = await client.chat.completions.create({ ...ask, stream: true })
    let text = ''
    let finish: string | null | undefined
    for await (const c of stream) {
      expect(c.choices[0]?.delta.tool_calls).toBeUndefined()
      text += c.choices[0]?.delta.content ?? ''
      finish = c.choices[0]?.finish_reason ?? finish
    }
    expect(JSON.parse(text)).toEqual(expected)
    expect(finish).toBe('stop')
  })
})

describe('access tokens', () => {
  it('fetches one token and reuses it across requests, then refreshes it once it nears expiry', async () => {
    const fresh = await startHeimdallWith(serviceAccount(`${cloud.oauth.url}/token`))
    try {
      cloud.ttlSeconds = 2
      const c = new OpenAI({ baseURL: `${fresh.url}/v1`, apiKey: 'x', maxRetries: 0 })
      const ask = () =>
        c.chat.completions.create({ model: `vertex/${GEMINI}`, messages: [{ role: 'user', content: 'hi' }] })
      await Promise.all([ask(), ask()])
      await ask()
      expect(cloud.oauth.requests.length).toBe(1)
      const first = cloud.vertex.requests.map((r) => r.headers.authorization)
      expect(new Set(first).size).toBe(1)
      // Refreshed half-way through a short lifetime, before Vertex would refuse it.
      await sleep(1100)
      await ask()
      expect(cloud.oauth.requests.length).toBe(2)
      expect(cloud.vertex.requests.at(-1)?.headers.authorization).not.toBe(first[0])
    } finally {
      cloud.ttlSeconds = 3600
      await fresh.close()
    }
  })

  it("a key the token endpoint refuses is a clear error with Google's reason, not a crash", async () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 })
      .privateKey.export({ type: 'pkcs8', format: 'pem' })
      .toString()
    const bad = await startHeimdallWith(serviceAccount(`${cloud.oauth.url}/token`, other))
    try {
      const c = new OpenAI({ baseURL: `${bad.url}/v1`, apiKey: 'x', maxRetries: 0 })
      const err = await c.chat.completions
        .create({ model: `vertex/${GEMINI}`, messages: [{ role: 'user', content: 'hi' }] })
        .catch((e: unknown) => e)
      expect(err).toBeInstanceOf(OpenAI.APIError)
      // The only key is refused: the gateway reports its credentials exhausted, with Google's reason.
      expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(502)
      expect((err as Error).message).toMatch(/Invalid JWT Signature/)
      expect(cloud.vertex.requests.length).toBe(0)
    } finally {
      await bad.close()
    }
  })

  it('credentials that are not a service account JSON give a 400 naming the field', async () => {
    process.env.HEIMDALL_TEST_VERTEX_BROKEN = '{"type": "service_account"'
    const bad = await startHeimdallWith('env.HEIMDALL_TEST_VERTEX_BROKEN')
    try {
      const res = await fetch(`${bad.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: `vertex/${GEMINI}`, messages: [{ role: 'user', content: 'hi' }] }),
      })
      expect(res.status).toBe(400)
      const body = (await res.json()) as { error: { message: string } }
      expect(body.error.message).toMatch(/auth_credentials is not valid JSON/)
    } finally {
      await bad.close()
    }
  })
})

describe('upstream refusals', () => {
  it('a token Vertex no longer accepts is dropped: the next request gets a new one', async () => {
    await client.chat.completions.create({
      model: `vertex/${GEMINI}`,
      messages: [{ role: 'user', content: 'hi' }],
    })
    const before = cloud.issued.length
    cloud.revokeAll()
    const err = await client.chat.completions
      .create({ model: `vertex/${GEMINI}`, messages: [{ role: 'user', content: 'hi' }] })
      .catch((e: unknown) => e)
    expect((err as Error).message).toMatch(/invalid authentication credentials/)
    const r = await client.chat.completions.create({
      model: `vertex/${GEMINI}`,
      messages: [{ role: 'user', content: 'hi again' }],
    })
    expect(r.choices[0].message.content).toBe('Echo: hi again')
    expect(cloud.issued.length).toBe(before + 1)
  })

  it("another project's path is refused with Google's message", async () => {
    process.env.HEIMDALL_TEST_VERTEX_PROJECT = 'someone-else'
    try {
      const err = await client.chat.completions
        .create({ model: `vertex/${GEMINI}`, messages: [{ role: 'user', content: 'hi' }] })
        .catch((e: unknown) => e)
      expect(err).toBeInstanceOf(OpenAI.APIError)
      expect((err as Error).message).toMatch(/Permission 'aiplatform\.endpoints\.predict' denied/)
    } finally {
      process.env.HEIMDALL_TEST_VERTEX_PROJECT = PROJECT
    }
  })

  it('sends anthropic-beta to Claude as anthropic_beta in the body', async () => {
    await client.chat.completions.create(
      { model: 'vertex/claude', messages: [{ role: 'user', content: 'hi' }] },
      { headers: { 'x-bf-eh-anthropic-beta': 'context-1m-2025-08-07' } },
    )
    const sent = cloud.vertex.requests[0]
    expect(sent.body.anthropic_beta).toEqual(['context-1m-2025-08-07'])
    expect(sent.headers['anthropic-beta']).toBeUndefined()
  })
})

describe('configuration', () => {
  it('redacts auth_credentials in GET /api/providers and refuses an object in its place', async () => {
    const sa = serviceAccount('https://oauth2.googleapis.com/token')
    const res = await fetch(`${gw.url}/api/providers/vertex`, {
      method: 'PUT',
      ...jsonBody(providerBody(sa)),
    })
    expect(res.status).toBe(200)
    const listed = await (await fetch(`${gw.url}/api/providers`)).text()
    expect(listed).not.toContain('BEGIN PRIVATE KEY')
    expect(listed).not.toContain(CLIENT_EMAIL)
    const one = (await (await fetch(`${gw.url}/api/providers/vertex`)).json()) as {
      keys: { vertex_key_config: { auth_credentials: string } }[]
    }
    expect(one.keys[0].vertex_key_config.auth_credentials).toMatch(/^\{"ty\*{24}.{4}$/)

    const asObject = await fetch(`${gw.url}/api/providers/vertex`, {
      method: 'PUT',
      ...jsonBody(providerBody(JSON.parse(sa))),
    })
    expect(asObject.status).toBe(400)
    expect(await asObject.text()).toMatch(/auth_credentials must be a string/)
  })
})

function providerBody(authCredentials: unknown): unknown {
  return {
    keys: [
      {
        name: 'sa',
        models: ['*'],
        vertex_key_config: { project_id: PROJECT, region: REGION, auth_credentials: authCredentials },
      },
    ],
    network_config: { base_url: cloud.vertex.url },
  }
}

function jsonBody(value: unknown): RequestInit {
  return { headers: { 'content-type': 'application/json' }, body: JSON.stringify(value) }
}

function startHeimdallWith(authCredentials: string): Promise<RunningHeimdall> {
  return startHeimdall({
    providers: {
      vertex: {
        keys: [
          {
            name: 'sa',
            models: ['*'],
            vertex_key_config: { project_id: PROJECT, region: REGION, auth_credentials: authCredentials },
          },
        ],
        network_config: { base_url: cloud.vertex.url, max_retries: 0 },
      },
    },
  } as never)
}
