import type { ChatDelta, FinishReason } from '../../core/schemas/index.js'
import { deltaChunk, usageChunk } from '../chat-chunk.js'
import { eventJson, parseSse, streamBroken } from '../sse.js'
import type { ChatStreamItem } from '../../core/provider-adapter.js'
import { toFinishReason, toUsage } from './response.js'
import type { CohereStreamEvent } from './types.js'

/**
 * Translates Cohere's `/v2/chat` SSE stream into unified chat chunks, event by event. The tool
 * plan streams as content, as it does in the non-streamed answer when no text comes with it. A
 * stream that ends before `message-end` was cut and fails.
 */
export async function* translateCohereStream(
  body: AsyncIterable<Buffer>,
  model: string,
  provider: string,
): AsyncGenerator<ChatStreamItem> {
  let id = ''
  const created = Math.floor(Date.now() / 1000)
  const contentKinds = new Map<number, string>()
  const toolArgs = new Map<number, boolean>()
  let ended = false

  const chunk = (delta: ChatDelta, finish: FinishReason | null = null): ChatStreamItem =>
    deltaChunk(id, created, model, delta, finish)

  for await (const ev of parseSse(body, provider)) {
    if (ev.data === '[DONE]') break
    const event = eventJson<CohereStreamEvent>(provider, ev.data)
    if (ended) continue
    const message = event.delta?.message
    const content = message?.content && !Array.isArray(message.content) ? message.content : undefined
    const index = event.index ?? 0
    switch (event.type) {
      case 'message-start':
        id = event.id ?? id
        yield chunk({ role: 'assistant', content: '' })
        break
      case 'content-start':
        contentKinds.set(index, content?.type ?? 'text')
        if (content?.text) yield chunk({ content: content.text })
        if (content?.thinking) yield chunk(reasoningDelta(content.thinking))
        break
      case 'content-delta':
        if (content?.text) yield chunk({ content: content.text })
        if (content?.thinking) yield chunk(reasoningDelta(content.thinking))
        break
      case 'tool-plan-delta':
        if (message?.tool_plan) yield chunk({ content: message.tool_plan })
        break
      case 'tool-call-start': {
        const call = message?.tool_calls
        const args = call?.function?.arguments ?? ''
        toolArgs.set(index, args !== '')
        yield chunk({
          tool_calls: [
            {
              index,
              id: call?.id ?? '',
              type: 'function',
              function: { name: call?.function?.name ?? '', arguments: args },
            },
          ],
        })
        break
      }
      case 'tool-call-delta': {
        const args = message?.tool_calls?.function?.arguments
        if (args) {
          toolArgs.set(index, true)
          yield chunk({ tool_calls: [{ index, function: { arguments: args } }] })
        }
        break
      }
      case 'tool-call-end':
        // A call without arguments: `{}`, as the non-streamed answer would say.
        if (toolArgs.get(index) === false) {
          yield chunk({ tool_calls: [{ index, function: { arguments: '{}' } }] })
        }
        break
      case 'message-end': {
        if (event.delta?.error) throw streamBroken(provider, new Error(event.delta.error))
        ended = true
        yield chunk({}, toFinishReason(event.delta?.finish_reason) ?? 'stop')
        yield usageChunk(id, created, model, toUsage(event.delta?.usage))
        break
      }
    }
  }
  if (!ended) throw streamBroken(provider, new Error('the stream ended before message-end'))
}

function reasoningDelta(text: string): ChatDelta {
  return { reasoning: text, reasoning_details: [{ type: 'reasoning.text', index: 0, text }] }
}
