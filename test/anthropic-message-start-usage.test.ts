import Anthropic from '@anthropic-ai/sdk'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startFakeAnthropic } from './fakes/anthropic.js'
import type { FakeServer } from './fakes/server.js'
import { fakeProvider, startHeimdall, type RunningHeimdall } from './helpers/heimdall.js'

/**
 * Clients that read the prompt's tokens only from `message_start` (LangChain's ChatAnthropic) see
 * what the upstream reported there, not zero.
 */
let anthropic: FakeServer
let gw: RunningHeimdall
let client: Anthropic

beforeAll(async () => {
  anthropic = await startFakeAnthropic()
  gw = await startHeimdall({ providers: { anthropic: fakeProvider(anthropic.url) } })
  client = new Anthropic({ baseURL: `${gw.url}/anthropic`, apiKey: 'sk-ant-unused', maxRetries: 0 })
})
afterAll(async () => {
  await gw?.close()
  await anthropic?.close()
})

describe('message_start usage on /anthropic/v1/messages streams', () => {
  it('carries the input tokens Anthropic reported in its own message_start', async () => {
    const stream = client.messages.stream({
      model: 'claude-sonnet-4-5-20250929',
      max_tokens: 100,
      system: [{ type: 'text', text: 'Be brief.', cache_control: { type: 'ephemeral' } }],
      messages: [{ role: 'user', content: 'count the words of this prompt' }],
    })
    const starts: Anthropic.RawMessageStartEvent[] = []
    // A copy: the SDK goes on to update the started message with the later usage.
    for await (const ev of stream) if (ev.type === 'message_start') starts.push(structuredClone(ev))
    const final = await stream.finalMessage()
    expect(starts).toHaveLength(1)
    const usage = starts[0].message.usage
    expect(usage.input_tokens).toBeGreaterThan(0)
    expect(usage.input_tokens).toBe(final.usage.input_tokens)
    expect(usage.cache_creation_input_tokens).toBe(4)
    expect(usage.output_tokens).toBe(0)
  })
})
