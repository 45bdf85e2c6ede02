import { describe, expect, it } from 'vitest'
import { Cancellation } from '../../core/cancel.js'
import { createContext } from '../../core/context.js'
import { plainDelta, STREAM_STATE, streamAccumulator, streamedMessage, type StreamContent } from './entry.js'

function accumulate(items: unknown[]): Record<string, unknown> {
  const ctx = createContext({
    requestId: 'r',
    requestType: 'chat_completion_stream',
    signal: new Cancellation(),
    headers: {},
    modelRequested: 'openai/gpt-4o',
    startNs: process.hrtime.bigint(),
  })
  const observe = streamAccumulator(ctx)
  for (const item of items) observe(item)
  return streamedMessage(ctx.state.get(STREAM_STATE) as StreamContent)
}

const chunk = (delta: Record<string, unknown>, extra = '') =>
  `{"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":${JSON.stringify(delta)}${extra}}]}`
const frames = (...data: string[]) => ({ frames: Buffer.from(data.map((d) => `data: ${d}\n\n`).join('')) })

describe('streamed content kept for the request log', () => {
  it('joins text, escapes included, from raw frames and data texts, in order', () => {
    const message = accumulate([
      frames(chunk({ role: 'assistant', content: '' }), chunk({ content: 'Hel' })),
      { data: chunk({ content: 'lo "quoted"\n' }) },
      frames(chunk({ content: 'wörld \\ end' }), '{"choices":[],"usage":{"prompt_tokens":1}}', '[DONE]'),
    ])
    expect(message).toEqual({ role: 'assistant', content: 'Hello "quoted"\nwörld \\ end' })
  })

  it('keeps tool calls and reasoning between text chunks, and skips what is not JSON', () => {
    const message = accumulate([
      frames(chunk({ reasoning_content: 'think' }), chunk({ content: 'a' })),
      frames(
        'not json',
        chunk({
          tool_calls: [{ index: 0, id: 't1', type: 'function', function: { name: 'f', arguments: '{"x"' } }],
        }),
      ),
      frames(chunk({ tool_calls: [{ index: 0, function: { arguments: ':1}' } }] }), chunk({ content: 'b' })),
      { chunk: { choices: [{ delta: { content: 'c' } }] } },
      frames(chunk({ content: 'd' })),
    ])
    expect(message).toEqual({
      role: 'assistant',
      content: 'abcd',
      reasoning: 'think',
      tool_calls: [{ id: 't1', type: 'function', function: { name: 'f', arguments: '{"x":1}' } }],
    })
  })

  it('follows chunks whose envelope changes length, and short events between them', () => {
    const withId = (id: string, delta: Record<string, unknown>) =>
      `{"id":"${id}","object":"chat.completion.chunk","choices":[{"index":0,"delta":${JSON.stringify(delta)},"finish_reason":null}]}`
    const message = accumulate([
      frames(withId('c1', { role: 'assistant', content: '' }), withId('c1', { content: 'a' })),
      frames(withId('c1', { content: 'b' }), '{}', withId('c1', { content: 'c' })),
      frames(withId('c1-longer', { content: 'd' }), withId('c', { content: 'e' })),
      frames(
        withId('c1', { content: 'f' }),
        '{"choices":[{"index":0,"delta":{"content":"g"}},{"index":1,"delta":{"content":"x"}}]}',
        withId('c1', {
          tool_calls: [{ index: 0, id: 't', type: 'function', function: { name: 'n', arguments: '{}' } }],
        }),
      ),
    ])
    expect(message).toEqual({
      role: 'assistant',
      content: 'abcdefg',
      tool_calls: [{ id: 't', type: 'function', function: { name: 'n', arguments: '{}' } }],
    })
  })
})

describe('plainDelta', () => {
  it('reads a chunk whose delta is only role, content and nulls, escapes included', () => {
    expect(plainDelta(chunk({ content: 'a "b"\\n ✓' }))).toBe('a "b"\\n ✓')
    expect(plainDelta(chunk({ content: '' }))).toBe('')
    expect(plainDelta(chunk({ role: 'assistant', content: '' }))).toBe('')
    expect(plainDelta(chunk({ role: 'assistant', content: 'hi', refusal: null }))).toBe('hi')
    expect(plainDelta(chunk({}))).toBe('')
    expect(plainDelta(chunk({ content: null, tool_calls: null }))).toBe('')
  })

  it('decodes text beyond ASCII from the bytes when reading their latin1 view', () => {
    const bytes = Buffer.from(chunk({ content: 'wörld ✓ 🎉' }))
    expect(plainDelta(bytes.toString('latin1'), 0, bytes.length, bytes)).toBe('wörld ✓ 🎉')
  })

  it('leaves every other chunk to the parser', () => {
    expect(plainDelta(chunk({ content: 'a', reasoning_content: 'r' }))).toBeUndefined()
    expect(plainDelta(chunk({ refusal: 'no' }))).toBeUndefined()
    expect(plainDelta(chunk({ tool_calls: [] }))).toBeUndefined()
    expect(plainDelta(chunk({ role: 1 }))).toBeUndefined()
    expect(
      plainDelta('{"choices":[{"index":0,"delta":{"content":"a"}},{"index":1,"delta":{"content":"b"}}]}'),
    ).toBeUndefined()
    expect(plainDelta('{"choices":[{"delta":{"content":"cut')).toBeUndefined()
    expect(plainDelta('{"choices":[{"delta":{"content":"a"')).toBeUndefined()
    expect(plainDelta('{"choices":[{"delta":{"content":"\\x"}}]}')).toBeUndefined()
    expect(plainDelta('{"type":"response.output_text.delta","delta":"x"}')).toBeUndefined()
    expect(plainDelta(chunk({ content: 'a' }, ',"logprobs":{"content":[]}'))).toBeUndefined()
  })

  it('reads past flat fields of the choice, strings with braces included', () => {
    expect(plainDelta(chunk({ content: 'a' }, ',"logprobs":null,"finish_reason":"st}op"'))).toBe('a')
    expect(plainDelta(chunk({ content: 'a' }, ',"x":"\\"}],"'))).toBe('a')
  })

  it('reads only its own chunk of a longer text', () => {
    const a = chunk({ content: 'a' })
    const b = chunk({ content: 'b', reasoning: 'r' })
    expect(plainDelta(a + '\n' + b, a.length + 1)).toBeUndefined()
    expect(plainDelta(b + '\n' + a, 0, b.length)).toBeUndefined()
    expect(plainDelta(a + '\n' + b, 0, a.length)).toBe('a')
  })
})
