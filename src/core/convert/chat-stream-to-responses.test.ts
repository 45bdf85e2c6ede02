import { accumulateResponse } from 'openai/lib/responses/ResponseAccumulator'
import type { Response as OpenAIResponse, ResponseStreamEvent } from 'openai/resources/responses/responses'
import { describe, expect, it } from 'vitest'
import type { ChatChunk, ChatDelta, ResponsesRequest, ResponsesResponse, Usage } from '../schemas/index.js'
import type { ChatStreamItem, ResponsesStreamItem } from '../provider-adapter.js'
import { chatResponseToResponses } from './chat-to-responses.js'
import { chatStreamToResponses } from './chat-stream-to-responses.js'
import { chatCompletion, usageOf } from '../../../test/helpers/chat-completion.js'

const req: ResponsesRequest = { model: 'groq/llama', input: 'hi' }

const usage = usageOf(50, 12, { cached: 32, reasoning: 4 })

function chunk(delta: ChatDelta, finish: string | null = null): ChatChunk {
  return {
    id: 'chatcmpl-7',
    object: 'chat.completion.chunk',
    created: 1700000000,
    model: 'llama-3.3',
    choices: [{ index: 0, delta, finish_reason: finish }],
  }
}

function usageChunk(u: Usage): ChatChunk {
  return {
    id: 'chatcmpl-7',
    object: 'chat.completion.chunk',
    created: 1700000000,
    model: 'llama-3.3',
    choices: [],
    usage: u,
  }
}

/** Items as the OpenAI relay gives them: only the JSON text, usage read on the side. */
async function* relayed(chunks: ChatChunk[]): AsyncGenerator<ChatStreamItem> {
  for (const c of chunks) {
    const data = JSON.stringify(c)
    if (c.usage) yield { data, usage: c.usage, usageOnly: c.choices.length === 0 }
    else yield { data }
  }
}

async function collect(
  items: AsyncIterable<ChatStreamItem>,
  r: ResponsesRequest = req,
): Promise<ResponsesStreamItem[]> {
  const out: ResponsesStreamItem[] = []
  for await (const item of chatStreamToResponses(items, r)) out.push(item)
  return out
}

const textStream = [
  chunk({ role: 'assistant', content: '' }),
  chunk({ content: 'Hel' }),
  chunk({ content: 'lo' }),
  chunk({}, 'stop'),
  usageChunk(usage),
]

describe('chatStreamToResponses', () => {
  it('emits the exact OpenAI event order for a text stream, with increasing sequence numbers', async () => {
    const items = await collect(relayed(textStream))
    const events = items.map((i) => i.event)
    expect(events.map((e) => e.type)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ])
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i))
    expect(events[0]).toMatchObject({
      response: {
        id: 'resp_chatcmpl-7',
        object: 'response',
        status: 'in_progress',
        output: [],
        usage: null,
        model: 'llama-3.3',
      },
    })
    expect(events[2]).toEqual({
      type: 'response.output_item.added',
      sequence_number: 2,
      output_index: 0,
      item: { id: 'msg_chatcmpl-7', type: 'message', status: 'in_progress', role: 'assistant', content: [] },
    })
    expect(events[3]).toEqual({
      type: 'response.content_part.added',
      sequence_number: 3,
      item_id: 'msg_chatcmpl-7',
      output_index: 0,
      content_index: 0,
      part: { type: 'output_text', text: '', annotations: [] },
    })
    expect(events[4]).toEqual({
      type: 'response.output_text.delta',
      sequence_number: 4,
      item_id: 'msg_chatcmpl-7',
      output_index: 0,
      content_index: 0,
      delta: 'Hel',
      logprobs: [],
    })
    expect(events[6]).toMatchObject({ type: 'response.output_text.done', text: 'Hello' })
    expect(events[7]).toMatchObject({ part: { type: 'output_text', text: 'Hello', annotations: [] } })
    expect(events[8]).toMatchObject({
      item: { status: 'completed', content: [{ type: 'output_text', text: 'Hello', annotations: [] }] },
    })
  })

  it('puts the chat usage on the final event and maps it into the completed response', async () => {
    const items = await collect(relayed(textStream))
    const last = items[items.length - 1]
    expect(last.usage).toEqual(usage)
    expect(items.slice(0, -1).every((i) => i.usage === undefined)).toBe(true)
    expect((last.event.response as ResponsesResponse).usage).toEqual({
      input_tokens: 50,
      input_tokens_details: { cached_tokens: 32 },
      output_tokens: 12,
      output_tokens_details: { reasoning_tokens: 4 },
      total_tokens: 62,
    })
  })

  it('ends with the same response object the non-streamed conversion gives', async () => {
    const items = await collect(relayed(textStream))
    const streamed = items[items.length - 1].event.response
    const plain = chatCompletion({ content: 'Hello' }, { id: 'chatcmpl-7', model: 'llama-3.3', usage })
    expect(streamed).toEqual(chatResponseToResponses(plain, req))
  })

  it('ends with the same output as the non-streamed conversion for reasoning, text, refusal and tool calls', async () => {
    const items = await collect(
      relayed([
        chunk({ role: 'assistant', reasoning: 'Plan' }),
        chunk({ content: 'Partly.' }),
        chunk({ refusal: 'Not that part.' }),
        chunk({
          tool_calls: [
            { index: 0, id: 'call_x', type: 'function', function: { name: 'f', arguments: '{}' } },
          ],
        }),
        chunk({}, 'tool_calls'),
      ]),
    )
    const plain = chatCompletion(
      {
        content: 'Partly.',
        refusal: 'Not that part.',
        reasoning: 'Plan',
        tool_calls: [{ id: 'call_x', type: 'function', function: { name: 'f', arguments: '{}' } }],
      },
      { id: 'chatcmpl-7', model: 'llama-3.3', finish_reason: 'tool_calls' },
    )
    const streamed = items[items.length - 1].event.response as ResponsesResponse
    expect(streamed.output).toEqual(chatResponseToResponses(plain, req).output)
    expect(items.map((i) => i.event.type)).toContain('response.refusal.delta')
  })

  it('sends a tool call signature once even when the provider repeats it on every delta', async () => {
    const extra = { google: { thought_signature: 'sig' } }
    const items = await collect(
      relayed([
        chunk({
          tool_calls: [
            {
              index: 0,
              id: 'c',
              type: 'function',
              function: { name: 'f', arguments: '{' },
              extra_content: extra,
            },
          ],
        }),
        chunk({ tool_calls: [{ index: 0, function: { arguments: '}' }, extra_content: extra }] }),
        chunk({}, 'tool_calls'),
      ]),
    )
    const response = items[items.length - 1].event.response as ResponsesResponse
    expect(response.output.map((o) => o.type)).toEqual(['reasoning', 'function_call'])
    expect(response.output[1]).toMatchObject({ arguments: '{}', call_id: 'c' })
  })

  it("is rebuilt by the OpenAI SDK's own accumulator, from the deltas alone and with the done events", async () => {
    const items = await collect(
      relayed([
        chunk({ role: 'assistant', reasoning: 'Think' }),
        chunk({ reasoning: 'ing.' }),
        chunk({ content: 'Sure.' }),
        chunk({
          tool_calls: [
            { index: 0, id: 'call_1', type: 'function', function: { name: 'a', arguments: '{"x"' } },
          ],
        }),
        chunk({
          tool_calls: [{ index: 1, id: 'call_2', type: 'function', function: { name: 'b', arguments: '' } }],
        }),
        chunk({ tool_calls: [{ index: 0, function: { arguments: ':1}' } }] }),
        chunk({ tool_calls: [{ index: 1, function: { arguments: '{}' } }] }),
        chunk({}, 'tool_calls'),
        usageChunk(usage),
      ]),
    )
    const events = items.map((i) => i.event as unknown as ResponseStreamEvent)
    const terminal = events.pop()
    const completed = (terminal as unknown as { response: ResponsesResponse }).response
    const accumulate = (list: ResponseStreamEvent[]) => {
      let snapshot: OpenAIResponse | undefined
      for (const event of list) snapshot = accumulateResponse(event, snapshot)
      return snapshot!.output as unknown as Record<string, unknown>[]
    }
    expect(accumulate(events)).toEqual(completed.output)
    const fromDeltas = accumulate(events.filter((e) => !e.type.endsWith('.done')))
    const contentOf = (o: Record<string, unknown>) =>
      o.type === 'function_call' ? o.arguments : JSON.stringify(o.type === 'message' ? o.content : o.summary)
    expect(fromDeltas.map(contentOf)).toEqual(completed.output.map(contentOf))
  })

  it('routes interleaved parallel tool call deltas to separate function_call items', async () => {
    const items = await collect(
      relayed([
        chunk({ role: 'assistant', content: null }),
        chunk({
          tool_calls: [
            { index: 0, id: 'call_p', type: 'function', function: { name: 'weather', arguments: '' } },
          ],
        }),
        chunk({
          tool_calls: [
            { index: 1, id: 'call_t', type: 'function', function: { name: 'weather', arguments: '' } },
          ],
        }),
        chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }),
        chunk({ tool_calls: [{ index: 1, function: { arguments: '{"city":' } }] }),
        chunk({ tool_calls: [{ index: 1, function: { arguments: '"Tokyo"}' } }] }),
        chunk({ tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] }),
        chunk({}, 'tool_calls'),
      ]),
    )
    const events = items.map((i) => i.event)
    const added = events.filter((e) => e.type === 'response.output_item.added')
    expect(added.map((e) => [e.output_index, (e.item as Record<string, unknown>).call_id])).toEqual([
      [0, 'call_p'],
      [1, 'call_t'],
    ])
    expect(added[0].item).toEqual({
      id: 'fc_call_p',
      type: 'function_call',
      status: 'in_progress',
      arguments: '',
      call_id: 'call_p',
      name: 'weather',
    })
    const deltas = events.filter((e) => e.type === 'response.function_call_arguments.delta')
    expect(deltas.map((e) => [e.output_index, e.item_id, e.delta])).toEqual([
      [0, 'fc_call_p', '{"city":'],
      [1, 'fc_call_t', '{"city":'],
      [1, 'fc_call_t', '"Tokyo"}'],
      [0, 'fc_call_p', '"Paris"}'],
    ])
    const done = events.filter((e) => e.type === 'response.function_call_arguments.done')
    expect(done).toEqual([
      {
        type: 'response.function_call_arguments.done',
        sequence_number: done[0].sequence_number,
        item_id: 'fc_call_p',
        output_index: 0,
        name: 'weather',
        arguments: '{"city":"Paris"}',
      },
      {
        type: 'response.function_call_arguments.done',
        sequence_number: done[1].sequence_number,
        item_id: 'fc_call_t',
        output_index: 1,
        name: 'weather',
        arguments: '{"city":"Tokyo"}',
      },
    ])
    const response = events[events.length - 1].response as ResponsesResponse
    expect(response.output).toEqual([
      {
        id: 'fc_call_p',
        type: 'function_call',
        status: 'completed',
        arguments: '{"city":"Paris"}',
        call_id: 'call_p',
        name: 'weather',
      },
      {
        id: 'fc_call_t',
        type: 'function_call',
        status: 'completed',
        arguments: '{"city":"Tokyo"}',
        call_id: 'call_t',
        name: 'weather',
      },
    ])
  })

  it('streams reasoning as summary events in a reasoning item before the message', async () => {
    const items = await collect(
      relayed([
        chunk({ role: 'assistant', reasoning: 'Hmm' }),
        chunk({ reasoning: '...' }),
        chunk({ content: 'Yes' }),
        chunk({}, 'stop'),
      ]),
    )
    const events = items.map((i) => i.event)
    expect(events.map((e) => e.type)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.reasoning_summary_part.added',
      'response.reasoning_summary_text.delta',
      'response.reasoning_summary_text.delta',
      'response.reasoning_summary_text.done',
      'response.reasoning_summary_part.done',
      'response.output_item.done',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ])
    expect(events[2].item).toEqual({ id: 'rs_chatcmpl-7', type: 'reasoning', summary: [] })
    expect(events[6]).toMatchObject({
      item_id: 'rs_chatcmpl-7',
      output_index: 0,
      summary_index: 0,
      text: 'Hmm...',
    })
    expect(events[8].item).toEqual({
      id: 'rs_chatcmpl-7',
      type: 'reasoning',
      summary: [{ type: 'summary_text', text: 'Hmm...' }],
    })
    expect(events[9]).toMatchObject({ output_index: 1, item: { type: 'message' } })
  })

  it('ends with response.incomplete and max_output_tokens when the chat stream stopped on length', async () => {
    const items = await collect(
      relayed([chunk({ role: 'assistant', content: 'cut' }), chunk({}, 'length'), usageChunk(usage)]),
    )
    const last = items[items.length - 1].event
    expect(last.type).toBe('response.incomplete')
    const response = last.response as ResponsesResponse
    expect(response.status).toBe('incomplete')
    expect(response.incomplete_details).toEqual({ reason: 'max_output_tokens' })
    expect(response.output[0].status).toBe('incomplete')
    expect(items[items.length - 1].usage).toEqual(usage)
  })

  it('translates chunk by chunk instead of waiting for the stream to end', async () => {
    let release!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    async function* slow(): AsyncGenerator<ChatStreamItem> {
      yield { chunk: chunk({ role: 'assistant', content: 'first' }) }
      await gate
      yield { chunk: chunk({}, 'stop') }
    }
    const it = chatStreamToResponses(slow(), req)
    const seen: string[] = []
    for (let n = 0; n < 5; n++) seen.push((await it.next()).value!.event.type)
    expect(seen).toContain('response.output_text.delta')
    release()
    for await (const item of it) seen.push(item.event.type)
    expect(seen[seen.length - 1]).toBe('response.completed')
  })

  it('lets an error from the chat stream propagate', async () => {
    async function* broken(): AsyncGenerator<ChatStreamItem> {
      yield { chunk: chunk({ role: 'assistant', content: 'par' }) }
      throw new Error('upstream went away')
    }
    await expect(collect(broken())).rejects.toThrow('upstream went away')
  })

  it('still reports created and completed when the provider sent no chunk', async () => {
    const items = await collect(relayed([]))
    expect(items.map((i) => i.event.type)).toEqual([
      'response.created',
      'response.in_progress',
      'response.completed',
    ])
  })
})
