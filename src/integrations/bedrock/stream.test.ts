import { describe, expect, it } from 'vitest'
import type { ChatDelta, FinishReason } from '../../core/schemas/index.js'
import type { ChatStreamItem } from '../../core/provider-adapter.js'
import { deltaChunk } from '../../providers/chat-chunk.js'
import { signatureFromRoute } from '../signature-origin.js'
import { translateChatToConverseStream, type ConverseEvent } from './stream.js'

const chunk = (delta: ChatDelta, finish: FinishReason | null = null): ChatStreamItem =>
  deltaChunk('c1', 0, 'm', delta, finish)

async function events(items: ChatStreamItem[]): Promise<ConverseEvent[]> {
  async function* gen() {
    yield* items
  }
  const out: ConverseEvent[] = []
  for await (const e of translateChatToConverseStream(gen(), Date.now())) out.push(e)
  return out
}

describe('translateChatToConverseStream', () => {
  it('keeps arguments that arrive before the tool name, and gives parallel calls their own blocks', async () => {
    const out = await events([
      chunk({ role: 'assistant', content: 'Checking. ' }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }),
      chunk({
        tool_calls: [{ index: 0, id: 'call_a', function: { name: 'weather', arguments: '"Oslo"}' } }],
      }),
      chunk({ tool_calls: [{ index: 1, id: 'call_b', function: { name: 'time', arguments: '{}' } }] }),
      chunk({}, 'tool_calls'),
      {
        ...chunk({}),
        usage: {
          prompt_tokens: 10,
          completion_tokens: 4,
          total_tokens: 14,
          prompt_tokens_details: { cached_tokens: 3 },
        },
      },
    ])
    expect(out.map((e) => e.type)).toEqual([
      'messageStart',
      'contentBlockDelta',
      'contentBlockStop',
      'contentBlockStart',
      'contentBlockDelta',
      'contentBlockStop',
      'contentBlockStart',
      'contentBlockDelta',
      'contentBlockStop',
      'messageStop',
      'metadata',
    ])
    expect(out[3].payload).toEqual({
      contentBlockIndex: 1,
      start: { toolUse: { toolUseId: 'call_a', name: 'weather' } },
    })
    expect(out[4].payload).toEqual({ contentBlockIndex: 1, delta: { toolUse: { input: '{"city":"Oslo"}' } } })
    expect(out[6].payload).toMatchObject({
      contentBlockIndex: 2,
      start: { toolUse: { toolUseId: 'call_b' } },
    })
    expect(out[9].payload).toEqual({ stopReason: 'tool_use' })
    expect(out[10].payload).toMatchObject({
      usage: { inputTokens: 7, outputTokens: 4, totalTokens: 14, cacheReadInputTokens: 3 },
    })
  })

  it('streams signed reasoning in its own block before the text', async () => {
    const out = await events([
      chunk({ reasoning: 'hmm', reasoning_details: [{ type: 'reasoning.text', text: 'hmm' }] }),
      chunk({
        reasoning_details: [{ type: 'reasoning.text', signature: 'sig1', format: 'bedrock-converse' }],
      }),
      chunk({ content: 'Answer' }, 'stop'),
    ])
    expect(out.slice(1, 5).map((e) => e.payload)).toEqual([
      { contentBlockIndex: 0, delta: { reasoningContent: { text: 'hmm' } } },
      { contentBlockIndex: 0, delta: { reasoningContent: { signature: 'sig1' } } },
      { contentBlockIndex: 0 },
      { contentBlockIndex: 1, delta: { text: 'Answer' } },
    ])
    expect(out.find((e) => e.type === 'messageStop')?.payload).toEqual({ stopReason: 'end_turn' })
  })

  it('marks the origin of a signature another family made, so that it goes back there', async () => {
    const out = await events([
      chunk({
        reasoning_details: [{ type: 'reasoning.text', index: 0, text: 'hmm', signature: 'claude-sig' }],
      }),
      chunk({ content: 'Answer' }, 'stop'),
    ])
    const sent = out.flatMap((e) =>
      e.type === 'contentBlockDelta' && e.payload.delta?.reasoningContent?.signature
        ? [e.payload.delta.reasoningContent.signature]
        : [],
    )
    expect(sent).toHaveLength(1)
    expect(sent[0]).not.toBe('claude-sig')
    expect(signatureFromRoute(sent[0], 'bedrock-converse')).toEqual({
      signature: 'claude-sig',
      format: 'anthropic-claude-v1',
    })
  })
})
