import { describe, expect, it } from 'vitest'
import type { ChatChunk, ChatResponse, TextCompletionRequest, Usage } from '../schemas/index.js'
import type { ChatStreamItem } from '../provider-adapter.js'
import {
  chatResponseToTextCompletion,
  chatStreamToTextCompletion,
  textCompletionToChat,
} from './text-completion.js'
import { thrownGatewayError } from '../../../test/helpers/gateway-error.js'

const usage: Usage = { prompt_tokens: 4, completion_tokens: 3, total_tokens: 7 }

describe('textCompletionToChat', () => {
  it('turns the prompt into one user message and copies the shared parameters', () => {
    const shared = {
      max_tokens: 20,
      temperature: 0.5,
      top_p: 0.8,
      stop: ['\n'],
      stream: true,
      stream_options: { include_usage: true },
      n: 2,
      seed: 7,
      fallbacks: ['openai/gpt-4o-mini'],
    }
    const req: TextCompletionRequest & Record<string, unknown> = {
      model: 'claude',
      prompt: 'Once upon a time',
      ...shared,
      best_of: 3,
    }
    expect(textCompletionToChat(req)).toEqual({
      model: 'claude',
      messages: [{ role: 'user', content: 'Once upon a time' }],
      ...shared,
    })
  })

  it('accepts a one-element prompt list', () => {
    expect(textCompletionToChat({ model: 'm', prompt: ['only'] }).messages).toEqual([
      { role: 'user', content: 'only' },
    ])
  })

  it('refuses a batch of prompts, token-id prompts and suffix, which chat cannot serve', () => {
    const batch = thrownGatewayError(() => textCompletionToChat({ model: 'm', prompt: ['a', 'b'] }))
    expect(batch.code).toBe('unsupported_operation')
    expect(batch.param).toBe('prompt')
    expect(thrownGatewayError(() => textCompletionToChat({ model: 'm', prompt: [1, 2, 3] })).code).toBe(
      'unsupported_operation',
    )
    expect(
      thrownGatewayError(() => textCompletionToChat({ model: 'm', prompt: 'def f(', suffix: 'return x' }))
        .param,
    ).toBe('suffix')
  })
})

describe('chatResponseToTextCompletion', () => {
  it('gives a text_completion object with text choices and the usage', () => {
    const res: ChatResponse = {
      id: 'chatcmpl-t',
      object: 'chat.completion',
      created: 1700000000,
      model: 'claude',
      choices: [
        { index: 0, message: { role: 'assistant', content: ' there was' }, finish_reason: 'length' },
        { index: 1, message: { role: 'assistant', content: null }, finish_reason: 'stop' },
      ],
      usage,
    }
    expect(chatResponseToTextCompletion(res)).toEqual({
      id: 'chatcmpl-t',
      object: 'text_completion',
      created: 1700000000,
      model: 'claude',
      choices: [
        { index: 0, text: ' there was', finish_reason: 'length', logprobs: null },
        { index: 1, text: '', finish_reason: 'stop', logprobs: null },
      ],
      usage,
    })
  })
})

describe('chatStreamToTextCompletion', () => {
  function chunk(content: string | undefined, finish: string | null = null): ChatChunk {
    return {
      id: 'chatcmpl-s',
      object: 'chat.completion.chunk',
      created: 1,
      model: 'm',
      choices: [{ index: 0, delta: content === undefined ? {} : { content }, finish_reason: finish }],
    }
  }

  async function collect(items: ChatStreamItem[]): Promise<ChatStreamItem[]> {
    async function* source() {
      yield* items
    }
    const out: ChatStreamItem[] = []
    for await (const item of chatStreamToTextCompletion(source())) out.push(item)
    return out
  }

  it('yields text_completion chunks, skips the role announcement and passes usage through', async () => {
    const usageChunk: ChatChunk = {
      id: 'chatcmpl-s',
      object: 'chat.completion.chunk',
      created: 1,
      model: 'm',
      choices: [],
      usage,
    }
    const out = await collect([
      {
        data: JSON.stringify({
          ...chunk(''),
          choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }],
        }),
      },
      { data: JSON.stringify(chunk(' there')) },
      { chunk: chunk(undefined, 'stop') },
      { data: JSON.stringify(usageChunk), usage, usageOnly: true },
    ])
    expect(out).toEqual([
      {
        chunk: {
          id: 'chatcmpl-s',
          object: 'text_completion',
          created: 1,
          model: 'm',
          choices: [{ index: 0, text: ' there', finish_reason: null, logprobs: null }],
        },
      },
      {
        chunk: {
          id: 'chatcmpl-s',
          object: 'text_completion',
          created: 1,
          model: 'm',
          choices: [{ index: 0, text: '', finish_reason: 'stop', logprobs: null }],
        },
      },
      {
        chunk: { id: 'chatcmpl-s', object: 'text_completion', created: 1, model: 'm', choices: [], usage },
        usage,
        usageOnly: true,
      },
    ])
    expect(out.every((i) => i.data === undefined)).toBe(true)
  })
})
