import {
  BedrockRuntimeClient,
  InvokeModelCommand,
  InvokeModelWithResponseStreamCommand,
  ValidationException,
} from '@aws-sdk/client-bedrock-runtime'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { startFakeAnthropic } from './fakes/anthropic.js'
import { startFakeBedrock } from './fakes/bedrock.js'
import { startFakeOpenAI } from './fakes/openai.js'
import type { FakeServer } from './fakes/server.js'
import { fakeBedrockProvider, fakeProvider, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'
import { bedrockCaller } from './helpers/bedrock-caller.js'

/**
 * InvokeModel and InvokeModelWithResponseStream through `/bedrock` with each model family's native
 * body (Llama, Mistral text and chat, Titan Text, Nova, Cohere Command R), sent by the AWS SDK to
 * OpenAI, Anthropic and Bedrock targets and answered in that family's own shape, with Bedrock's
 * invocation metrics in the last stream chunk; malformed bodies are a ValidationException.
 */
const CREDS = { accessKeyId: 'AKIAUPSTREAM', secretAccessKey: 'upstream-secret' }
const GPT = 'openai/gpt-4o-mini'
const CLAUDE = 'anthropic/claude-3-5-haiku-latest'
const LLAMA_PROFILE = 'us.meta.llama3-1-8b-instruct-v1:0'
const LLAMA_ARN = `arn:aws:bedrock:us-east-1:123456789012:inference-profile/${LLAMA_PROFILE}`

let bedrock: FakeServer
let openai: FakeServer
let anthropic: FakeServer
let gw: RunningHeimdall
let client: BedrockRuntimeClient

beforeAll(async () => {
  ;[bedrock, openai, anthropic] = await Promise.all([
    startFakeBedrock([CREDS]),
    startFakeOpenAI(),
    startFakeAnthropic(),
  ])
  gw = await startHeimdall({
    providers: {
      bedrock: fakeBedrockProvider(bedrock.url, CREDS),
      openai: fakeProvider(openai.url),
      anthropic: fakeProvider(anthropic.url),
    },
  })
  client = bedrockCaller(`${gw.url}/bedrock`)
})
afterAll(async () => {
  client?.destroy()
  await gw?.close()
  await Promise.all([bedrock?.close(), openai?.close(), anthropic?.close()])
})
beforeEach(() => {
  bedrock.reset()
  openai.reset()
  anthropic.reset()
})

type Json = Record<string, any>

async function invoke(modelId: string, body: unknown): Promise<{ out: Json; headers: Json }> {
  const res = await client.send(
    new InvokeModelCommand({ modelId, contentType: 'application/json', body: JSON.stringify(body) }),
  )
  return { out: JSON.parse(new TextDecoder().decode(res.body)), headers: res.$metadata }
}

async function invokeStream(modelId: string, body: unknown): Promise<Json[]> {
  const res = await client.send(
    new InvokeModelWithResponseStreamCommand({
      modelId,
      contentType: 'application/json',
      body: JSON.stringify(body),
    }),
  )
  const chunks: Json[] = []
  for await (const e of res.body ?? [])
    if (e.chunk?.bytes) chunks.push(JSON.parse(new TextDecoder().decode(e.chunk.bytes)))
  return chunks
}

const METRICS = 'amazon-bedrock-invocationMetrics'

/** Bedrock's metrics ride on the last chunk only, with the stream's token counts. */
function expectMetricsLast(chunks: Json[]): Json {
  expect(chunks.slice(0, -1).some((c) => METRICS in c)).toBe(false)
  const metrics = chunks.at(-1)![METRICS]
  expect(metrics.inputTokenCount).toBeGreaterThan(0)
  expect(metrics.outputTokenCount).toBeGreaterThan(0)
  expect(metrics.invocationLatency).toBeGreaterThanOrEqual(metrics.firstByteLatency)
  return metrics
}

describe('Meta Llama bodies', () => {
  const prompt =
    '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>' +
    '<|start_header_id|>user<|end_header_id|>\n\nhi llama<|eot_id|>' +
    '<|start_header_id|>assistant<|end_header_id|>\n\n'

  it('go to an OpenAI model as chat turns and come back as generation with token counts', async () => {
    const { out } = await invoke(GPT, { prompt, max_gen_len: 64, temperature: 0.3, top_p: 0.8 })
    expect(out).toEqual({
      generation: 'Echo: hi llama',
      prompt_token_count: expect.any(Number),
      generation_token_count: expect.any(Number),
      stop_reason: 'stop',
    })
    expect(out.prompt_token_count).toBeGreaterThan(0)
    const sent = openai.requests[0].body
    expect(sent.messages).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'hi llama' },
    ])
    expect(sent).toMatchObject({ model: 'gpt-4o-mini', temperature: 0.3, top_p: 0.8 })
    expect(sent.max_tokens ?? sent.max_completion_tokens).toBe(64)
  })

  it('stream as generation chunks with stop_reason and the metrics in the last', async () => {
    const chunks = await invokeStream(GPT, { prompt, max_gen_len: 64 })
    expect(chunks.map((c) => c.generation).join('')).toBe('Echo: hi llama')
    expect(chunks[0].stop_reason).toBeNull()
    const last = chunks.at(-1)!
    expect(last.stop_reason).toBe('stop')
    const metrics = expectMetricsLast(chunks)
    expect(last.prompt_token_count).toBe(metrics.inputTokenCount)
    expect(last.generation_token_count).toBe(metrics.outputTokenCount)
  })

  it('reach Bedrock through Converse by inference profile id and by inference-profile ARN', async () => {
    const { out } = await invoke(LLAMA_PROFILE, { prompt: 'hi bedrock', max_gen_len: 20 })
    expect(out.generation).toBe('Bedrock echo: hi bedrock')
    expect(bedrock.requests[0].path).toBe(`/model/${encodeURIComponent(LLAMA_PROFILE)}/converse`)
    expect(bedrock.requests[0].body).toMatchObject({
      messages: [{ role: 'user', content: [{ text: 'hi bedrock' }] }],
      inferenceConfig: { maxTokens: 20 },
    })

    const chunks = await invokeStream(LLAMA_ARN, { prompt: 'via arn' })
    expect(chunks.map((c) => c.generation).join('')).toBe('Bedrock echo: via arn')
    expect(bedrock.requests[1].path).toBe(`/model/${encodeURIComponent(LLAMA_ARN)}/converse-stream`)
    expectMetricsLast(chunks)
  })
})

describe('Mistral bodies', () => {
  it('text completion: an [INST] prompt to Claude answers outputs[{text, stop_reason}]', async () => {
    const { out } = await invoke(CLAUDE, { prompt: '<s>[INST] hi mistral [/INST]', max_tokens: 100 })
    expect(out).toEqual({ outputs: [{ text: 'Echo: hi mistral', stop_reason: 'stop' }] })
    const sent = anthropic.requests[0].body.messages
    expect(sent).toHaveLength(1)
    expect(JSON.stringify(sent)).toContain('"hi mistral"')

    const chunks = await invokeStream(CLAUDE, { prompt: '<s>[INST] hi again [/INST]', max_tokens: 100 })
    expect(chunks.map((c) => c.outputs[0].text).join('')).toBe('Echo: hi again')
    expect(chunks.at(-1)!.outputs[0].stop_reason).toBe('stop')
    expectMetricsLast(chunks)
  })

  it('chat: Mistral Large 2 messages with a tool, answered as choices, then the tool result', async () => {
    const tools = [
      {
        type: 'function',
        function: {
          name: 'get_weather',
          description: 'Weather for a city',
          parameters: { type: 'object', properties: { city: { type: 'string' } } },
        },
      },
    ]
    const ask = { role: 'user', content: 'weather in Paris?' }
    const { out } = await invoke(GPT, { messages: [ask], tools, tool_choice: 'any', max_tokens: 50 })
    const choice = out.choices[0]
    expect(choice.stop_reason).toBe('tool_calls')
    expect(choice.message.tool_calls[0].function.name).toBe('get_weather')
    expect(out.usage.total_tokens).toBe(out.usage.prompt_tokens + out.usage.completion_tokens)
    expect(openai.requests[0].body.tool_choice).toBe('required')

    const call = choice.message.tool_calls[0]
    const next = await invoke(GPT, {
      messages: [
        ask,
        { role: 'assistant', content: '', tool_calls: [call] },
        { role: 'tool', tool_call_id: call.id, content: 'sunny' },
      ],
      tools,
    })
    expect(next.out.choices[0]).toMatchObject({
      message: { role: 'assistant', content: 'Tool said: sunny' },
      stop_reason: 'stop',
    })
    expect(openai.requests[1].body.messages[2]).toMatchObject({ role: 'tool', tool_call_id: call.id })
  })

  it('chat streams text in choices[0].message.content and usage with the metrics last', async () => {
    const chunks = await invokeStream(GPT, {
      messages: [{ role: 'user', content: 'hi there' }],
    })
    expect(chunks[0]).toMatchObject({ object: 'chat.completion.chunk' })
    expect(chunks.map((c) => c.choices[0].message.content).join('')).toBe('Echo: hi there')
    expect(chunks.at(-1)!.choices[0].stop_reason).toBe('stop')
    expect(chunks.at(-1)!.usage.completion_tokens).toBe(expectMetricsLast(chunks).outputTokenCount)
  }, 10_000)
})

describe('Amazon Titan Text bodies', () => {
  it('answer results[{outputText, tokenCount, completionReason}], LENGTH when cut short', async () => {
    const { out } = await invoke(CLAUDE, {
      inputText: 'User: hi titan\nBot:',
      textGenerationConfig: { maxTokenCount: 100, temperature: 0 },
    })
    expect(out.results).toEqual([
      { outputText: 'Echo: hi titan', tokenCount: expect.any(Number), completionReason: 'FINISH' },
    ])
    expect(out.inputTextTokenCount).toBeGreaterThan(0)
    expect(anthropic.requests[0].body).toMatchObject({ max_tokens: 100, temperature: 0 })

    const cut = await invoke(CLAUDE, {
      inputText: 'a much longer question for titan',
      textGenerationConfig: { maxTokenCount: 2 },
    })
    expect(cut.out.results[0].completionReason).toBe('LENGTH')
  })

  it('stream outputText chunks with the counts and completionReason last', async () => {
    const chunks = await invokeStream(GPT, { inputText: 'hi stream', textGenerationConfig: {} })
    expect(chunks.map((c) => c.outputText).join('')).toBe('Echo: hi stream')
    const last = chunks.at(-1)!
    expect(last.completionReason).toBe('FINISH')
    expect(last.inputTextTokenCount).toBe(expectMetricsLast(chunks).inputTokenCount)
  })
})

describe('Amazon Nova bodies', () => {
  const body = {
    schemaVersion: 'messages-v1',
    system: [{ text: 'Be brief.' }],
    messages: [{ role: 'user', content: [{ text: 'hi nova' }] }],
    inferenceConfig: { max_new_tokens: 80, top_p: 0.9 },
  }

  it('answer output.message, stopReason and usage from an OpenAI model', async () => {
    const { out } = await invoke(GPT, body)
    expect(out.output.message).toEqual({ role: 'assistant', content: [{ text: 'Echo: hi nova' }] })
    expect(out.stopReason).toBe('end_turn')
    expect(out.usage.totalTokens).toBe(out.usage.inputTokens + out.usage.outputTokens)
    expect(openai.requests[0].body).toMatchObject({ top_p: 0.9 })
    expect(openai.requests[0].body.messages[0]).toMatchObject({ role: 'system' })
  })

  it('stream one Converse event per chunk, the metadata and metrics last', async () => {
    const chunks = await invokeStream(CLAUDE, body)
    expect(chunks[0]).toEqual({ messageStart: { role: 'assistant' } })
    const text = chunks.map((c) => c.contentBlockDelta?.delta?.text ?? '').join('')
    expect(text).toBe('Echo: hi nova')
    expect(chunks.find((c) => c.messageStop)?.messageStop.stopReason).toBe('end_turn')
    expect(chunks.at(-1)!.metadata.usage.inputTokens).toBeGreaterThan(0)
    expectMetricsLast(chunks)
  })
})

describe('Cohere Command R bodies', () => {
  it('answer text, finish_reason and the chat history with the new turn', async () => {
    const history = [
      { role: 'USER', message: 'hello' },
      { role: 'CHATBOT', message: 'Hi! How can I help?' },
    ]
    const { out } = await invoke(CLAUDE, {
      message: 'hi cohere',
      chat_history: history,
      preamble: 'Be brief.',
      max_tokens: 100,
      p: 0.5,
    })
    expect(out).toMatchObject({ text: 'Echo: hi cohere', finish_reason: 'COMPLETE' })
    expect(out.chat_history).toEqual([
      ...history,
      { role: 'USER', message: 'hi cohere' },
      { role: 'CHATBOT', message: 'Echo: hi cohere' },
    ])
    expect(out.meta.billed_units.input_tokens).toBeGreaterThan(0)
    const sent = anthropic.requests[0].body
    expect(sent.system).toBeDefined()
    expect(sent.messages).toHaveLength(3)
    expect(sent.top_p).toBe(0.5)
  })

  it('stream stream-start, text-generation and stream-end with the response', async () => {
    const chunks = await invokeStream(GPT, { message: 'hi stream' })
    expect(chunks[0]).toMatchObject({ is_finished: false, event_type: 'stream-start' })
    const texts = chunks.filter((c) => c.event_type === 'text-generation').map((c) => c.text)
    expect(texts.join('')).toBe('Echo: hi stream')
    expect(chunks.at(-1)).toMatchObject({
      is_finished: true,
      event_type: 'stream-end',
      finish_reason: 'COMPLETE',
      response: { text: 'Echo: hi stream' },
    })
    expectMetricsLast(chunks)
  })
})

it('adds the metrics to an Anthropic stream’s message_stop, as Bedrock does', async () => {
  const chunks = await invokeStream(GPT, {
    anthropic_version: 'bedrock-2023-05-31',
    max_tokens: 50,
    messages: [{ role: 'user', content: 'hi claude' }],
  })
  expect(chunks.at(-1)!.type).toBe('message_stop')
  expectMetricsLast(chunks)
})

describe('malformed InvokeModel bodies', () => {
  async function refused(modelId: string, body: unknown, stream = false): Promise<ValidationException> {
    const command = stream
      ? new InvokeModelWithResponseStreamCommand({
          modelId,
          contentType: 'application/json',
          body: JSON.stringify(body),
        })
      : new InvokeModelCommand({ modelId, contentType: 'application/json', body: JSON.stringify(body) })
    const err = await client.send(command as InvokeModelCommand).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ValidationException)
    expect((err as ValidationException).$metadata.httpStatusCode).toBe(400)
    return err as ValidationException
  }

  it('are a ValidationException naming the problem, streamed or not, and reach no provider', async () => {
    expect((await refused(GPT, { prompt: 'x', max_gen_len: 'lots' })).message).toMatch(/max_gen_len/)
    expect((await refused(LLAMA_PROFILE, { prompt: '' }, true)).message).toMatch(/prompt/)
    expect((await refused(GPT, { messages: [{ role: 'robot', content: 'x' }] })).message).toMatch(/role/)
    expect((await refused(GPT, { inputText: 'x', textGenerationConfig: 'hot' })).message).toMatch(
      /textGenerationConfig/,
    )
    expect((await refused(GPT, { message: 'x', chat_history: [{ role: 'ALIEN' }] })).message).toMatch(
      /chat_history/,
    )
    expect((await refused(GPT, { taskType: 'TEXT_IMAGE' })).message).toMatch(/unsupported InvokeModel body/)
    await refused('amazon.titan-embed-text-v2:0', { inputText: 'x' }, true)
    await refused('amazon.titan-embed-text-v2:0', { inputText: 42 })
    // A list where Converse-style blocks need one: refused, not a 500.
    await refused(GPT, {
      schemaVersion: 'messages-v1',
      messages: [{ role: 'user', content: [{ toolResult: { toolUseId: 't', content: 'not a list' } }] }],
    })
    expect(openai.requests).toHaveLength(0)
    expect(bedrock.requests).toHaveLength(0)
  })
})
