import OpenAI from 'openai'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { bedrockFault, fakeBedrockSignature, startFakeBedrock } from './fakes/bedrock.js'
import type { FakeServer } from './fakes/server.js'
import { fakeProvider, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'

/**
 * The Bedrock provider seen from an OpenAI SDK on /v1: Converse and ConverseStream signed with
 * SigV4 (checked by the fake with the same credentials and session token), model ids and ARNs in
 * the path, usage with cache tokens, streamed tool calls, reasoning signatures, Titan embeddings.
 */
const CREDS = { accessKeyId: 'AKIAFAKE', secretAccessKey: 'fake-secret', sessionToken: 'fake-session' }
const CLAUDE = 'us.anthropic.claude-sonnet-4-5-20250929-v1:0'
const PROFILE_ARN = 'arn:aws:bedrock:us-east-1:123456789012:application-inference-profile'

let fake: FakeServer
let gw: RunningHeimdall
let client: OpenAI

beforeAll(async () => {
  // Provider secrets resolve `env.VAR` against the process environment.
  Object.assign(process.env, {
    TEST_AWS_KEY: CREDS.accessKeyId,
    TEST_AWS_SECRET: CREDS.secretAccessKey,
    TEST_AWS_SESSION: CREDS.sessionToken,
  })
  fake = await startFakeBedrock([CREDS])
  gw = await startHeimdall(
    {
      providers: {
        bedrock: fakeProvider(fake.url, {}, [
          {
            name: 'aws',
            value: '',
            models: ['*'],
            weight: 1,
            bedrock_key_config: {
              access_key: 'env.TEST_AWS_KEY',
              secret_key: 'env.TEST_AWS_SECRET',
              session_token: 'env.TEST_AWS_SESSION',
              region: 'us-west-2',
              deployments: { claude: CLAUDE },
            },
          },
        ]),
        profiled: fakeProvider(fake.url, { custom_provider_config: { base_provider_type: 'bedrock' } }, [
          {
            name: 'profile',
            value: '',
            models: ['*'],
            weight: 1,
            bedrock_key_config: {
              access_key: CREDS.accessKeyId,
              secret_key: CREDS.secretAccessKey,
              session_token: CREDS.sessionToken,
              arn: PROFILE_ARN,
            },
          },
        ]),
        wrongsecret: fakeProvider(fake.url, { custom_provider_config: { base_provider_type: 'bedrock' } }, [
          {
            name: 'bad',
            value: '',
            models: ['*'],
            weight: 1,
            bedrock_key_config: {
              access_key: CREDS.accessKeyId,
              secret_key: 'not-the-secret',
              session_token: CREDS.sessionToken,
            },
          },
        ]),
      },
    },
    {
      env: {
        TEST_AWS_KEY: CREDS.accessKeyId,
        TEST_AWS_SECRET: CREDS.secretAccessKey,
        TEST_AWS_SESSION: CREDS.sessionToken,
      },
    },
  )
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-unused', maxRetries: 0 })
})
afterAll(async () => {
  await gw?.close()
  await fake?.close()
})
beforeEach(() => fake.reset())

const WEATHER = [
  {
    type: 'function' as const,
    function: {
      name: 'get_weather',
      description: 'Weather for a city',
      parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
    },
  },
]

describe('Bedrock through /v1 with the OpenAI SDK', () => {
  it('answers a chat completion through Converse, signed with SigV4 and the session token', async () => {
    const res = await client.chat.completions.create({
      model: `bedrock/${CLAUDE}`,
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'hello bedrock' },
      ],
      max_tokens: 100,
      temperature: 0.2,
    })
    expect(res.choices[0].message.content).toBe('Bedrock echo: hello bedrock')
    expect(res.choices[0].finish_reason).toBe('stop')
    expect(res.usage?.prompt_tokens).toBeGreaterThan(0)
    expect(res.usage?.total_tokens).toBe(res.usage!.prompt_tokens + res.usage!.completion_tokens)
    const sent = fake.requests[0]
    // The model id's ':' is URL-encoded in the path, and the key's region is in the signature's scope.
    expect(sent.path).toBe(`/model/${encodeURIComponent(CLAUDE)}/converse`)
    expect(sent.headers.authorization).toMatch(/Credential=AKIAFAKE\/\d{8}\/us-west-2\/bedrock\/aws4_request/)
    expect(sent.headers['x-amz-security-token']).toBe(CREDS.sessionToken)
    expect(sent.body.system).toEqual([{ text: 'Be brief.' }])
    expect(sent.body.inferenceConfig).toEqual({ maxTokens: 100, temperature: 0.2 })
  })

  it('maps a model through the key’s deployments and puts the key’s ARN before the model id', async () => {
    await client.chat.completions.create({
      model: 'bedrock/claude',
      messages: [{ role: 'user', content: 'x' }],
    })
    expect(fake.requests[0].path).toBe(`/model/${encodeURIComponent(CLAUDE)}/converse`)
    await client.chat.completions.create({
      model: 'profiled/abc123',
      messages: [{ role: 'user', content: 'x' }],
    })
    expect(decodeURIComponent(fake.requests[1].path)).toBe(`/model/${PROFILE_ARN}/abc123/converse`)
  })

  it('streams text with usage, cache reads included, when the caller asks for usage', async () => {
    const stream = await client.chat.completions.create({
      model: `bedrock/${CLAUDE}`,
      messages: [
        {
          role: 'system',
          content: [
            { type: 'text', text: 'Long cached prompt', cache_control: { type: 'ephemeral' } } as never,
          ],
        },
        { role: 'user', content: 'stream this please' },
      ],
      stream: true,
      stream_options: { include_usage: true },
    })
    let text = ''
    let usage: OpenAI.CompletionUsage | undefined
    let finish: string | null = null
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? ''
      finish = chunk.choices[0]?.finish_reason ?? finish
      if (chunk.usage) usage = chunk.usage
    }
    expect(text).toBe('Bedrock echo: stream this please')
    expect(finish).toBe('stop')
    expect(usage?.prompt_tokens_details?.cached_tokens).toBe(6)
    expect(fake.requests[0].path).toMatch(/\/converse-stream$/)
    expect(fake.requests[0].body.system).toEqual([
      { text: 'Long cached prompt' },
      { cachePoint: { type: 'default' } },
    ])
  })

  it('streams a tool call whose arguments arrive in pieces, then sends the tool result back', async () => {
    const stream = await client.chat.completions.create({
      model: `bedrock/${CLAUDE}`,
      messages: [{ role: 'user', content: 'weather in Paris?' }],
      tools: WEATHER,
      stream: true,
    })
    const calls = new Map<number, { id?: string; name?: string; args: string }>()
    let finish: string | null = null
    for await (const chunk of stream) {
      for (const tc of chunk.choices[0]?.delta.tool_calls ?? []) {
        const c = calls.get(tc.index) ?? { args: '' }
        c.id ??= tc.id
        c.name ??= tc.function?.name
        c.args += tc.function?.arguments ?? ''
        calls.set(tc.index, c)
      }
      finish = chunk.choices[0]?.finish_reason ?? finish
    }
    expect(finish).toBe('tool_calls')
    const call = calls.get(0)!
    expect(call).toMatchObject({ id: 'tooluse_fake01', name: 'get_weather' })
    expect(JSON.parse(call.args)).toEqual({ city: 'Paris', unit: 'celsius' })
    expect(fake.requests[0].body.toolConfig.tools[0].toolSpec).toMatchObject({ name: 'get_weather' })

    const done = await client.chat.completions.create({
      model: `bedrock/${CLAUDE}`,
      messages: [
        { role: 'user', content: 'weather in Paris?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: call.id!, type: 'function', function: { name: call.name!, arguments: call.args } },
          ],
        },
        { role: 'tool', tool_call_id: call.id!, content: '21°C and sunny' },
      ],
      tools: WEATHER,
    })
    expect(done.choices[0].message.content).toBe('The tool said: 21°C and sunny')
    expect(fake.requests[1].body.messages[1].content[0].toolUse).toEqual({
      toolUseId: 'tooluse_fake01',
      name: 'get_weather',
      input: { city: 'Paris', unit: 'celsius' },
    })
  })

  it('returns signed reasoning and accepts it back on the next turn', async () => {
    const first = await client.chat.completions.create({
      model: `bedrock/${CLAUDE}`,
      messages: [{ role: 'user', content: 'think first' }],
      reasoning_effort: 'low',
      max_tokens: 4000,
    })
    const message = first.choices[0].message as OpenAI.ChatCompletionMessage & {
      reasoning_details?: { type: string; text?: string; signature?: string }[]
    }
    expect(message.reasoning_details?.[0]).toMatchObject({
      type: 'reasoning.text',
      text: 'Let me think about it.',
      signature: fakeBedrockSignature('Let me think about it.'),
    })
    expect(fake.requests[0].body.additionalModelRequestFields.thinking).toEqual({
      type: 'enabled',
      budget_tokens: 2048,
    })
    const second = await client.chat.completions.create({
      model: `bedrock/${CLAUDE}`,
      messages: [
        { role: 'user', content: 'think first' },
        message as OpenAI.ChatCompletionAssistantMessageParam,
        { role: 'user', content: 'again' },
      ],
    })
    expect(second.choices[0].message.content).toBe('Bedrock echo: again')
    expect(fake.requests[1].body.messages[1].content[0].reasoningContent.reasoningText.signature).toBe(
      fakeBedrockSignature('Let me think about it.'),
    )
  })

  it('embeds through InvokeModel with Titan', async () => {
    const res = await client.embeddings.create({
      model: 'bedrock/amazon.titan-embed-text-v2:0',
      input: ['one', 'two'],
    })
    expect(res.data).toHaveLength(2)
    expect(res.data[0].embedding).toHaveLength(4)
    expect(fake.requests.map((r) => r.body.inputText)).toEqual(['one', 'two'])
  })

  it('surfaces AWS errors with their status: a bad signature is 403, throttling 429, validation 400', async () => {
    const bad = await client.chat.completions
      .create({ model: 'wrongsecret/anthropic.claude-v2', messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e)
    // A key AWS rejects is taken out of rotation; with none left the gateway answers 502.
    expect(bad).toBeInstanceOf(OpenAI.InternalServerError)
    expect((bad as Error).message).toMatch(/signature we calculated does not match/)
    const throttled = await client.chat.completions
      .create({ model: 'bedrock/throttled-model', messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e)
    expect(throttled).toBeInstanceOf(OpenAI.RateLimitError)
    fake.fail(bedrockFault(400, 'ValidationException', 'maxTokens is too large'))
    const invalid = await client.chat.completions
      .create({ model: `bedrock/${CLAUDE}`, messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e)
    expect(invalid).toBeInstanceOf(OpenAI.BadRequestError)
    expect((invalid as Error).message).toMatch(/maxTokens is too large/)
  })

  it('ends a stream that fails midway with an error event instead of [DONE]', async () => {
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: `bedrock/${CLAUDE}`,
        messages: [{ role: 'user', content: 'boom [stream-error]' }],
        stream: true,
      }),
    })
    const text = await res.text()
    expect(text).toContain('Bedrock ')
    expect(text).toContain('the model stream failed')
    expect(text).not.toContain('[DONE]')
  })
})
