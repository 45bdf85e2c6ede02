import Anthropic from '@anthropic-ai/sdk'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startFakeAnthropic } from './fakes/anthropic.js'
import { startFakeGemini } from './fakes/gemini.js'
import type { FakeServer } from './fakes/server.js'
import { fakeProvider, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'

/**
 * Clients that read the prompt's tokens only from `message_start` (LangChain's ChatAnthropic) see
 * what the upstream reported there, not zero.
 */
let anthropic: FakeServer
let gemini: FakeServer
let gw: RunningHeimdall
let client: Anthropic

beforeAll(async () => {
  ;[anthropic, gemini] = await Promise.all([startFakeAnthropic(), startFakeGemini()])
  gw = await startHeimdall({
    providers: { anthropic: fakeProvider(anthropic.url), gemini: fakeProvider(gemini.url) },
  })
  client = new Anthropic({ baseURL: `${gw.url}/anthropic`, apiKey: 'sk-ant-unused', maxRetries: 0 })
})
afterAll(async () => {
  await gw?.close()
  await Promise.all([anthropic?.close(), gemini?.close()])
})

/** The message_start events of a stream, copied as they came (the SDK updates the started message later). */
async function startsOf(stream: ReturnType<Anthropic['messages']['stream']>) {
  const starts: Anthropic.RawMessageStartEvent[] = []
  for await (const ev of stream) if (ev.type === 'message_start') starts.push(structuredClone(ev))
  return starts
}

describe('message_start usage on /anthropic/v1/messages streams', () => {
  it('carries the input tokens Anthropic reported in its own message_start', async () => {
    const stream = client.messages.stream({
      model: 'claude-sonnet-4-5-20250929',
      max_tokens: 100,
      system: [{ type: 'text', text: 'Be brief.', cache_control: { type: 'ephemeral' } }],
      messages: [{ role: 'user', content: 'count the words of this prompt' }],
    })
    const starts = await startsOf(stream)
    const final = await stream.finalMessage()
    expect(starts).toHaveLength(1)
    const usage = starts[0].message.usage
    expect(usage.input_tokens).toBeGreaterThan(0)
    expect(usage.input_tokens).toBe(final.usage.input_tokens)
    expect(usage.cache_creation_input_tokens).toBe(4)
    expect(usage.output_tokens).toBe(0)
  })

  it('carries the prompt tokens Gemini reported on its first frame, for a Gemini model', async () => {
    const stream = client.messages.stream({
      model: 'gemini/gemini-2.5-flash',
      max_tokens: 100,
      messages: [{ role: 'user', content: 'count the words of this prompt' }],
    })
    const starts = await startsOf(stream)
    const final = await stream.finalMessage()
    expect(starts).toHaveLength(1)
    expect(starts[0].message.usage.input_tokens).toBeGreaterThan(0)
    expect(starts[0].message.usage.input_tokens).toBe(final.usage.input_tokens)
  })
})
