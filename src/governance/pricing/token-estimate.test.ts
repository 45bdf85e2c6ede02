import { describe, expect, it } from 'vitest'
import {
  ATTACHMENT_TOKENS,
  countTextTokens,
  DEFAULT_COMPLETION_TOKENS,
  estimateTokens,
  estimateUsageFromText,
} from './token-estimate.js'

const text = (n: number, ch = 'a') => ch.repeat(n)

describe('countTextTokens', () => {
  it('counts about four ASCII characters a token, rounding up', () => {
    expect(countTextTokens('')).toBe(0)
    expect(countTextTokens(text(400))).toBe(100)
    expect(countTextTokens(text(401))).toBe(101)
  })

  it('counts other alphabets at two characters and CJK and emoji at one', () => {
    expect(countTextTokens('привет')).toBe(3)
    expect(countTextTokens('你好世界')).toBe(4)
    expect(countTextTokens('😀😀')).toBe(2)
  })
})

describe('estimateTokens', () => {
  it('reads a chat request: every text, a small overhead per message, the max completion', () => {
    const est = estimateTokens({
      messages: [
        { role: 'system', content: text(400) },
        { role: 'user', content: [{ type: 'text', text: text(800) }] },
      ],
      max_tokens: 100,
    })
    // 100 + 200 of text, "system" 2 + "user" 1 + "text" 1, 2 messages × 4 + 3.
    expect(est).toEqual({ prompt: 315, completion: 100 })
  })

  it('counts tool calls, tool results and tool schemas', () => {
    const bare = estimateTokens({ messages: [{ role: 'user', content: 'hi' }] }).prompt
    const tools = [
      {
        type: 'function',
        function: {
          name: 'get_weather',
          parameters: { type: 'object', properties: { city: { type: 'string' } } },
        },
      },
    ]
    expect(estimateTokens({ messages: [{ role: 'user', content: 'hi' }], tools }).prompt).toBe(
      bare + Math.ceil(JSON.stringify(tools).length / 4),
    )
    const withCall = estimateTokens({
      messages: [
        { role: 'user', content: 'hi' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: text(400) } }],
        },
        { role: 'tool', tool_call_id: 'c', content: text(400) },
      ],
    }).prompt
    expect(withCall).toBeGreaterThan(bare + 200)
  })

  it('prefers max_completion_tokens, then max_tokens, then max_output_tokens, then the default', () => {
    const messages = [{ role: 'user', content: 'hi' }]
    expect(estimateTokens({ messages, max_tokens: 10, max_completion_tokens: 20 }).completion).toBe(20)
    expect(estimateTokens({ messages, max_tokens: 10, max_completion_tokens: null }).completion).toBe(10)
    expect(estimateTokens({ messages, max_output_tokens: 30 }).completion).toBe(30)
    expect(estimateTokens({ messages }).completion).toBe(DEFAULT_COMPLETION_TOKENS)
    expect(DEFAULT_COMPLETION_TOKENS).toBe(1024)
    expect(estimateTokens({ messages, max_tokens: 0 }).completion).toBe(0)
  })

  it('multiplies the completion by n', () => {
    expect(
      estimateTokens({ messages: [{ role: 'user', content: 'hi' }], max_tokens: 50, n: 3 }).completion,
    ).toBe(150)
  })

  it('reads a Responses request: input items, instructions, max_output_tokens', () => {
    const est = estimateTokens({
      input: [{ role: 'user', content: [{ type: 'input_text', text: text(400) }] }],
      instructions: text(40),
      max_output_tokens: 300,
    })
    // 100 + "user" 1 + "input_text" 3, one item × 4 + 3, instructions 10.
    expect(est).toEqual({ prompt: 121, completion: 300 })
    expect(estimateTokens({ input: text(40) })).toEqual({ prompt: 10, completion: DEFAULT_COMPLETION_TOKENS })
  })

  it('reads a completions request, batched prompts and token-id prompts', () => {
    expect(estimateTokens({ prompt: text(400) })).toEqual({
      prompt: 100,
      completion: DEFAULT_COMPLETION_TOKENS,
    })
    expect(estimateTokens({ prompt: [text(40), text(40)], max_tokens: 50 })).toEqual({
      prompt: 20,
      completion: 100,
    })
    expect(estimateTokens({ prompt: [1, 2, 3], max_tokens: 5 })).toEqual({ prompt: 3, completion: 5 })
    expect(estimateTokens({ prompt: [[1, 2], [3]], max_tokens: 5 })).toEqual({ prompt: 3, completion: 10 })
  })

  it('lets embeddings ask for no completion', () => {
    expect(estimateTokens({ input: [text(40), text(80)] }, { defaultCompletion: 0 })).toEqual({
      prompt: 30,
      completion: 0,
    })
  })

  it('counts an attachment at a flat amount, not by its base64 size', () => {
    const image = { type: 'image_url', image_url: { url: `data:image/png;base64,${text(1_000_000, 'A')}` } }
    const est = estimateTokens({ messages: [{ role: 'user', content: [image] }] })
    expect(est.prompt).toBe(1 + ATTACHMENT_TOKENS + 4 + 3)
    const inputImage = { type: 'input_image', image_url: `data:image/png;base64,${text(100_000, 'A')}` }
    expect(estimateTokens({ input: [{ role: 'user', content: [inputImage] }] }).prompt).toBe(
      1 + ATTACHMENT_TOKENS + 7,
    )
  })

  it('returns zero for an empty request', () => {
    expect(estimateTokens({})).toEqual({ prompt: 0, completion: DEFAULT_COMPLETION_TOKENS })
  })
})

describe('estimateUsageFromText', () => {
  it('makes usage from what was sent and streamed', () => {
    expect(estimateUsageFromText(text(40), text(80))).toEqual({
      prompt_tokens: 10,
      completion_tokens: 20,
      total_tokens: 30,
    })
  })
})
