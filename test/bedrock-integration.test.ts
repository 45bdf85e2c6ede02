import {
  AccessDeniedException,
  BedrockRuntimeClient,
  ConverseCommand,
  ConverseStreamCommand,
  ModelStreamErrorException,
  InvokeModelCommand,
  InvokeModelWithResponseStreamCommand,
  ThrottlingException,
  ValidationException,
  type ContentBlock,
  type ConverseStreamOutput,
} from '@aws-sdk/client-bedrock-runtime'
import { NodeHttpHandler } from '@smithy/node-http-handler'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { startFakeBedrock } from './fakes/bedrock.js'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { fakeBedrockProvider, fakeProvider, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'
import { bedrockCaller } from './helpers/bedrock-caller.js'

/**
 * `/bedrock/...` for @aws-sdk/client-bedrock-runtime pointed at the gateway: Converse,
 * ConverseStream (AWS event-stream framing), InvokeModel and InvokeModelWithResponseStream, to
 * Bedrock (whose fake checks the gateway's own SigV4 signature) and to an OpenAI target; errors
 * raise the SDK's own exception classes; virtual keys are enforced as on /v1.
 */
const CREDS = {
  accessKeyId: 'AKIAUPSTREAM',
  secretAccessKey: 'upstream-secret',
  sessionToken: 'upstream-session',
}
const CLAUDE = 'anthropic.claude-3-5-sonnet-20240620-v1:0'

let bedrock: FakeServer
let openai: FakeServer
let gw: RunningHeimdall
let client: BedrockRuntimeClient

const sdk = (extra: Record<string, unknown> = {}) => bedrockCaller(`${gw.url}/bedrock`, extra)

beforeAll(async () => {
  bedrock = await startFakeBedrock([CREDS])
  openai = await startFakeOpenAI()
  gw = await startHeimdall({
    providers: {
      bedrock: fakeBedrockProvider(bedrock.url, CREDS),
      openai: fakeProvider(openai.url),
    },
  })
  client = sdk()
})
afterAll(async () => {
  client?.destroy()
  await gw?.close()
  await bedrock?.close()
  await openai?.close()
})
beforeEach(() => {
  bedrock.reset()
  openai.reset()
})

const WEATHER_TOOL = {
  tools: [
    {
      toolSpec: {
        name: 'get_weather',
        description: 'Weather for a city',
        inputSchema: { json: { type: 'object', properties: { city: { type: 'string' } } } },
      },
    },
  ],
}

async function collect(stream: AsyncIterable<ConverseStreamOutput> | undefined) {
  const events: ConverseStreamOutput[] = []
  for await (const e of stream ?? []) events.push(e)
  let text = ''
  const tools: { id?: string; name?: string; input: string }[] = []
  for (const e of events) {
    if (e.contentBlockStart?.start?.toolUse)
      tools.push({
        id: e.contentBlockStart.start.toolUse.toolUseId,
        name: e.contentBlockStart.start.toolUse.name,
        input: '',
      })
    if (e.contentBlockDelta?.delta?.text) text += e.contentBlockDelta.delta.text
    if (e.contentBlockDelta?.delta?.toolUse)
      tools[tools.length - 1].input += e.contentBlockDelta.delta.toolUse.input ?? ''
  }
  return {
    events,
    text,
    tools,
    stop: events.find((e) => e.messageStop)?.messageStop?.stopReason,
    usage: events.find((e) => e.metadata)?.metadata?.usage,
  }
}

describe('the Bedrock SDK through /bedrock', () => {
  it('converses with a Bedrock model; the gateway re-signs with its own key', async () => {
    const res = await client.send(
      new ConverseCommand({
        modelId: CLAUDE,
        system: [{ text: 'Be brief.' }],
        messages: [{ role: 'user', content: [{ text: 'hello from the sdk' }] }],
        inferenceConfig: { maxTokens: 50 },
      }),
    )
    expect(res.output?.message?.content?.[0].text).toBe('Bedrock echo: hello from the sdk')
    expect(res.stopReason).toBe('end_turn')
    expect(res.usage?.inputTokens).toBeGreaterThan(0)
    expect(res.usage?.totalTokens).toBe(res.usage!.inputTokens! + res.usage!.outputTokens!)
    const sent = bedrock.requests[0]
    expect(sent.headers.authorization).toContain('Credential=AKIAUPSTREAM/')
    expect(sent.body.system).toEqual([{ text: 'Be brief.' }])
    expect(sent.body.inferenceConfig).toEqual({ maxTokens: 50 })
  })

  it('takes an inference-profile ARN as the model id and sends it on, encoded, to Bedrock', async () => {
    const arn =
      'arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-sonnet-20240620-v1:0'
    const res = await client.send(
      new ConverseCommand({ modelId: arn, messages: [{ role: 'user', content: [{ text: 'via arn' }] }] }),
    )
    expect(res.output?.message?.content?.[0].text).toBe('Bedrock echo: via arn')
    expect(bedrock.requests[0].path).toBe(`/model/${encodeURIComponent(arn)}/converse`)
  })

  it('converses with an OpenAI model named as provider/model', async () => {
    const res = await client.send(
      new ConverseCommand({
        modelId: 'openai/gpt-4o-mini',
        messages: [{ role: 'user', content: [{ text: 'hi' }] }],
      }),
    )
    expect(res.output?.message?.content?.[0].text).toBe('Echo: hi')
    expect(openai.requests[0].body.model).toBe('gpt-4o-mini')
    expect(openai.requests[0].headers.authorization).toBe('Bearer sk-test')
  })

  it('streams a tool call from an OpenAI model as ConverseStream events, then takes the tool result', async () => {
    const res = await client.send(
      new ConverseStreamCommand({
        modelId: 'openai/gpt-4o-mini',
        messages: [{ role: 'user', content: [{ text: 'weather in Paris?' }] }],
        toolConfig: WEATHER_TOOL,
      }),
    )
    const out = await collect(res.stream)
    expect(out.events[0].messageStart?.role).toBe('assistant')
    expect(out.stop).toBe('tool_use')
    expect(out.tools).toHaveLength(1)
    expect(out.tools[0].name).toBe('get_weather')
    expect(JSON.parse(out.tools[0].input)).toHaveProperty('city')
    expect(out.usage?.outputTokens).toBeGreaterThan(0)

    const next = await client.send(
      new ConverseCommand({
        modelId: 'openai/gpt-4o-mini',
        toolConfig: WEATHER_TOOL,
        messages: [
          { role: 'user', content: [{ text: 'weather in Paris?' }] },
          {
            role: 'assistant',
            content: [
              {
                toolUse: {
                  toolUseId: out.tools[0].id!,
                  name: 'get_weather',
                  input: JSON.parse(out.tools[0].input),
                },
              },
            ],
          },
          {
            role: 'user',
            content: [{ toolResult: { toolUseId: out.tools[0].id!, content: [{ text: 'sunny' }] } }],
          },
        ],
      }),
    )
    expect(next.output?.message?.content?.[0].text).toMatch(/sunny/)
    const sentMessages = openai.requests[1].body.messages
    expect(sentMessages[1].tool_calls[0].id).toBe(out.tools[0].id)
    expect(sentMessages[2]).toMatchObject({ role: 'tool', tool_call_id: out.tools[0].id, content: 'sunny' })
  })

  it('streams a Bedrock tool call end to end, keeping the event-stream framing', async () => {
    const res = await client.send(
      new ConverseStreamCommand({
        modelId: CLAUDE,
        messages: [{ role: 'user', content: [{ text: 'weather?' }] }],
        toolConfig: WEATHER_TOOL,
      }),
    )
    const out = await collect(res.stream)
    expect(out.text).toBe('Let me look that up.')
    expect(out.tools).toEqual([
      { id: 'tooluse_fake01', name: 'get_weather', input: '{"city":"Paris","unit":"celsius"}' },
    ])
    expect(out.stop).toBe('tool_use')
    expect(out.events.at(-1)?.metadata?.usage?.inputTokens).toBeGreaterThan(0)
  })

  it('ends a stream that fails midway with the SDK’s stream exception', async () => {
    const res = await client.send(
      new ConverseStreamCommand({
        modelId: CLAUDE,
        messages: [{ role: 'user', content: [{ text: 'go [stream-error]' }] }],
      }),
    )
    const seen: ConverseStreamOutput[] = []
    const err = await (async () => {
      for await (const e of res.stream ?? []) seen.push(e)
    })().catch((e: unknown) => e)
    expect(seen.some((e) => e.contentBlockDelta?.delta?.text)).toBe(true)
    expect(err).toBeInstanceOf(ModelStreamErrorException)
    expect((err as Error).message).toBe('the model stream failed')
  })

  it('invokes Claude with an Anthropic Messages body, plain and streamed', async () => {
    const body = {
      anthropic_version: 'bedrock-2023-05-31',
      max_tokens: 100,
      messages: [{ role: 'user', content: 'hi claude' }],
    }
    const res = await client.send(
      new InvokeModelCommand({
        modelId: CLAUDE,
        contentType: 'application/json',
        body: JSON.stringify(body),
      }),
    )
    const message = JSON.parse(new TextDecoder().decode(res.body))
    expect(message).toMatchObject({ type: 'message', role: 'assistant', stop_reason: 'end_turn' })
    expect(message.content[0].text).toBe('Bedrock echo: hi claude')

    const streamed = await client.send(
      new InvokeModelWithResponseStreamCommand({
        modelId: 'openai/gpt-4o-mini',
        contentType: 'application/json',
        body: JSON.stringify(body),
      }),
    )
    const events: { type: string; delta?: { text?: string } }[] = []
    for await (const e of streamed.body ?? [])
      if (e.chunk?.bytes) events.push(JSON.parse(new TextDecoder().decode(e.chunk.bytes)))
    expect(events[0].type).toBe('message_start')
    expect(events.at(-1)?.type).toBe('message_stop')
    expect(events.map((e) => e.delta?.text ?? '').join('')).toBe('Echo: hi claude')
  })

  it('embeds with a Titan body through InvokeModel', async () => {
    const res = await client.send(
      new InvokeModelCommand({
        modelId: 'amazon.titan-embed-text-v2:0',
        contentType: 'application/json',
        body: JSON.stringify({ inputText: 'embed me' }),
      }),
    )
    const out = JSON.parse(new TextDecoder().decode(res.body))
    expect(out.embedding).toHaveLength(4)
    expect(out.inputTextTokenCount).toBeGreaterThan(0)
    expect(bedrock.requests[0].body).toEqual({ inputText: 'embed me' })
  })

  it('raises the SDK’s exception classes: throttling, validation, bad input', async () => {
    const throttled = await client
      .send(
        new ConverseCommand({
          modelId: 'throttled-model',
          messages: [{ role: 'user', content: [{ text: 'x' }] }],
        }),
      )
      .catch((e: unknown) => e)
    expect(throttled).toBeInstanceOf(ThrottlingException)
    expect((throttled as ThrottlingException).$metadata.httpStatusCode).toBe(429)

    const alternating = await client
      .send(
        new ConverseCommand({
          modelId: CLAUDE,
          messages: [{ role: 'assistant', content: [{ text: 'I speak first' }] }],
        }),
      )
      .catch((e: unknown) => e)
    expect(alternating).toBeInstanceOf(ValidationException)
    expect((alternating as Error).message).toMatch(/start with a user message/)

    const empty = await client
      .send(new ConverseCommand({ modelId: CLAUDE, messages: [] }))
      .catch((e: unknown) => e)
    expect(empty).toBeInstanceOf(ValidationException)
    expect((empty as ValidationException).$metadata.httpStatusCode).toBe(400)

    const res = await fetch(`${gw.url}/bedrock/model/${CLAUDE}/converse`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"messages": [',
    })
    expect(res.status).toBe(400)
    expect(res.headers.get('x-amzn-errortype')).toBe('ValidationException')
    expect(await res.json()).toHaveProperty('message')

    const unsupported = await client
      .send(
        new InvokeModelCommand({
          modelId: CLAUDE,
          contentType: 'application/json',
          body: JSON.stringify({ prompt: 'x' }),
        }),
      )
      .catch((e: unknown) => e)
    expect(unsupported).toBeInstanceOf(ValidationException)
  })
})

describe('virtual keys on /bedrock', () => {
  let governed: RunningHeimdall
  beforeAll(async () => {
    governed = await startHeimdall({
      client: { enforce_auth_on_inference: true },
      providers: { openai: fakeProvider(openai.url) },
    })
  })
  afterAll(async () => governed?.close())

  it('refuses a call without a virtual key and serves one sent as x-bf-vk or as a Bedrock API key', async () => {
    const anonymous = bedrockCaller(`${governed.url}/bedrock`)
    const ask = new ConverseCommand({
      modelId: 'openai/gpt-4o-mini',
      messages: [{ role: 'user', content: [{ text: 'hi' }] }],
    })
    const refused = await anonymous.send(ask).catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(AccessDeniedException)
    expect((refused as AccessDeniedException).$metadata.httpStatusCode).toBe(401)

    const created = await fetch(`${governed.url}/api/governance/virtual-keys`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'bedrock-vk',
        provider_configs: [{ provider: 'openai', allowed_models: ['*'], key_ids: ['*'] }],
      }),
    })
    const vk = ((await created.json()) as { virtual_key: { value: string } }).virtual_key.value

    anonymous.middlewareStack.add(
      (next) => async (args) => {
        ;(args.request as { headers: Record<string, string> }).headers['x-bf-vk'] = vk
        return next(args)
      },
      { step: 'build' },
    )
    const viaHeader = await anonymous.send(ask)
    expect((viaHeader.output?.message?.content as ContentBlock[])[0].text).toBe('Echo: hi')
    anonymous.destroy()

    const bearer = new BedrockRuntimeClient({
      region: 'us-east-1',
      endpoint: `${governed.url}/bedrock`,
      token: { token: vk },
      authSchemePreference: ['httpBearerAuth'],
      maxAttempts: 1,
      requestHandler: new NodeHttpHandler(),
    })
    const viaToken = await bearer.send(ask)
    expect((viaToken.output?.message?.content as ContentBlock[])[0].text).toBe('Echo: hi')
    bearer.destroy()
    // The virtual key never reaches the provider.
    expect(
      openai.requests.every((r) => r.headers.authorization === 'Bearer sk-test' && !r.headers['x-bf-vk']),
    ).toBe(true)
  })
})
