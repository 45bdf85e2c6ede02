import { describe, expect, it } from 'vitest'
import type { ResponsesRequest } from '../schemas/index.js'
import { responsesRequestToChat } from './responses-to-chat.js'
import { thrownGatewayError } from '../../../test/helpers/gateway-error.js'

describe('responsesRequestToChat', () => {
  it('puts instructions first as a system message and a string input as one user message', () => {
    const chat = responsesRequestToChat({ model: 'claude', instructions: 'Be brief.', input: 'hi' })
    expect(chat).toEqual({
      model: 'claude',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'hi' },
      ],
    })
  })

  it('turns input parts into chat content parts: text, image by url and by file id, file data', () => {
    const chat = responsesRequestToChat({
      model: 'm',
      input: [
        {
          role: 'user',
          content: [
            { type: 'input_text', text: 'what is this?' },
            { type: 'input_image', image_url: 'https://x/cat.png', detail: 'high' },
            { type: 'input_image', file_id: 'file-1', detail: 'auto' },
            { type: 'input_file', file_data: 'data:application/pdf;base64,AAA', filename: 'a.pdf' },
          ],
        },
      ],
    })
    expect(chat.messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'what is this?' },
          { type: 'image_url', image_url: { url: 'https://x/cat.png', detail: 'high' } },
          { type: 'file', file: { file_id: 'file-1' } },
          { type: 'file', file: { file_data: 'data:application/pdf;base64,AAA', filename: 'a.pdf' } },
        ],
      },
    ])
  })

  it('keeps the developer role and accepts items without a type as messages', () => {
    const chat = responsesRequestToChat({
      model: 'm',
      input: [
        { type: 'message', role: 'developer', content: 'rules' },
        { role: 'user', content: 'hi' },
      ],
    })
    expect(chat.messages).toEqual([
      { role: 'developer', content: 'rules' },
      { role: 'user', content: 'hi' },
    ])
  })

  it('flattens assistant output_text parts into plain text', () => {
    const chat = responsesRequestToChat({
      model: 'm',
      input: [
        {
          type: 'message',
          role: 'assistant',
          id: 'msg_1',
          status: 'completed',
          content: [
            { type: 'output_text', text: 'Hel', annotations: [] },
            { type: 'output_text', text: 'lo', annotations: [] },
          ],
        },
      ],
    })
    expect(chat.messages).toEqual([{ role: 'assistant', content: 'Hello' }])
  })

  it('round-trips a multi-turn tool exchange: parallel function_call items become one assistant message and outputs become tool messages', () => {
    const chat = responsesRequestToChat({
      model: 'm',
      input: [
        { role: 'user', content: 'weather in Paris and Tokyo?' },
        {
          type: 'function_call',
          id: 'fc_1',
          call_id: 'call_1',
          name: 'weather',
          arguments: '{"city":"Paris"}',
          status: 'completed',
        },
        {
          type: 'function_call',
          id: 'fc_2',
          call_id: 'call_2',
          name: 'weather',
          arguments: '{"city":"Tokyo"}',
          status: 'completed',
        },
        { type: 'function_call_output', call_id: 'call_1', output: '18C' },
        { type: 'function_call_output', call_id: 'call_2', output: [{ type: 'input_text', text: '25C' }] },
        { role: 'user', content: 'thanks' },
      ],
    })
    expect(chat.messages).toEqual([
      { role: 'user', content: 'weather in Paris and Tokyo?' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          { id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } },
          { id: 'call_2', type: 'function', function: { name: 'weather', arguments: '{"city":"Tokyo"}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'call_1', content: '18C' },
      { role: 'tool', tool_call_id: 'call_2', content: '25C' },
      { role: 'user', content: 'thanks' },
    ])
  })

  it('merges a function_call into the assistant text message right before it', () => {
    const chat = responsesRequestToChat({
      model: 'm',
      input: [
        { role: 'user', content: 'go' },
        { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Let me check.' }] },
        { type: 'function_call', call_id: 'c1', name: 'look', arguments: '{}' },
      ],
    })
    expect(chat.messages[1]).toEqual({
      role: 'assistant',
      content: 'Let me check.',
      tool_calls: [{ id: 'c1', type: 'function', function: { name: 'look', arguments: '{}' } }],
    })
  })

  it('attaches a foreign reasoning item to the next assistant message as summary and encrypted details', () => {
    const chat = responsesRequestToChat({
      model: 'm',
      input: [
        { role: 'user', content: 'go' },
        {
          type: 'reasoning',
          id: 'rs_1',
          summary: [{ type: 'summary_text', text: 'thinking about it' }],
          encrypted_content: 'gAAAA-opaque',
        },
        { type: 'function_call', call_id: 'c1', name: 'look', arguments: '{}' },
      ],
    })
    expect(chat.messages[1]).toEqual({
      role: 'assistant',
      content: null,
      reasoning_details: [
        { type: 'reasoning.summary', summary: 'thinking about it' },
        { type: 'reasoning.encrypted', data: 'gAAAA-opaque' },
      ],
      tool_calls: [{ id: 'c1', type: 'function', function: { name: 'look', arguments: '{}' } }],
    })
  })

  it('drops reasoning that no assistant turn follows, since chat has nowhere to put it', () => {
    const chat = responsesRequestToChat({
      model: 'm',
      input: [
        { type: 'reasoning', summary: [{ type: 'summary_text', text: 'x' }] },
        { role: 'user', content: 'hi' },
      ],
    })
    expect(chat.messages).toEqual([{ role: 'user', content: 'hi' }])
  })

  it('maps function tools and refuses built-in tools with unsupported_operation on tools', () => {
    const chat = responsesRequestToChat({
      model: 'm',
      input: 'hi',
      tools: [
        {
          type: 'function',
          name: 'weather',
          description: 'get weather',
          parameters: { type: 'object' },
          strict: true,
        },
      ],
    })
    expect(chat.tools).toEqual([
      {
        type: 'function',
        function: {
          name: 'weather',
          description: 'get weather',
          parameters: { type: 'object' },
          strict: true,
        },
      },
    ])
    const err = thrownGatewayError(() =>
      responsesRequestToChat({ model: 'm', input: 'hi', tools: [{ type: 'web_search' }] }),
    )
    expect(err.code).toBe('unsupported_operation')
    expect(err.param).toBe('tools')
    expect(err.message).toContain('web_search')
  })

  it('maps tool_choice strings and a named function', () => {
    for (const choice of ['auto', 'none', 'required']) {
      expect(responsesRequestToChat({ model: 'm', input: 'x', tool_choice: choice }).tool_choice).toBe(choice)
    }
    expect(
      responsesRequestToChat({ model: 'm', input: 'x', tool_choice: { type: 'function', name: 'f' } })
        .tool_choice,
    ).toEqual({
      type: 'function',
      function: { name: 'f' },
    })
    expect(
      thrownGatewayError(() =>
        responsesRequestToChat({ model: 'm', input: 'x', tool_choice: { type: 'web_search_preview' } }),
      ).param,
    ).toBe('tool_choice')
  })

  it('maps sampling, limits, reasoning effort and passes fallbacks, metadata and user, dropping unknown fields', () => {
    const req: ResponsesRequest & Record<string, unknown> = {
      model: 'm',
      input: 'x',
      stream: true,
      max_output_tokens: 300,
      temperature: 0.2,
      top_p: 0.9,
      parallel_tool_calls: false,
      user: 'u1',
      metadata: { team: 'a' },
      reasoning: { effort: 'high', summary: 'auto' },
      store: false,
      include: ['reasoning.encrypted_content'],
      truncation: 'auto',
      fallbacks: ['openai/gpt-4o'],
    }
    expect(responsesRequestToChat(req)).toEqual({
      model: 'm',
      messages: [{ role: 'user', content: 'x' }],
      stream: true,
      max_completion_tokens: 300,
      temperature: 0.2,
      top_p: 0.9,
      parallel_tool_calls: false,
      user: 'u1',
      metadata: { team: 'a' },
      reasoning_effort: 'high',
      fallbacks: ['openai/gpt-4o'],
    })
  })

  it('maps text.format json_schema and json_object to response_format, and leaves plain text alone', () => {
    const schema = { type: 'object', properties: { a: { type: 'string' } } }
    expect(
      responsesRequestToChat({
        model: 'm',
        input: 'x',
        text: { format: { type: 'json_schema', name: 'out', schema, strict: true } },
      }).response_format,
    ).toEqual({ type: 'json_schema', json_schema: { name: 'out', schema, strict: true } })
    expect(
      responsesRequestToChat({ model: 'm', input: 'x', text: { format: { type: 'json_object' } } })
        .response_format,
    ).toEqual({
      type: 'json_object',
    })
    expect(
      responsesRequestToChat({ model: 'm', input: 'x', text: { format: { type: 'text' } } }),
    ).not.toHaveProperty('response_format')
  })

  it('refuses previous_response_id and item references, which need stored responses', () => {
    const err = thrownGatewayError(() =>
      responsesRequestToChat({ model: 'm', input: 'x', previous_response_id: 'resp_1' }),
    )
    expect(err.code).toBe('unsupported_operation')
    expect(err.param).toBe('previous_response_id')
    expect(err.message).toBe('previous_response_id needs a provider with stored responses')
    expect(
      thrownGatewayError(() =>
        responsesRequestToChat({ model: 'm', input: [{ type: 'item_reference', id: 'msg_1' }] }),
      ).code,
    ).toBe('unsupported_operation')
  })

  it('refuses a request with no input at all', () => {
    expect(thrownGatewayError(() => responsesRequestToChat({ model: 'm' })).code).toBe('invalid_request')
  })
})
