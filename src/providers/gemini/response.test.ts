import { describe, expect, it } from 'vitest'
import { GEMINI_REASONING_FORMAT } from './request.js'
import { fromGeminiResponse, toFinishReason, toUsage, type GeminiResponse } from './response.js'
import { chatCompletion, usageOf } from '../../../test/helpers/chat-completion.js'

const answer = (
  parts: any[],
  finishReason = 'STOP',
  extra: Partial<GeminiResponse> = {},
): GeminiResponse => ({
  candidates: [{ content: { role: 'model', parts }, finishReason, index: 0 }],
  usageMetadata: { promptTokenCount: 10, candidatesTokenCount: 5, totalTokenCount: 15 },
  modelVersion: 'gemini-2.5-flash',
  responseId: 'resp-1',
  ...extra,
})

describe('fromGeminiResponse', () => {
  it('concatenates text parts into the content', () => {
    const res = fromGeminiResponse(
      answer([{ text: 'Hello, ' }, { text: 'world' }]),
      'gemini-2.5-flash',
      'gemini',
    )
    const fields = { id: 'resp-1', created: res.created, model: 'gemini-2.5-flash', usage: usageOf(10, 5) }
    expect(res).toMatchObject(chatCompletion({ content: 'Hello, world' }, fields))
  })

  it('turns function calls into tool calls with distinct ids, full arguments and the signature', () => {
    const res = fromGeminiResponse(
      answer([
        { functionCall: { name: 'get_weather', args: { city: 'Paris' } }, thoughtSignature: 'SIG' },
        { functionCall: { name: 'get_weather', args: { city: 'Tokyo' } } },
      ]),
      'm',
      'gemini',
    )
    const choice = res.choices[0]
    expect(choice.finish_reason).toBe('tool_calls')
    expect(choice.message.content).toBeNull()
    const calls = choice.message.tool_calls!
    expect(calls.map((c) => c.function)).toEqual([
      { name: 'get_weather', arguments: '{"city":"Paris"}' },
      { name: 'get_weather', arguments: '{"city":"Tokyo"}' },
    ])
    expect(calls[0].id).toMatch(/^call_0_[0-9a-f]+$/)
    expect(calls[1].id).toMatch(/^call_1_[0-9a-f]+$/)
    expect(calls[0].extra_content).toEqual({ google: { thought_signature: 'SIG' } })
    expect(calls[1].extra_content).toBeUndefined()
  })

  it('keeps the id Gemini gives a function call', () => {
    const res = fromGeminiResponse(
      answer([{ functionCall: { id: 'fc-9', name: 'f', args: {} } }]),
      'm',
      'gemini',
    )
    expect(res.choices[0].message.tool_calls![0].id).toBe('fc-9')
  })

  it('turns thought parts into reasoning and signed reasoning details', () => {
    const res = fromGeminiResponse(
      answer([
        { text: 'Let me think.', thought: true, thoughtSignature: 'TSIG' },
        { text: 'Answer.', thoughtSignature: 'ASIG' },
      ]),
      'm',
      'gemini',
    )
    const message = res.choices[0].message
    expect(message.content).toBe('Answer.')
    expect(message.reasoning).toBe('Let me think.')
    expect(message.reasoning_details).toEqual([
      {
        type: 'reasoning.text',
        index: 0,
        text: 'Let me think.',
        signature: 'TSIG',
        format: GEMINI_REASONING_FORMAT,
      },
      { type: 'reasoning.encrypted', index: 1, data: 'ASIG', format: GEMINI_REASONING_FORMAT },
    ])
  })

  it('maps finish reasons', () => {
    expect(toFinishReason('STOP', false)).toBe('stop')
    expect(toFinishReason('STOP', true)).toBe('tool_calls')
    expect(toFinishReason('MAX_TOKENS', true)).toBe('length')
    for (const r of ['SAFETY', 'RECITATION', 'BLOCKLIST', 'PROHIBITED_CONTENT', 'SPII']) {
      expect(toFinishReason(r, false)).toBe('content_filter')
    }
    expect(toFinishReason('MALFORMED_FUNCTION_CALL', false)).toBe('stop')
  })

  it('answers a blocked prompt with empty, filtered content', () => {
    const res = fromGeminiResponse(
      {
        promptFeedback: { blockReason: 'SAFETY' },
        usageMetadata: { promptTokenCount: 4, totalTokenCount: 4 },
      },
      'm',
      'gemini',
    )
    expect(res.choices).toEqual([
      { index: 0, message: { role: 'assistant', content: '' }, finish_reason: 'content_filter' },
    ])
  })

  it('treats an answer with neither candidates nor a block reason as a bad response', () => {
    expect(() => fromGeminiResponse({ usageMetadata: {} }, 'm', 'gemini')).toThrow(/no candidates/)
  })

  it('maps every candidate to a choice', () => {
    const res = fromGeminiResponse(
      {
        candidates: [
          { content: { role: 'model', parts: [{ text: 'a' }] }, finishReason: 'STOP', index: 0 },
          { content: { role: 'model', parts: [{ text: 'b' }] }, finishReason: 'MAX_TOKENS', index: 1 },
        ],
      },
      'm',
      'gemini',
    )
    expect(res.choices.map((c) => [c.index, c.message.content, c.finish_reason])).toEqual([
      [0, 'a', 'stop'],
      [1, 'b', 'length'],
    ])
  })
})

describe('toUsage', () => {
  it('counts thoughts as completion tokens and reports cached and reasoning tokens', () => {
    expect(
      toUsage({
        promptTokenCount: 100,
        candidatesTokenCount: 20,
        thoughtsTokenCount: 30,
        cachedContentTokenCount: 64,
        totalTokenCount: 150,
      }),
    ).toEqual({
      prompt_tokens: 100,
      completion_tokens: 50,
      total_tokens: 150,
      prompt_tokens_details: { cached_tokens: 64 },
      completion_tokens_details: { reasoning_tokens: 30 },
    })
  })
})
