import { describe, expect, it } from 'vitest'
import { GatewayError } from '../../core/errors.js'
import { fromAnthropicMessage, toFinishReason, toUsage, type AnthropicMessage } from './response.js'
import { chatCompletion } from '../../../test/helpers/chat-completion.js'

const message = (over: Partial<AnthropicMessage>): AnthropicMessage => ({
  id: 'msg_1',
  type: 'message',
  role: 'assistant',
  model: 'claude-sonnet-4-5-20250929',
  content: [],
  stop_reason: 'end_turn',
  stop_sequence: null,
  usage: { input_tokens: 10, output_tokens: 5 },
  ...over,
})

describe('fromAnthropicMessage', () => {
  it('concatenates text blocks into message.content with the message id and model', () => {
    const res = fromAnthropicMessage(
      message({
        content: [
          { type: 'text', text: 'Hello, ' },
          { type: 'text', text: 'world' },
        ],
      }),
      'anthropic',
    )
    const created = res.created
    expect(res).toMatchObject(
      chatCompletion(
        { content: 'Hello, world' },
        { id: 'msg_1', created, model: 'claude-sonnet-4-5-20250929' },
      ),
    )
    expect(Math.abs(created - Date.now() / 1000)).toBeLessThan(5)
  })

  it('gives null content when there is no text block', () => {
    const res = fromAnthropicMessage(
      message({
        content: [{ type: 'tool_use', id: 'toolu_1', name: 'w', input: {} }],
        stop_reason: 'tool_use',
      }),
      'anthropic',
    )
    expect(res.choices[0].message.content).toBeNull()
  })

  it('turns tool_use blocks into tool_calls with stringified input', () => {
    const res = fromAnthropicMessage(
      message({
        content: [
          { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris', unit: 'celsius' } },
          { type: 'tool_use', id: 'toolu_2', name: 'get_time', input: {} },
        ],
        stop_reason: 'tool_use',
      }),
      'anthropic',
    )
    expect(res.choices[0].message.tool_calls).toEqual([
      {
        id: 'toolu_1',
        type: 'function',
        function: { name: 'get_weather', arguments: '{"city":"Paris","unit":"celsius"}' },
      },
      { id: 'toolu_2', type: 'function', function: { name: 'get_time', arguments: '{}' } },
    ])
    expect(res.choices[0].finish_reason).toBe('tool_calls')
  })

  it('turns thinking into reasoning and signed reasoning_details, redacted thinking into encrypted details', () => {
    const res = fromAnthropicMessage(
      message({
        content: [
          { type: 'thinking', thinking: 'Step one.', signature: 'sig-a' },
          { type: 'redacted_thinking', data: 'opaque' },
          { type: 'text', text: 'Answer' },
        ],
      }),
      'anthropic',
    )
    const m = res.choices[0].message
    expect(m.content).toBe('Answer')
    expect(m.reasoning).toBe('Step one.')
    expect(m.reasoning_details).toEqual([
      { type: 'reasoning.text', index: 0, text: 'Step one.', signature: 'sig-a' },
      { type: 'reasoning.encrypted', index: 1, data: 'opaque' },
    ])
  })

  it('ignores server tool blocks, which are not calls for the caller', () => {
    const res = fromAnthropicMessage(
      message({
        content: [
          { type: 'server_tool_use', id: 'srvtoolu_1', name: 'web_search', input: { query: 'x' } },
          { type: 'web_search_tool_result', tool_use_id: 'srvtoolu_1', content: [] },
          { type: 'text', text: 'Found it.' },
        ],
      }),
      'anthropic',
    )
    expect(res.choices[0].message).toEqual({ role: 'assistant', content: 'Found it.' })
  })

  it('fails as a bad upstream response when content is missing', () => {
    expect(() => fromAnthropicMessage({ id: 'x' } as unknown as AnthropicMessage, 'anthropic')).toThrow(
      GatewayError,
    )
  })
})

describe('toFinishReason', () => {
  it('maps every Anthropic stop reason', () => {
    expect(toFinishReason('end_turn')).toBe('stop')
    expect(toFinishReason('stop_sequence')).toBe('stop')
    expect(toFinishReason('pause_turn')).toBe('stop')
    expect(toFinishReason('max_tokens')).toBe('length')
    expect(toFinishReason('tool_use')).toBe('tool_calls')
    expect(toFinishReason('refusal')).toBe('content_filter')
    expect(toFinishReason(null)).toBeNull()
  })
})

describe('toUsage', () => {
  it('counts cache reads and writes in prompt_tokens and reports them in prompt_tokens_details', () => {
    expect(
      toUsage({
        input_tokens: 10,
        cache_read_input_tokens: 100,
        cache_creation_input_tokens: 20,
        output_tokens: 7,
      }),
    ).toEqual({
      prompt_tokens: 130,
      completion_tokens: 7,
      total_tokens: 137,
      prompt_tokens_details: { cached_tokens: 100, cache_creation_tokens: 20, cached_write_tokens: 20 },
    })
  })

  it('treats missing and null cache figures as zero', () => {
    expect(toUsage({ input_tokens: 3, output_tokens: 2, cache_read_input_tokens: null })).toEqual({
      prompt_tokens: 3,
      completion_tokens: 2,
      total_tokens: 5,
      prompt_tokens_details: { cached_tokens: 0, cache_creation_tokens: 0 },
    })
  })
})
