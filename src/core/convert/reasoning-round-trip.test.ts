import { describe, expect, it } from 'vitest'
import type {
  ChatChunk,
  ChatResponse,
  ReasoningDetail,
  ResponsesResponse,
  ToolCall,
} from '../schemas/index.js'
import type { ChatStreamItem } from '../provider-adapter.js'
import { chatResponseToResponses } from './chat-to-responses.js'
import { chatStreamToResponses } from './chat-stream-to-responses.js'
import { responsesRequestToChat } from './responses-to-chat.js'

/** What a client does on the next turn: send the previous output back, plus the tool results. */
function nextTurn(previous: ResponsesResponse, toolOutputs: Record<string, string>) {
  return responsesRequestToChat({
    model: 'm',
    input: [
      { role: 'user', content: 'weather?' },
      ...previous.output,
      ...Object.entries(toolOutputs).map(([call_id, output]) => ({
        type: 'function_call_output',
        call_id,
        output,
      })),
    ],
  })
}

function chatResponse(details: ReasoningDetail[], calls: ToolCall[]): ChatResponse {
  return {
    id: 'chatcmpl-r',
    object: 'chat.completion',
    created: 1,
    model: 'm',
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: null, reasoning_details: details, tool_calls: calls },
        finish_reason: 'tool_calls',
      },
    ],
  }
}

async function* streamOf(chunks: ChatChunk[]): AsyncGenerator<ChatStreamItem> {
  for (const chunk of chunks) yield { chunk }
}

async function finalResponse(items: AsyncIterable<ChatStreamItem>): Promise<ResponsesResponse> {
  let last: ResponsesResponse | undefined
  for await (const { event } of chatStreamToResponses(items, { model: 'm', input: 'x' })) {
    if (event.type === 'response.completed') last = event.response as ResponsesResponse
  }
  if (!last) throw new Error('no response.completed')
  return last
}

function chunk(delta: ChatChunk['choices'][number]['delta'], finish: string | null = null): ChatChunk {
  return {
    id: 'chatcmpl-s',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'm',
    choices: [{ index: 0, delta, finish_reason: finish }],
  }
}

describe('reasoning round trip through the Responses API', () => {
  it('gives Anthropic signed and redacted thinking back byte for byte on the next turn', () => {
    const details: ReasoningDetail[] = [
      { type: 'reasoning.text', text: 'I should call the tool.', signature: 'EqQBCkYIBxgCKkA…', index: 0 },
      { type: 'reasoning.encrypted', data: 'redacted-blob', index: 1 },
    ]
    const call: ToolCall = {
      id: 'toolu_1',
      type: 'function',
      function: { name: 'weather', arguments: '{"city":"Paris"}' },
    }
    const res = chatResponseToResponses(chatResponse(details, [call]), { model: 'm', input: 'weather?' })
    const chat = nextTurn(res, { toolu_1: '18C' })
    expect(chat.messages).toEqual([
      { role: 'user', content: 'weather?' },
      { role: 'assistant', content: null, reasoning_details: details, tool_calls: [call] },
      { role: 'tool', tool_call_id: 'toolu_1', content: '18C' },
    ])
  })

  it("keeps a Gemini tool call's thought signature across the round trip", () => {
    const call: ToolCall = {
      id: 'call_g',
      type: 'function',
      function: { name: 'weather', arguments: '{}' },
      extra_content: { google: { thought_signature: 'c2lnbmF0dXJl' } },
    }
    const res = chatResponseToResponses(chatResponse([], [call]), { model: 'm', input: 'weather?' })
    expect(res.output.map((o) => o.type)).toEqual(['reasoning', 'function_call'])
    const chat = nextTurn(res, { call_g: 'sunny' })
    expect(chat.messages[1]).toEqual({ role: 'assistant', content: null, tool_calls: [call] })
  })

  it('joins streamed thinking pieces and their signature so the next turn gets the whole block', async () => {
    const res = await finalResponse(
      streamOf([
        chunk({
          role: 'assistant',
          reasoning_details: [{ type: 'reasoning.text', text: 'Let me ', index: 0 }],
        }),
        chunk({ reasoning_details: [{ type: 'reasoning.text', text: 'think.', index: 0 }] }),
        chunk({ reasoning_details: [{ type: 'reasoning.text', signature: 'sig-xyz', index: 0 }] }),
        chunk({
          tool_calls: [
            { index: 0, id: 'toolu_9', type: 'function', function: { name: 'weather', arguments: '{}' } },
          ],
        }),
        chunk({}, 'tool_calls'),
      ]),
    )
    expect(res.output[0]).toMatchObject({
      type: 'reasoning',
      summary: [{ type: 'summary_text', text: 'Let me think.' }],
    })
    const chat = nextTurn(res, { toolu_9: 'ok' })
    expect(chat.messages[1]).toEqual({
      role: 'assistant',
      content: null,
      reasoning_details: [{ type: 'reasoning.text', text: 'Let me think.', signature: 'sig-xyz', index: 0 }],
      tool_calls: [{ id: 'toolu_9', type: 'function', function: { name: 'weather', arguments: '{}' } }],
    })
  })

  it("keeps a streamed Gemini tool call's thought signature across the round trip", async () => {
    const extra = { google: { thought_signature: 'c2ln' } }
    const res = await finalResponse(
      streamOf([
        chunk({
          tool_calls: [
            {
              index: 0,
              id: 'call_s',
              type: 'function',
              function: { name: 'f', arguments: '{"a":1}' },
              extra_content: extra,
            },
          ],
        }),
        chunk({}, 'tool_calls'),
      ]),
    )
    const chat = nextTurn(res, { call_s: 'done' })
    expect(chat.messages[1]).toEqual({
      role: 'assistant',
      content: null,
      tool_calls: [
        {
          id: 'call_s',
          type: 'function',
          function: { name: 'f', arguments: '{"a":1}' },
          extra_content: extra,
        },
      ],
    })
  })
})
