import { describe, expect, it } from 'vitest'
import type { ChatStreamItem } from '../../core/provider-adapter.js'
import type { Usage } from '../../core/schemas/index.js'
import { anthropicUsageToUsage, translateAnthropicStream } from '../../providers/anthropic/index.js'
import { encodeEvent } from '../../providers/bedrock/eventstream.js'
import { toUsage as converseUsage } from '../../providers/bedrock/response.js'
import { translateConverseStream } from '../../providers/bedrock/stream.js'
import { toUsage as geminiUsage } from '../../providers/gemini/response.js'
import { translateGeminiStream } from '../../providers/gemini/stream.js'
import { relayOpenAIStream } from '../../providers/openai/stream.js'
import { computeCost } from './cost.js'

/**
 * The cost of every prompt-cache combination, for each provider's own usage report as it arrives
 * on the wire, answered whole and streamed: the provider's usage goes through the same translation
 * a request takes, then through computeCost. Every figure below is worked out by hand from the
 * list prices (dollars per million tokens) and must match to the nano-dollar, streamed or not.
 *
 * Prompt: 1,000 uncached tokens plus the cache tokens of the row; 500 output tokens.
 *   gpt-4o:              input 2.50, cached input 1.25, output 10
 *   gpt-4o-2024-05-13:   input 5, output 15, no cached price (reads fall back to the input price)
 *   claude-sonnet-4-5:   input 3, read 0.30 (0.1x), 5-minute write 3.75 (1.25x), 1-hour write 6 (2x), output 15
 *   gemini-2.5-flash:    input 0.30, cached 0.03, output 2.50
 *   Bedrock Claude (us.anthropic.claude-sonnet-4-5-20250929-v1:0): as Anthropic's claude-sonnet-4-5
 */
interface Row {
  name: string
  provider: 'openai' | 'anthropic' | 'gemini' | 'bedrock'
  model: string
  read: number
  write5m: number
  write1h: number
  /** Hand-computed, in dollars. */
  dollars: number
  fallbacks?: string[]
}

const ROWS: Row[] = [
  // 1000×2.50 + 2000×1.25 + 500×10 = 2500 + 2500 + 5000 µ$
  {
    name: 'OpenAI cache read',
    provider: 'openai',
    model: 'gpt-4o',
    read: 2000,
    write5m: 0,
    write1h: 0,
    dollars: 0.01,
  },
  // 1000×2.50 + 500×10 (OpenAI reports no cache, nothing to discount)
  {
    name: 'OpenAI no cache',
    provider: 'openai',
    model: 'gpt-4o',
    read: 0,
    write5m: 0,
    write1h: 0,
    dollars: 0.0075,
  },
  // 3000×5 + 500×15: the read has no price of its own, so it costs the input price, never $0
  {
    name: 'OpenAI unpriced cache read',
    provider: 'openai',
    model: 'gpt-4o-2024-05-13',
    read: 2000,
    write5m: 0,
    write1h: 0,
    dollars: 0.0225,
    fallbacks: ['cache_read_at_input_price'],
  },
  // 1000×3 + 2000×0.30 + 500×15 = 3000 + 600 + 7500
  {
    name: 'Anthropic read',
    provider: 'anthropic',
    model: 'claude-sonnet-4-5',
    read: 2000,
    write5m: 0,
    write1h: 0,
    dollars: 0.0111,
  },
  // 1000×3 + 3000×3.75 + 500×15 = 3000 + 11250 + 7500
  {
    name: 'Anthropic 5-minute write',
    provider: 'anthropic',
    model: 'claude-sonnet-4-5',
    read: 0,
    write5m: 3000,
    write1h: 0,
    dollars: 0.02175,
  },
  // 1000×3 + 3000×6 + 500×15 = 3000 + 18000 + 7500
  {
    name: 'Anthropic 1-hour write',
    provider: 'anthropic',
    model: 'claude-sonnet-4-5',
    read: 0,
    write5m: 0,
    write1h: 3000,
    dollars: 0.0285,
  },
  // 1000×3 + 2000×0.30 + 1000×3.75 + 2000×6 + 500×15 = 3000 + 600 + 3750 + 12000 + 7500
  {
    name: 'Anthropic read + both writes',
    provider: 'anthropic',
    model: 'claude-sonnet-4-5',
    read: 2000,
    write5m: 1000,
    write1h: 2000,
    dollars: 0.02685,
  },
  // 1000×0.30 + 2000×0.03 + 500×2.50 = 300 + 60 + 1250
  {
    name: 'Gemini cached content',
    provider: 'gemini',
    model: 'gemini-2.5-flash',
    read: 2000,
    write5m: 0,
    write1h: 0,
    dollars: 0.00161,
  },
  {
    name: 'Bedrock Claude read',
    provider: 'bedrock',
    model: BEDROCK(),
    read: 2000,
    write5m: 0,
    write1h: 0,
    dollars: 0.0111,
  },
  {
    name: 'Bedrock Claude 5-minute write',
    provider: 'bedrock',
    model: BEDROCK(),
    read: 0,
    write5m: 3000,
    write1h: 0,
    dollars: 0.02175,
  },
  {
    name: 'Bedrock Claude 1-hour write',
    provider: 'bedrock',
    model: BEDROCK(),
    read: 0,
    write5m: 0,
    write1h: 3000,
    dollars: 0.0285,
  },
  {
    name: 'Bedrock Claude read + both writes',
    provider: 'bedrock',
    model: BEDROCK(),
    read: 2000,
    write5m: 1000,
    write1h: 2000,
    dollars: 0.02685,
  },
]

function BEDROCK(): string {
  return 'us.anthropic.claude-sonnet-4-5-20250929-v1:0'
}

const UNCACHED = 1000
const OUTPUT = 500

/** The row's usage as the provider's own wire format reports it. */
function wireUsage(r: Row): Record<string, unknown> {
  const written = r.write5m + r.write1h
  switch (r.provider) {
    case 'openai':
      return {
        prompt_tokens: UNCACHED + r.read,
        completion_tokens: OUTPUT,
        total_tokens: UNCACHED + r.read + OUTPUT,
        prompt_tokens_details: { cached_tokens: r.read },
      }
    case 'anthropic':
      return {
        input_tokens: UNCACHED,
        cache_read_input_tokens: r.read,
        cache_creation_input_tokens: written,
        cache_creation: { ephemeral_5m_input_tokens: r.write5m, ephemeral_1h_input_tokens: r.write1h },
        output_tokens: OUTPUT,
      }
    case 'gemini':
      return {
        promptTokenCount: UNCACHED + r.read,
        cachedContentTokenCount: r.read,
        candidatesTokenCount: OUTPUT,
        totalTokenCount: UNCACHED + r.read + OUTPUT,
      }
    case 'bedrock':
      return {
        inputTokens: UNCACHED,
        outputTokens: OUTPUT,
        totalTokens: UNCACHED + r.read + written + OUTPUT,
        ...(r.read && { cacheReadInputTokens: r.read }),
        ...(written && {
          cacheWriteInputTokens: written,
          cacheDetails: [
            ...(r.write5m ? [{ ttl: '5m', inputTokens: r.write5m }] : []),
            ...(r.write1h ? [{ ttl: '1h', inputTokens: r.write1h }] : []),
          ],
        }),
      }
  }
}

function wholeUsage(r: Row): Usage {
  const u = wireUsage(r) as never
  switch (r.provider) {
    case 'openai':
      return u
    case 'anthropic':
      return anthropicUsageToUsage(u)
    case 'gemini':
      return geminiUsage(u)
    case 'bedrock':
      return converseUsage(u)!
  }
}

async function* chunks(parts: (string | Uint8Array)[]): AsyncGenerator<Buffer> {
  for (const p of parts) yield Buffer.from(p)
}

const sse = (data: unknown, event?: string) =>
  `${event ? `event: ${event}\n` : ''}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`

/** The row's usage as the provider streams it, translated as a streamed request's is; the final usage. */
async function streamedUsage(r: Row): Promise<Usage> {
  const u = wireUsage(r)
  let items: AsyncGenerator<ChatStreamItem>
  switch (r.provider) {
    case 'openai': {
      const chunk = { id: 'c1', object: 'chat.completion.chunk', created: 1, model: r.model }
      items = relayOpenAIStream(
        chunks([
          sse({ ...chunk, choices: [{ index: 0, delta: { content: 'hi' }, finish_reason: 'stop' }] }),
          sse({ ...chunk, choices: [], usage: u }),
          sse('[DONE]'),
        ]),
        'openai',
      )
      break
    }
    case 'anthropic': {
      const message = { id: 'msg_1', type: 'message', role: 'assistant', model: r.model, content: [] }
      // message_delta repeats the prompt's figures with the final output count, as the API does now:
      // they must replace message_start's, never add to them.
      items = translateAnthropicStream(
        chunks([
          sse(
            { type: 'message_start', message: { ...message, usage: { ...u, output_tokens: 1 } } },
            'message_start',
          ),
          sse(
            { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
            'content_block_start',
          ),
          sse(
            { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'hi' } },
            'content_block_delta',
          ),
          sse({ type: 'content_block_stop', index: 0 }, 'content_block_stop'),
          sse({ type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: u }, 'message_delta'),
          sse({ type: 'message_stop' }, 'message_stop'),
        ]),
        'anthropic',
      )
      break
    }
    case 'gemini': {
      const text = (t: string, finish?: string) => ({
        candidates: [
          {
            index: 0,
            content: { role: 'model', parts: [{ text: t }] },
            ...(finish && { finishReason: finish }),
          },
        ],
        usageMetadata: u,
      })
      items = translateGeminiStream(chunks([sse(text('h')), sse(text('i', 'STOP'))]), 'gemini', r.model)
      break
    }
    case 'bedrock':
      items = translateConverseStream(
        chunks([
          encodeEvent('messageStart', { role: 'assistant' }),
          encodeEvent('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'hi' } }),
          encodeEvent('contentBlockStop', { contentBlockIndex: 0 }),
          encodeEvent('messageStop', { stopReason: 'end_turn' }),
          encodeEvent('metadata', { usage: u, metrics: { latencyMs: 5 } }),
        ]),
        'bedrock',
        r.model,
        'req-1',
      )
      break
  }
  let last: Usage | undefined
  for await (const item of items) if (item.usage) last = item.usage
  if (!last) throw new Error(`${r.name}: the stream carried no usage`)
  return last
}

describe('prompt-cache costs, by provider and cache kind, streamed and not', () => {
  for (const row of ROWS) {
    for (const streamed of [false, true]) {
      it(`${row.name}, ${streamed ? 'streamed' : 'not streamed'}: $${row.dollars}`, async () => {
        const usage = streamed ? await streamedUsage(row) : wholeUsage(row)
        const result = computeCost(row.provider, row.model, usage)
        expect(result.priced).toBe(true)
        expect(Math.abs(result.cost - row.dollars), `${result.cost}`).toBeLessThan(1e-9)
        expect(result.fallbacks).toEqual(row.fallbacks)
        expect(result.breakdown.cache_write_1h).toBeCloseTo((row.write1h * 6) / 1e6, 12)
      })
    }
  }

  it('a 1-hour write with no 1-hour price costs the 5-minute write price, and says so', () => {
    const usage: Usage = {
      prompt_tokens: 4000,
      completion_tokens: 0,
      total_tokens: 4000,
      prompt_tokens_details: { cache_creation_tokens: 3000, cached_write_1h_tokens: 3000 },
    }
    const override = {
      id: 'o1',
      patch: { input_cost_per_token: 1e-6, cache_creation_input_token_cost: 2e-6 },
    }
    const r = computeCost('custom', 'in-house', usage, { override: override as never })
    // 1000×1 + 3000×2 µ$
    expect(r.cost).toBeCloseTo(0.007, 12)
    expect(r.fallbacks).toEqual(['cache_write_1h_at_5m_price'])
  })
})
