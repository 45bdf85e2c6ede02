import { describe, expect, it } from 'vitest'
import type { ChatDelta, FinishReason } from '../../core/schemas/index.js'
import type { ChatStreamItem } from '../../core/provider-adapter.js'
import { deltaChunk } from '../../providers/chat-chunk.js'
import { INVOCATION_METRICS, StreamMeter } from './invocation-metrics.js'
import { detectInvokeFamily, INVOKE_EXCHANGES } from './invoke-family.js'
import { chatCompletion } from '../../../test/helpers/chat-completion.js'

describe('detectInvokeFamily', () => {
  const LLAMA = 'us.meta.llama3-1-8b-instruct-v1:0'
  it.each([
    [{ anthropic_version: 'bedrock-2023-05-31', messages: [] }, 'openai/gpt-4o', 'anthropic'],
    [{ prompt: 'hi', max_gen_len: 10 }, 'openai/gpt-4o', 'llama'],
    [{ prompt: 'hi', max_tokens: 10 }, 'openai/gpt-4o', 'mistral'],
    [{ prompt: 'hi', max_tokens: 10 }, LLAMA, 'llama'],
    [{ prompt: 'hi' }, `arn:aws:bedrock:us-east-1:1:inference-profile/${LLAMA}`, 'llama'],
    [{ prompt: 'hi' }, 'mistral.mistral-7b-instruct-v0:2', 'mistral'],
    [{ messages: [{ role: 'user', content: 'hi' }] }, 'mistral.mistral-large-2407-v1:0', 'mistral-chat'],
    [{ messages: [{ role: 'user', content: 'hi' }] }, 'openai/gpt-4o', 'mistral-chat'],
    [{ messages: [{ role: 'user', content: [{ text: 'hi' }] }] }, 'openai/gpt-4o', 'nova'],
    [{ schemaVersion: 'messages-v1', messages: [] }, 'openai/gpt-4o', 'nova'],
    [{ messages: [{ role: 'user', content: 'hi' }] }, 'us.amazon.nova-lite-v1:0', 'nova'],
    [{ messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }] }, 'openai/gpt-4o', 'anthropic'],
    [{ inputText: 'hi', textGenerationConfig: {} }, 'openai/gpt-4o', 'titan-text'],
    [{ inputText: 'hi' }, 'amazon.titan-text-express-v1', 'titan-text'],
    [{ inputText: 'hi' }, 'amazon.titan-embed-text-v2:0', 'titan-embedding'],
    [{ texts: ['hi'] }, 'cohere.embed-english-v3', 'cohere-embedding'],
    [{ message: 'hi', chat_history: [] }, 'openai/gpt-4o', 'cohere-command'],
  ])('reads %j for %s as %s', (body, model, family) => {
    expect(detectInvokeFamily(body, model)).toBe(family)
  })

  it('leaves bodies it cannot serve undecided', () => {
    expect(detectInvokeFamily({ prompt: 'hi' }, 'cohere.command-text-v14')).toBeUndefined()
    expect(
      detectInvokeFamily({ prompt: '\n\nHuman: hi', max_tokens_to_sample: 9 }, 'anthropic.claude-v2'),
    ).toBeUndefined()
    expect(detectInvokeFamily({ taskType: 'TEXT_IMAGE' }, 'amazon.nova-canvas-v1:0')).toBeUndefined()
  })
})

const chunk = (delta: ChatDelta, finish: FinishReason | null = null): ChatStreamItem =>
  deltaChunk('chatcmpl-1', 0, 'm', delta, finish)

const USAGE = { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 }

async function native(
  family: keyof typeof INVOKE_EXCHANGES,
  body: Record<string, unknown>,
  items: ChatStreamItem[],
): Promise<Record<string, unknown>[]> {
  async function* gen() {
    yield* items
  }
  const exchange = INVOKE_EXCHANGES[family](body, 'openai/gpt-4o')
  const meter = new StreamMeter(Date.now())
  const out: Record<string, unknown>[] = []
  for await (const e of exchange.stream(meter.observe(gen()), meter)) out.push(e as Record<string, unknown>)
  return out
}

const TEXT_STREAM: ChatStreamItem[] = [
  chunk({ role: 'assistant', content: 'Hel' }),
  chunk({ content: 'lo' }),
  chunk({}, 'length'),
  { ...chunk({}), chunk: { ...chunk({}).chunk!, choices: [], usage: USAGE }, usage: USAGE, usageOnly: true },
]

describe('native stream chunks', () => {
  it('Llama: generation pieces, then stop_reason and counts with the invocation metrics last', async () => {
    const out = await native('llama', { prompt: 'hi' }, TEXT_STREAM)
    expect(out.map((c) => c.generation).join('')).toBe('Hello')
    expect(out[0].stop_reason).toBeNull()
    const last = out.at(-1)!
    expect(last).toMatchObject({ stop_reason: 'length', prompt_token_count: 7, generation_token_count: 3 })
    expect(last[INVOCATION_METRICS]).toMatchObject({ inputTokenCount: 7, outputTokenCount: 3 })
    expect(out.slice(0, -1).every((c) => !(INVOCATION_METRICS in c))).toBe(true)
  })

  it('Titan: outputText pieces, the counts and LENGTH in the last chunk', async () => {
    const out = await native('titan-text', { inputText: 'User: hi\nBot:' }, TEXT_STREAM)
    expect(out.map((c) => c.outputText).join('')).toBe('Hello')
    expect(out.at(-1)).toMatchObject({
      completionReason: 'LENGTH',
      inputTextTokenCount: 7,
      totalOutputTextTokenCount: 3,
    })
  })

  it('Mistral chat: text in choices[0].message, the tool calls assembled in the last chunk', async () => {
    const out = await native('mistral-chat', { messages: [{ role: 'user', content: 'weather?' }] }, [
      chunk({ tool_calls: [{ index: 0, id: 'call_1', function: { name: 'weather', arguments: '{"ci' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: 'ty":"Oslo"}' } }] }),
      chunk({}, 'tool_calls'),
    ])
    const last = out.at(-1) as { choices: { message: { tool_calls: unknown[] }; stop_reason: string }[] }
    expect(last.choices[0].stop_reason).toBe('tool_calls')
    expect(last.choices[0].message.tool_calls).toEqual([
      { id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Oslo"}' } },
    ])
  })

  it('Cohere Command R: stream-start, text-generation, stream-end with the whole response', async () => {
    const out = await native('cohere-command', { message: 'hi' }, TEXT_STREAM)
    expect(out.map((c) => c.event_type)).toEqual([
      'stream-start',
      'text-generation',
      'text-generation',
      'stream-end',
    ])
    expect(out.at(-1)).toMatchObject({
      is_finished: true,
      finish_reason: 'MAX_TOKENS',
      response: { text: 'Hello', meta: { billed_units: { input_tokens: 7, output_tokens: 3 } } },
    })
  })
})

describe('native answers', () => {
  const res = chatCompletion({ content: 'Paris.' }, { id: 'chatcmpl-9', created: 0, usage: USAGE })

  it('maps sampling settings in and the answer out for each family', () => {
    const llama = INVOKE_EXCHANGES.llama({ prompt: 'hi', max_gen_len: 64, temperature: 0.2, top_p: 0.9 }, 'm')
    expect(llama.request).toMatchObject({ max_tokens: 64, temperature: 0.2, top_p: 0.9 })
    expect(llama.respond(res)).toEqual({
      generation: 'Paris.',
      prompt_token_count: 7,
      generation_token_count: 3,
      stop_reason: 'stop',
    })
    const titan = INVOKE_EXCHANGES['titan-text'](
      { inputText: 'hi', textGenerationConfig: { maxTokenCount: 32, stopSequences: ['User:'] } },
      'm',
    )
    expect(titan.request).toMatchObject({ max_tokens: 32, stop: ['User:'] })
    expect(titan.respond(res)).toEqual({
      inputTextTokenCount: 7,
      results: [{ tokenCount: 3, outputText: 'Paris.', completionReason: 'FINISH' }],
    })
    const nova = INVOKE_EXCHANGES.nova(
      {
        schemaVersion: 'messages-v1',
        system: [{ text: 'Be brief.' }],
        messages: [{ role: 'user', content: [{ text: 'hi' }] }],
        inferenceConfig: { max_new_tokens: 50, top_p: 0.5 },
      },
      'm',
    )
    expect(nova.request).toMatchObject({ max_tokens: 50, top_p: 0.5 })
    expect(nova.request.messages[0]).toMatchObject({ role: 'system' })
    expect(nova.respond(res)).toEqual({
      output: { message: { role: 'assistant', content: [{ text: 'Paris.' }] } },
      stopReason: 'end_turn',
      usage: { inputTokens: 7, outputTokens: 3, totalTokens: 10 },
    })
  })

  it('turns Cohere tool results into a call and its result for the unified request', () => {
    const cohere = INVOKE_EXCHANGES['cohere-command'](
      {
        message: '',
        chat_history: [{ role: 'USER', message: 'weather in Oslo?' }],
        tools: [
          {
            name: 'weather',
            description: 'Weather for a city',
            parameter_definitions: { city: { type: 'str', description: 'The city', required: true } },
          },
        ],
        tool_results: [
          { call: { name: 'weather', parameters: { city: 'Oslo' } }, outputs: [{ sky: 'clear' }] },
        ],
      },
      'm',
    )
    expect(cohere.request.tools?.[0].function?.parameters).toEqual({
      type: 'object',
      properties: { city: { type: 'string', description: 'The city' } },
      required: ['city'],
    })
    expect(cohere.request.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'tool'])
    expect(cohere.request.messages[2]).toMatchObject({
      tool_call_id: cohere.request.messages[1].tool_calls?.[0].id,
      content: '[{"sky":"clear"}]',
    })
  })

  it('refuses malformed fields with a 400 that names the field', () => {
    const bad = (f: () => unknown) => {
      try {
        f()
      } catch (e) {
        return e as { status: number; param?: string }
      }
      throw new Error('expected a refusal')
    }
    expect(bad(() => INVOKE_EXCHANGES.llama({ prompt: '' }, 'm'))).toMatchObject({
      status: 400,
      param: 'prompt',
    })
    expect(bad(() => INVOKE_EXCHANGES.llama({ prompt: 'x', max_gen_len: 'many' }, 'm'))).toMatchObject({
      param: 'max_gen_len',
    })
    expect(
      bad(() => INVOKE_EXCHANGES['mistral-chat']({ messages: [{ role: 'robot', content: 'x' }] }, 'm')),
    ).toMatchObject({ status: 400, param: 'messages.0.role' })
    expect(
      bad(() => INVOKE_EXCHANGES['cohere-command']({ message: 'x', chat_history: 'no' }, 'm')),
    ).toMatchObject({ param: 'chat_history' })
  })
})
