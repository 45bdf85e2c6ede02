import { describe, expect, it } from 'vitest'
import { GatewayError } from '../../core/errors.js'
import type { ChatStreamItem } from '../../core/provider-adapter.js'
import { translateGeminiStream } from './stream.js'

const frame = (parts: any[], extra: Record<string, unknown> = {}) => ({
  candidates: [{ content: { role: 'model', parts }, index: 0, ...extra }],
  modelVersion: 'gemini-2.5-flash',
  responseId: 'r1',
})
const usage = { promptTokenCount: 3, candidatesTokenCount: 4, totalTokenCount: 7 }

async function* body(events: unknown[]): AsyncGenerator<Buffer> {
  for (const e of events) yield Buffer.from(`data: ${typeof e === 'string' ? e : JSON.stringify(e)}\r\n\r\n`)
}

async function collect(events: unknown[]): Promise<ChatStreamItem[]> {
  const out: ChatStreamItem[] = []
  for await (const item of translateGeminiStream(body(events), 'gemini', 'gemini-2.5-flash')) out.push(item)
  return out
}

async function failure(events: unknown[]): Promise<GatewayError> {
  try {
    await collect(events)
  } catch (err) {
    return err as GatewayError
  }
  throw new Error('the stream did not fail')
}

describe('translateGeminiStream', () => {
  it('opens with the assistant role, streams text, finishes, then sends one usage-only chunk', async () => {
    const items = await collect([
      frame([{ text: 'Echo: ' }]),
      frame([{ text: 'hi' }], { finishReason: 'STOP' }),
      { ...frame([]), candidates: undefined, usageMetadata: usage },
    ])
    expect(items.map((i) => i.chunk!.choices[0]?.delta ?? null)).toEqual([
      { role: 'assistant', content: '' },
      { content: 'Echo: ' },
      { content: 'hi' },
      {},
      null,
    ])
    expect(items[3].chunk!.choices[0].finish_reason).toBe('stop')
    const last = items[items.length - 1]
    expect(last.usageOnly).toBe(true)
    expect(last.chunk!.choices).toEqual([])
    expect(last.usage).toEqual({ prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 })
    expect(items.every((i) => i.chunk!.id === 'r1' && i.chunk!.object === 'chat.completion.chunk')).toBe(true)
  })

  it('gives each function call one tool-call delta with its full arguments, indexed across frames', async () => {
    const items = await collect([
      frame([{ functionCall: { name: 'a', args: { x: 1 } }, thoughtSignature: 'SIG' }]),
      {
        ...frame([{ functionCall: { name: 'b', args: { y: 2 } } }], { finishReason: 'STOP' }),
        usageMetadata: usage,
      },
    ])
    const calls = items.flatMap((i) => i.chunk!.choices[0]?.delta.tool_calls ?? [])
    expect(calls).toEqual([
      {
        index: 0,
        id: expect.stringMatching(/^call_0_/),
        type: 'function',
        function: { name: 'a', arguments: '{"x":1}' },
        extra_content: { google: { thought_signature: 'SIG' } },
      },
      {
        index: 1,
        id: expect.stringMatching(/^call_1_/),
        type: 'function',
        function: { name: 'b', arguments: '{"y":2}' },
      },
    ])
    expect(items.find((i) => i.chunk!.choices[0]?.finish_reason)?.chunk!.choices[0].finish_reason).toBe(
      'tool_calls',
    )
  })

  it('streams thought parts as reasoning', async () => {
    const items = await collect([
      frame([{ text: 'thinking', thought: true, thoughtSignature: 'T' }]),
      {
        ...frame([{ text: 'done' }], { finishReason: 'STOP' }),
        usageMetadata: { ...usage, thoughtsTokenCount: 2 },
      },
    ])
    expect(items[1].chunk!.choices[0].delta).toEqual({
      reasoning: 'thinking',
      reasoning_details: [
        { type: 'reasoning.text', index: 0, text: 'thinking', signature: 'T', format: 'google-gemini-v1' },
      ],
    })
    expect(items[items.length - 1].usage).toMatchObject({
      completion_tokens: 6,
      completion_tokens_details: { reasoning_tokens: 2 },
    })
  })

  it('translates frame by frame without waiting for the end of the stream', async () => {
    let release!: () => void
    const held = new Promise<void>((r) => (release = r))
    async function* slow(): AsyncGenerator<Buffer> {
      yield Buffer.from(`data: ${JSON.stringify(frame([{ text: 'first' }]))}\n\n`)
      await held
      yield Buffer.from(`data: ${JSON.stringify(frame([], { finishReason: 'STOP' }))}\n\n`)
    }
    const it = translateGeminiStream(slow(), 'gemini', 'm')[Symbol.asyncIterator]()
    expect((await it.next()).value.chunk.choices[0].delta.role).toBe('assistant')
    expect((await it.next()).value.chunk.choices[0].delta.content).toBe('first')
    release()
    expect((await it.next()).value.chunk.choices[0].finish_reason).toBe('stop')
  })

  it('fails with upstream_stream_error on an error frame', async () => {
    const err = await failure([
      frame([{ text: 'a' }]),
      { error: { code: 503, message: 'overloaded', status: 'UNAVAILABLE' } },
    ])
    expect(err.code).toBe('upstream_stream_error')
    expect(err.message).toContain('overloaded')
    expect(err.retryable).toBe(true)
  })

  it('fails with upstream_stream_error on a malformed frame', async () => {
    const err = await failure([frame([{ text: 'a' }]), '{"broken": '])
    expect(err.code).toBe('upstream_stream_error')
  })

  it('fails when the stream ends without a finishReason', async () => {
    const err = await failure([frame([{ text: 'a' }])])
    expect(err.code).toBe('upstream_stream_error')
    expect(err.message).toContain('finishReason')
    expect((await failure([])).code).toBe('upstream_stream_error')
  })

  it('finishes a blocked prompt with content_filter', async () => {
    const items = await collect([{ promptFeedback: { blockReason: 'SAFETY' }, usageMetadata: usage }])
    expect(items.map((i) => i.chunk!.choices[0]?.finish_reason ?? null)).toEqual([
      null,
      'content_filter',
      null,
    ])
  })
})
