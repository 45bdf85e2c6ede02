import { describe, expect, it } from 'vitest'
import { GatewayError } from '../../core/errors.js'
import type { ChatStreamItem } from '../../core/provider-adapter.js'
import { translateAnthropicStream } from './stream.js'

const frame = (event: Record<string, unknown>) =>
  `event: ${event.type as string}\ndata: ${JSON.stringify(event)}\n\n`

async function* bytes(parts: string[]): AsyncGenerator<Buffer> {
  for (const p of parts) yield Buffer.from(p, 'utf8')
}

async function collect(events: Record<string, unknown>[], extra: string[] = []): Promise<ChatStreamItem[]> {
  const out: ChatStreamItem[] = []
  for await (const item of translateAnthropicStream(bytes([...events.map(frame), ...extra]), 'anthropic'))
    out.push(item)
  return out
}

const start = (usage: Record<string, unknown> = { input_tokens: 12, output_tokens: 1 }) => ({
  type: 'message_start',
  message: {
    id: 'msg_1',
    type: 'message',
    role: 'assistant',
    model: 'claude-x',
    content: [],
    stop_reason: null,
    usage,
  },
})
const stop = { type: 'message_stop' }
const deltas = (items: ChatStreamItem[]) =>
  items.filter((i) => !i.usageOnly).map((i) => i.chunk!.choices[0].delta)

describe('translateAnthropicStream', () => {
  it('opens with an assistant role chunk and streams text deltas as content', async () => {
    const items = await collect([
      start(),
      { type: 'ping' },
      { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hel' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'lo' } },
      { type: 'content_block_stop', index: 0 },
      { type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 3 } },
      stop,
    ])
    expect(deltas(items)).toEqual([
      { role: 'assistant', content: '' },
      { content: 'Hel' },
      { content: 'lo' },
      {},
    ])
    expect(items[0].chunk).toMatchObject({ id: 'msg_1', object: 'chat.completion.chunk', model: 'claude-x' })
    expect(items[3].chunk!.choices[0].finish_reason).toBe('stop')
  })

  it('ends with one usage-only chunk merging message_start and message_delta usage', async () => {
    const items = await collect([
      start({
        input_tokens: 10,
        cache_read_input_tokens: 50,
        cache_creation_input_tokens: 5,
        output_tokens: 1,
      }),
      { type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 42 } },
      stop,
    ])
    const last = items[items.length - 1]
    const usage = {
      prompt_tokens: 65,
      completion_tokens: 42,
      total_tokens: 107,
      prompt_tokens_details: { cached_tokens: 50, cache_creation_tokens: 5, cached_write_tokens: 5 },
    }
    expect(last).toEqual({
      chunk: {
        id: 'msg_1',
        object: 'chat.completion.chunk',
        created: last.chunk!.created,
        model: 'claude-x',
        choices: [],
        usage,
      },
      usage,
      usageOnly: true,
    })
    expect(items.filter((i) => i.usage)).toHaveLength(1)
  })

  it('takes the latest non-null usage figures when message_delta repeats them', async () => {
    const items = await collect([
      start({ input_tokens: 10, cache_read_input_tokens: 0, output_tokens: 1 }),
      {
        type: 'message_delta',
        delta: { stop_reason: 'end_turn' },
        usage: {
          input_tokens: 11,
          cache_read_input_tokens: 30,
          cache_creation_input_tokens: null,
          output_tokens: 9,
        },
      },
      stop,
    ])
    expect(items[items.length - 1].usage).toMatchObject({ prompt_tokens: 41, completion_tokens: 9 })
  })

  it('numbers tool calls from 0 whatever their block index and streams their arguments', async () => {
    const items = await collect([
      start(),
      {
        type: 'content_block_start',
        index: 0,
        content_block: { type: 'thinking', thinking: '', signature: '' },
      },
      { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'Hmm.' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'signature_delta', signature: 'sig' } },
      { type: 'content_block_stop', index: 0 },
      {
        type: 'content_block_start',
        index: 1,
        content_block: { type: 'tool_use', id: 'toolu_a', name: 'w', input: {} },
      },
      { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '' } },
      { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '{"ci' } },
      {
        type: 'content_block_delta',
        index: 1,
        delta: { type: 'input_json_delta', partial_json: 'ty":"Paris"}' },
      },
      { type: 'content_block_stop', index: 1 },
      {
        type: 'content_block_start',
        index: 2,
        content_block: { type: 'tool_use', id: 'toolu_b', name: 't', input: {} },
      },
      { type: 'content_block_delta', index: 2, delta: { type: 'input_json_delta', partial_json: '{}' } },
      { type: 'content_block_stop', index: 2 },
      { type: 'message_delta', delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 20 } },
      stop,
    ])
    expect(deltas(items)).toEqual([
      { role: 'assistant', content: '' },
      { reasoning: 'Hmm.', reasoning_details: [{ type: 'reasoning.text', index: 0, text: 'Hmm.' }] },
      { reasoning_details: [{ type: 'reasoning.text', index: 0, signature: 'sig' }] },
      { tool_calls: [{ index: 0, id: 'toolu_a', type: 'function', function: { name: 'w', arguments: '' } }] },
      { tool_calls: [{ index: 0, function: { arguments: '{"ci' } }] },
      { tool_calls: [{ index: 0, function: { arguments: 'ty":"Paris"}' } }] },
      { tool_calls: [{ index: 1, id: 'toolu_b', type: 'function', function: { name: 't', arguments: '' } }] },
      { tool_calls: [{ index: 1, function: { arguments: '{}' } }] },
      {},
    ])
    expect(items[items.length - 2].chunk!.choices[0].finish_reason).toBe('tool_calls')
  })

  it('gives a tool call that streamed no arguments the arguments {}', async () => {
    const items = await collect([
      start(),
      {
        type: 'content_block_start',
        index: 0,
        content_block: { type: 'tool_use', id: 'toolu_a', name: 'now', input: {} },
      },
      { type: 'content_block_stop', index: 0 },
      { type: 'message_delta', delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 2 } },
      stop,
    ])
    const args = deltas(items)
      .flatMap((d) => d.tool_calls ?? [])
      .map((t) => t.function?.arguments ?? '')
      .join('')
    expect(args).toBe('{}')
  })

  it('passes redacted thinking on as an encrypted reasoning detail', async () => {
    const items = await collect([
      start(),
      { type: 'content_block_start', index: 0, content_block: { type: 'redacted_thinking', data: 'opaque' } },
      { type: 'content_block_stop', index: 0 },
      { type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 2 } },
      stop,
    ])
    expect(deltas(items)[1]).toEqual({
      reasoning_details: [{ type: 'reasoning.encrypted', index: 0, data: 'opaque' }],
    })
  })

  it('fails with upstream_stream_error on an error event', async () => {
    const err = await collect([
      start(),
      { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } },
    ]).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(GatewayError)
    expect((err as GatewayError).code).toBe('upstream_stream_error')
    expect((err as GatewayError).message).toMatch(/overloaded_error: Overloaded/)
    expect((err as GatewayError).retryable).toBe(true)
  })

  it('fails when the stream ends without message_stop', async () => {
    const err = await collect([
      start(),
      { type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 1 } },
    ]).catch((e: unknown) => e)
    expect((err as GatewayError).code).toBe('upstream_stream_error')
    expect((err as GatewayError).message).toMatch(/message_stop/)
  })

  it('fails with upstream_stream_error on an event that is not JSON', async () => {
    const err = await collect([start()], ['event: content_block_delta\ndata: {"broken": \n\n']).catch(
      (e: unknown) => e,
    )
    expect((err as GatewayError).code).toBe('upstream_stream_error')
  })

  it('yields each event as it arrives, without waiting for the end of the stream', async () => {
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    async function* slow(): AsyncGenerator<Buffer> {
      yield Buffer.from(frame(start()))
      await gate
      yield Buffer.from(frame(stop))
    }
    const it = translateAnthropicStream(slow(), 'anthropic')[Symbol.asyncIterator]()
    const first = await it.next()
    expect(first.value?.chunk?.choices[0].delta).toEqual({ role: 'assistant', content: '' })
    release()
    expect((await it.next()).value?.usageOnly).toBe(true)
    expect((await it.next()).done).toBe(true)
  })
})
