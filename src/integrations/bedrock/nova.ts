import type { ConverseRequest, ConverseUsage } from '../../providers/index.js'
import {
  invalid,
  isObject,
  optionalNumber,
  optionalStrings,
  type InvokeBody,
  type InvokeExchange,
} from './invoke-body.js'
import { converseToChat, validateConverseBody } from './parse.js'
import { chatToConverse } from './response.js'
import { translateChatToConverseStream } from './stream.js'

/** Nova reports cache tokens as `cacheRead/WriteInputTokenCount` where Converse says `...Tokens`. */
function novaUsage(u: ConverseUsage) {
  return {
    inputTokens: u.inputTokens,
    outputTokens: u.outputTokens,
    totalTokens: u.totalTokens,
    ...(u.cacheReadInputTokens && { cacheReadInputTokenCount: u.cacheReadInputTokens }),
    ...(u.cacheWriteInputTokens && { cacheWriteInputTokenCount: u.cacheWriteInputTokens }),
  }
}

/** Nova's inferenceConfig takes both its snake_case names (max_new_tokens, top_p) and Converse's. */
function inferenceConfig(body: InvokeBody): ConverseRequest['inferenceConfig'] {
  const c = body.inferenceConfig
  if (c === undefined) return undefined
  if (!isObject(c)) throw invalid('inferenceConfig: expected an object', 'inferenceConfig')
  const out: NonNullable<ConverseRequest['inferenceConfig']> = {}
  const maxTokens = optionalNumber(c, 'max_new_tokens', true) ?? optionalNumber(c, 'maxTokens', true)
  const topP = optionalNumber(c, 'top_p') ?? optionalNumber(c, 'topP')
  const temperature = optionalNumber(c, 'temperature')
  const stop = optionalStrings(c, 'stopSequences')
  if (maxTokens !== undefined) out.maxTokens = maxTokens
  if (temperature !== undefined) out.temperature = temperature
  if (topP !== undefined) out.topP = topP
  if (stop) out.stopSequences = stop
  return out
}

/**
 * Amazon Nova's InvokeModel body (`schemaVersion: messages-v1`, Converse-style `system`,
 * `messages`, `toolConfig`, and `inferenceConfig`), answered with `output.message`, `stopReason`
 * and `usage`; streamed as one chunk per Converse event (`{"contentBlockDelta": {...}}`).
 */
export function novaExchange(body: InvokeBody, model: string): InvokeExchange {
  const { schemaVersion: _schema, inferenceConfig: _config, ...rest } = body
  const converse = validateConverseBody({ ...rest, inferenceConfig: inferenceConfig(body) })
  const request = converseToChat(converse, model)
  return {
    request,
    respond(res) {
      const { output, stopReason, usage } = chatToConverse(res, 0)
      return { output, stopReason, usage: novaUsage(usage) }
    },
    async *stream(items, meter) {
      for await (const e of translateChatToConverseStream(items, Date.now())) {
        if (e.type !== 'metadata') {
          yield { [e.type]: e.payload }
          continue
        }
        yield meter.closing({ metadata: { usage: novaUsage(e.payload.usage), metrics: {}, trace: {} } })
      }
    },
  }
}
