import { GatewayError } from '../../core/errors.js'
import type { ChatChunk, ChatDelta, FinishReason, Usage } from '../../core/schemas/index.js'
import type { ChatStreamItem } from '../../core/provider-adapter.js'
import { decodeEventStream } from './eventstream.js'
import { bedrockErrorOf } from './errors.js'
import { toFinishReason, toUsage } from './response.js'
import { BEDROCK_REASONING_FORMAT, type ConverseStreamEvents } from './types.js'

/**
 * Translates a ConverseStream body (AWS event-stream framing) into unified chunks, one per event:
 * text and reasoning deltas as they come, each tool call as an OpenAI tool-call delta keyed by its
 * own index, the finish reason at messageStop and usage from the trailing metadata event.
 */
export async function* translateConverseStream(
  body: AsyncIterable<Uint8Array>,
  providerName: string,
  model: string,
  requestId: string,
): AsyncGenerator<ChatStreamItem> {
  const id = `bedrock-${requestId}`
  const created = Math.floor(Date.now() / 1000)
  const chunk = (delta: ChatDelta, finish: FinishReason | null = null, usage?: Usage): ChatStreamItem => {
    const c: ChatChunk = {
      id,
      object: 'chat.completion.chunk',
      created,
      model,
      choices: [{ index: 0, delta, finish_reason: finish }],
    }
    if (usage) c.usage = usage
    return { chunk: c, ...(usage && { usage }) }
  }
  /** Tool-call index (OpenAI's) by content block index (Bedrock's). */
  const tools = new Map<number, number>()
  let finish: FinishReason | null = null
  try {
    for await (const msg of decodeEventStream(body)) {
      if (msg.messageType !== 'event') {
        const text = Buffer.from(msg.payload).toString('utf8')
        throw bedrockErrorOf(providerName, msg.name, text, true)
      }
      const payload: unknown = JSON.parse(Buffer.from(msg.payload).toString('utf8'))
      switch (msg.name) {
        case 'messageStart':
          yield chunk({ role: 'assistant', content: '' })
          break
        case 'contentBlockStart': {
          const e = payload as ConverseStreamEvents['contentBlockStart']
          const use = e.start?.toolUse
          if (use) {
            const index = tools.size
            tools.set(e.contentBlockIndex, index)
            yield chunk({
              tool_calls: [
                { index, id: use.toolUseId, type: 'function', function: { name: use.name, arguments: '' } },
              ],
            })
          }
          break
        }
        case 'contentBlockDelta': {
          const e = payload as ConverseStreamEvents['contentBlockDelta']
          const d = e.delta ?? {}
          if (d.text !== undefined) yield chunk({ content: d.text })
          else if (d.toolUse) {
            const index = tools.get(e.contentBlockIndex) ?? 0
            yield chunk({ tool_calls: [{ index, function: { arguments: d.toolUse.input } }] })
          } else if (d.reasoningContent) {
            const r = d.reasoningContent
            const detail = {
              type: r.redactedContent ? 'reasoning.encrypted' : 'reasoning.text',
              index: e.contentBlockIndex,
              format: BEDROCK_REASONING_FORMAT,
              ...(r.text !== undefined && { text: r.text }),
              ...(r.signature && { signature: r.signature }),
              ...(r.redactedContent && { data: r.redactedContent }),
            }
            yield chunk({ ...(r.text && { reasoning: r.text }), reasoning_details: [detail] })
          }
          break
        }
        case 'messageStop':
          finish = toFinishReason((payload as ConverseStreamEvents['messageStop']).stopReason)
          yield chunk({}, finish)
          break
        case 'metadata': {
          const usage = toUsage((payload as ConverseStreamEvents['metadata']).usage)
          if (usage) {
            const c = chunk({}, null, usage)
            c.chunk!.choices = []
            yield { ...c, usageOnly: true }
          }
          break
        }
      }
    }
  } catch (err) {
    if (err instanceof GatewayError) throw err
    throw new GatewayError(
      'upstream_stream_error',
      `${providerName} stream broke: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    )
  }
  if (finish === null) {
    throw new GatewayError('upstream_stream_error', `${providerName} stream ended before messageStop`)
  }
}
