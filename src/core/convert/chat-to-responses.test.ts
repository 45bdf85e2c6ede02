import { describe, expect, it } from 'vitest'
import type { AssistantMessage, ChatResponse, ResponsesRequest, Usage } from '../schemas/index.js'
import { chatResponseToResponses } from './chat-to-responses.js'
import { chatCompletion, usageOf } from '../../../test/helpers/chat-completion.js'

function chatResponse(message: Partial<AssistantMessage>, finish = 'stop', usage?: Usage): ChatResponse {
  return chatCompletion(message, { model: 'claude-sonnet-4', finish_reason: finish, usage })
}

const req: ResponsesRequest = { model: 'anthropic/claude-sonnet-4', input: 'hi' }

describe('chatResponseToResponses', () => {
  it('builds a completed response with one message item and OpenAI defaults echoed', () => {
    const res = chatResponseToResponses(chatResponse({ content: 'Hello!' }), req)
    expect(res).toEqual({
      id: 'resp_chatcmpl-1',
      object: 'response',
      created_at: 1700000000,
      status: 'completed',
      error: null,
      incomplete_details: null,
      instructions: null,
      max_output_tokens: null,
      model: 'claude-sonnet-4',
      output: [
        {
          id: 'msg_chatcmpl-1',
          type: 'message',
          status: 'completed',
          role: 'assistant',
          content: [{ type: 'output_text', text: 'Hello!', annotations: [] }],
        },
      ],
      parallel_tool_calls: true,
      previous_response_id: null,
      reasoning: { effort: null, summary: null },
      store: false,
      temperature: 1,
      text: { format: { type: 'text' } },
      tool_choice: 'auto',
      tools: [],
      top_p: 1,
      truncation: 'disabled',
      usage: null,
      user: null,
      metadata: {},
    })
    expect(res).not.toHaveProperty('output_text')
  })

  it('echoes the request settings back', () => {
    const tools = [{ type: 'function', name: 'f', parameters: { type: 'object' } }]
    const echoed = {
      instructions: 'be nice',
      tools,
      tool_choice: 'required',
      temperature: 0.3,
      top_p: 0.5,
      parallel_tool_calls: false,
      max_output_tokens: 100,
      metadata: { a: '1' },
      text: { format: { type: 'json_object' } },
      user: 'u',
    }
    const res = chatResponseToResponses(chatResponse({ content: 'ok' }), {
      model: 'm',
      input: 'x',
      ...echoed,
      reasoning: { effort: 'low' },
    })
    expect(res).toMatchObject({ ...echoed, reasoning: { effort: 'low', summary: null } })
  })

  it('emits one function_call item per tool call, after any text', () => {
    const res = chatResponseToResponses(
      chatResponse(
        {
          content: 'Checking.',
          tool_calls: [
            { id: 'call_a', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } },
            { id: 'call_b', type: 'function', function: { name: 'weather', arguments: '{"city":"Tokyo"}' } },
          ],
        },
        'tool_calls',
      ),
      req,
    )
    expect(res.output.map((o) => o.type)).toEqual(['message', 'function_call', 'function_call'])
    expect(res.output[1]).toEqual({
      id: 'fc_call_a',
      type: 'function_call',
      status: 'completed',
      arguments: '{"city":"Paris"}',
      call_id: 'call_a',
      name: 'weather',
    })
    expect(res.status).toBe('completed')
  })

  it('marks the response incomplete with max_output_tokens when the chat finished on length', () => {
    const res = chatResponseToResponses(chatResponse({ content: 'cut o' }, 'length'), req)
    expect(res.status).toBe('incomplete')
    expect(res.incomplete_details).toEqual({ reason: 'max_output_tokens' })
    expect(res.output[0].status).toBe('incomplete')
  })

  it.each([
    ['with cached and reasoning tokens', usageOf(120, 40, { cached: 100, reasoning: 25 }), 100, 25],
    ['with zero details when the provider reports none, as OpenAI always does', usageOf(3, 2), 0, 0],
  ])('maps usage %s', (_, usage, cached, reasoning) => {
    expect(chatResponseToResponses(chatResponse({ content: 'x' }, 'stop', usage), req).usage).toEqual({
      input_tokens: usage.prompt_tokens,
      input_tokens_details: { cached_tokens: cached },
      output_tokens: usage.completion_tokens,
      output_tokens_details: { reasoning_tokens: reasoning },
      total_tokens: usage.total_tokens,
    })
  })

  it('puts plain reasoning text in a reasoning item summary, before the message, without encrypted content', () => {
    const res = chatResponseToResponses(chatResponse({ content: 'Answer', reasoning: 'Let me think.' }), req)
    expect(res.output[0]).toEqual({
      id: 'rs_chatcmpl-1',
      type: 'reasoning',
      summary: [{ type: 'summary_text', text: 'Let me think.' }],
    })
    expect(res.output[1].type).toBe('message')
  })

  it('carries signed reasoning in encrypted_content', () => {
    const res = chatResponseToResponses(
      chatResponse({
        content: 'Answer',
        reasoning: 'Let me think.',
        reasoning_details: [{ type: 'reasoning.text', text: 'Let me think.', signature: 'sig-1' }],
      }),
      req,
    )
    expect(res.output[0]).toMatchObject({
      type: 'reasoning',
      summary: [{ type: 'summary_text', text: 'Let me think.' }],
    })
    expect(typeof res.output[0].encrypted_content).toBe('string')
    expect(res.output[0].encrypted_content).not.toContain('sig-1')
  })

  it('omits the message item when the assistant said nothing but called tools', () => {
    const res = chatResponseToResponses(
      chatResponse(
        {
          content: '',
          tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{}' } }],
        },
        'tool_calls',
      ),
      req,
    )
    expect(res.output.map((o) => o.type)).toEqual(['function_call'])
  })
})
