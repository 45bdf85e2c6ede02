import { describe, expect, it } from 'vitest'
import type { ChatStreamItem } from '../../core/provider-adapter.js'
import { relayOpenAIFrames, relayOpenAIStream } from './stream.js'

async function* pieces(...parts: string[]): AsyncGenerator<Buffer> {
  for (const p of parts) yield Buffer.from(p)
}

async function collect(it: AsyncIterable<ChatStreamItem>): Promise<ChatStreamItem[]> {
  const out: ChatStreamItem[] = []
  for await (const item of it) out.push(item)
  return out
}

const chunk = (content: string) =>
  `data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":${JSON.stringify(content)}},"finish_reason":null}],"usage":null}\n\n`
const usage =
  'data: {"id":"c","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}\n\n'

/** The bytes a pass-through relay writes, joined. */
const written = (items: ChatStreamItem[]) =>
  items.map((i) => (i.frames ? i.frames.toString('utf8') : `data: ${i.data}\n\n`)).join('')

describe('relayOpenAIFrames', () => {
  it('passes plain events through byte for byte and reads usage from the usage event', async () => {
    const items = await collect(
      relayOpenAIFrames(pieces(chunk('Hel') + chunk('lo'), usage + 'data: [DONE]\n\n'), 'openai'),
    )
    expect(written(items)).toBe(chunk('Hel') + chunk('lo') + usage)
    const u = items.find((i) => i.usage)
    expect(u?.usage?.total_tokens).toBe(5)
    expect(u?.usageOnly).toBe(true)
    expect(items.filter((i) => i.frames).length).toBeGreaterThan(0)
  })

  it('joins an event split across chunks, and multi-byte characters split across chunks', async () => {
    const whole = chunk('héllo ✓')
    const bytes = Buffer.from(whole)
    const cut = bytes.indexOf(Buffer.from('✓')) + 1
    async function* split() {
      yield bytes.subarray(0, cut)
      yield bytes.subarray(cut)
      yield Buffer.from('data: [DONE]\n\n')
    }
    expect(written(await collect(relayOpenAIFrames(split(), 'openai')))).toBe(whole)
  })

  it('treats [DONE] inside content as content', async () => {
    const items = await collect(
      relayOpenAIFrames(pieces(chunk('say [DONE] now'), 'data: [DONE]\n\n'), 'openai'),
    )
    expect(written(items)).toBe(chunk('say [DONE] now'))
  })

  it('reads usage written with spaces', async () => {
    const spaced =
      'data: {"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}\n\n'
    const items = await collect(relayOpenAIFrames(pieces(chunk('a'), spaced, 'data: [DONE]\n\n'), 'openai'))
    expect(items.find((i) => i.usage)?.usage?.total_tokens).toBe(2)
  })

  it('falls back to event-by-event relaying for CRLF framing', async () => {
    const crlf = (chunk('x') + usage + 'data: [DONE]\n\n').replace(/\n/g, '\r\n')
    const items = await collect(relayOpenAIFrames(pieces(crlf), 'openai'))
    expect(items.find((i) => i.usage)?.usage?.total_tokens).toBe(5)
    expect(items.some((i) => i.chunk?.choices?.[0]?.delta?.content === 'x' || i.data?.includes('"x"'))).toBe(
      true,
    )
  })

  it('keeps comments, sends the events before a broken one, then fails', async () => {
    const it = relayOpenAIFrames(pieces(': keep-alive\n\n' + chunk('a') + 'data: {"broken": \n\n'), 'openai')
    const seen: ChatStreamItem[] = []
    await expect(
      (async () => {
        for await (const item of it) seen.push(item)
      })(),
    ).rejects.toMatchObject({ code: 'upstream_stream_error' })
    expect(written(seen)).toBe(': keep-alive\n\n' + chunk('a'))
  })

  it('fails on an error event and on a stream that ends without [DONE]', async () => {
    await expect(
      collect(
        relayOpenAIFrames(pieces(chunk('a'), 'data: {"error":{"message":"overloaded"}}\n\n'), 'openai'),
      ),
    ).rejects.toThrow(/overloaded/)
    await expect(collect(relayOpenAIFrames(pieces(chunk('a')), 'openai'))).rejects.toThrow(/before \[DONE\]/)
  })
})

describe('relayOpenAIStream', () => {
  it('gives one item per event with the usage read', async () => {
    const items = await collect(relayOpenAIStream(pieces(chunk('a') + usage, 'data: [DONE]\n\n'), 'openai'))
    expect(items).toHaveLength(2)
    expect(items[1].usage?.prompt_tokens).toBe(3)
  })
})

describe('content counted in relayed frames (for usage estimates when a stream has none)', () => {
  it('counts short deltas after a longer role event, and counts escapes as written', async () => {
    const role =
      'data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"finish_reason":null}],"usage":null}\n\n'
    const items = await collect(
      relayOpenAIFrames(pieces(role, chunk('a'), chunk('bc') + chunk('d"e'), 'data: [DONE]\n\n'), 'openai'),
    )
    const counted = items.reduce((n, i) => n + (i.contentChars ?? 0), 0)
    // a, bc, d\"e (four characters as written)
    expect(counted).toBe(1 + 2 + 4)
  })
})
