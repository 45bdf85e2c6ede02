import { GatewayError } from '../../core/errors.js'
import type { ChatMessage, ChatRequest, ContentPart, Tool } from '../../core/schemas/index.js'
import {
  assistantMessage,
  BEDROCK_REASONING_FORMAT,
  type AnswerParts,
  type ConverseContentBlock,
  type ConverseRequest,
} from '../../providers/index.js'
import { signatureFromRoute } from '../signature-origin.js'

function invalid(message: string, param?: string): GatewayError {
  return new GatewayError('invalid_request', message, { param, retryable: false })
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)

/** Checks the parts of a Converse body the translation relies on, with AWS-like messages. */
export function validateConverseBody(body: unknown): ConverseRequest {
  if (!isObject(body)) throw invalid('The request body must be a JSON object.')
  if (!Array.isArray(body.messages) || body.messages.length === 0)
    throw invalid(
      "1 validation error detected: Value at 'messages' failed to satisfy constraint: Member must not be null",
      'messages',
    )
  body.messages.forEach((m: unknown, i) => {
    if (!isObject(m) || (m.role !== 'user' && m.role !== 'assistant'))
      throw invalid(
        `Value at 'messages.${i + 1}.member.role' failed to satisfy constraint: Member must satisfy enum value set: [user, assistant]`,
        `messages.${i}.role`,
      )
    if (!Array.isArray(m.content) || m.content.some((b) => !isObject(b)))
      throw invalid(
        `Value at 'messages.${i + 1}.member.content' failed to satisfy constraint: Member must not be null`,
        `messages.${i}.content`,
      )
  })
  if (body.system !== undefined && !Array.isArray(body.system))
    throw invalid('system must be a list of blocks', 'system')
  return body as ConverseRequest
}

/** The model a Bedrock path names: a Bedrock model id or ARN goes to `bedrock/`, `provider/model` to that provider. */
export function modelFromPath(modelId: string): string {
  if (!modelId) throw invalid('modelId is required', 'modelId')
  if (modelId.startsWith('arn:') || !modelId.includes('/')) return `bedrock/${modelId}`
  return modelId
}

function dataUrl(format: string, bytes: string): string {
  return `data:image/${format === 'jpg' ? 'jpeg' : format};base64,${bytes}`
}

/** A Converse cache point as Anthropic's cache_control, its lifetime kept. */
function cacheControlOf(point: { ttl?: string }): NonNullable<ContentPart['cache_control']> {
  return { type: 'ephemeral', ...(point.ttl && { ttl: point.ttl }) }
}

/** Marks the last part with cache_control: a Converse cachePoint closes the prefix before it. */
function markCache(parts: ContentPart[], point: { ttl?: string }): void {
  const last = parts[parts.length - 1]
  if (last) last.cache_control = cacheControlOf(point)
}

function userMessages(content: ConverseContentBlock[]): ChatMessage[] {
  const out: ChatMessage[] = []
  const parts: ContentPart[] = []
  for (const b of content) {
    if (b.text !== undefined) parts.push({ type: 'text', text: b.text })
    else if (b.image?.source?.bytes)
      parts.push({ type: 'image_url', image_url: { url: dataUrl(b.image.format, b.image.source.bytes) } })
    else if (b.cachePoint) markCache(parts, b.cachePoint)
    else if (b.toolResult) {
      const text = (b.toolResult.content ?? [])
        .map((c) => (c.text !== undefined ? c.text : c.json !== undefined ? JSON.stringify(c.json) : ''))
        .join('')
      out.push({ role: 'tool', tool_call_id: b.toolResult.toolUseId, content: text })
    }
  }
  if (parts.length) out.push({ role: 'user', content: parts })
  return out
}

function fromConverseAssistant(content: ConverseContentBlock[]): ChatMessage {
  let text = ''
  const answer: AnswerParts = { toolCalls: [], details: [] }
  for (const b of content) {
    if (b.text !== undefined) text += b.text
    else if (b.toolUse)
      answer.toolCalls.push({
        id: b.toolUse.toolUseId,
        type: 'function',
        function: { name: b.toolUse.name, arguments: JSON.stringify(b.toolUse.input ?? {}) },
      })
    else if (b.reasoningContent?.reasoningText) {
      const r = b.reasoningContent.reasoningText
      const signed = r.signature ? signatureFromRoute(r.signature, BEDROCK_REASONING_FORMAT) : undefined
      answer.details.push({
        type: 'reasoning.text',
        index: answer.details.length,
        text: r.text,
        ...(signed && { signature: signed.signature }),
        format: signed?.format ?? BEDROCK_REASONING_FORMAT,
      })
    } else if (b.reasoningContent?.redactedContent)
      answer.details.push({
        type: 'reasoning.encrypted',
        index: answer.details.length,
        data: b.reasoningContent.redactedContent,
        format: BEDROCK_REASONING_FORMAT,
      })
  }
  return assistantMessage(text || null, answer)
}

/**
 * A Converse request as the unified chat request. Signed reasoning and cache points are kept, so a
 * Bedrock target gets them back; `additionalModelRequestFields` goes along for Bedrock targets.
 */
export function converseToChat(body: ConverseRequest, model: string): ChatRequest {
  const messages: ChatMessage[] = []
  const system: ContentPart[] = []
  for (const s of body.system ?? []) {
    if (s.text !== undefined) system.push({ type: 'text', text: s.text })
    else if (s.cachePoint) markCache(system, s.cachePoint)
  }
  if (system.length) messages.push({ role: 'system', content: system })
  for (const m of body.messages) {
    if (m.role === 'assistant') messages.push(fromConverseAssistant(m.content))
    else messages.push(...userMessages(m.content))
  }
  const req: ChatRequest = { model, messages }
  const inf = body.inferenceConfig
  if (inf?.maxTokens != null) req.max_tokens = inf.maxTokens
  if (inf?.temperature != null) req.temperature = inf.temperature
  if (inf?.topP != null) req.top_p = inf.topP
  if (inf?.stopSequences?.length) req.stop = inf.stopSequences
  const tools: Tool[] = []
  for (const t of body.toolConfig?.tools ?? []) {
    const previous = tools[tools.length - 1]
    if (t.cachePoint && previous)
      (previous as Record<string, unknown>).cache_control = cacheControlOf(t.cachePoint)
    if (!t.toolSpec) continue
    tools.push({
      type: 'function',
      function: {
        name: t.toolSpec.name,
        ...(t.toolSpec.description && { description: t.toolSpec.description }),
        parameters: (t.toolSpec.inputSchema?.json ?? { type: 'object', properties: {} }) as Record<
          string,
          unknown
        >,
      },
    })
  }
  if (tools.length) {
    req.tools = tools
    const choice = body.toolConfig?.toolChoice
    if (choice?.any) req.tool_choice = 'required'
    else if (choice?.tool) req.tool_choice = { type: 'function', function: { name: choice.tool.name } }
    else if (choice?.auto) req.tool_choice = 'auto'
  }
  const format = outputConfigToResponseFormat(body.outputConfig)
  if (format) req.response_format = format
  const extra = body.additionalModelRequestFields
  if (isObject(extra)) {
    ;(req as Record<string, unknown>).additionalModelRequestFields = extra
    const effort = reasoningEffortOf(extra)
    // Bedrock itself reads additionalModelRequestFields.
    if (effort && !model.startsWith('bedrock/')) req.reasoning_effort = effort
  }
  return req
}

/** Converse's structured output (`outputConfig.textFormat`, the schema a JSON string) as `response_format`. */
function outputConfigToResponseFormat(config: unknown): ChatRequest['response_format'] {
  if (!isObject(config) || config.textFormat == null) return undefined
  const f = config.textFormat as { type?: unknown; structure?: { jsonSchema?: Record<string, unknown> } }
  const spec = f.structure?.jsonSchema
  let schema: unknown
  try {
    schema = typeof spec?.schema === 'string' ? JSON.parse(spec.schema) : undefined
  } catch {
    schema = undefined
  }
  if (f.type !== 'json_schema' || !isObject(schema))
    throw invalid(
      'outputConfig.textFormat needs type json_schema and structure.jsonSchema.schema, a JSON Schema as a string',
      'outputConfig.textFormat',
    )
  const name = typeof spec?.name === 'string' && spec.name ? spec.name : 'response'
  const description = typeof spec?.description === 'string' ? { description: spec.description } : {}
  return { type: 'json_schema', json_schema: { name, schema, ...description } }
}

/** Claude's thinking budget, or the reasoningConfig of Nova and others, as OpenAI's reasoning effort. */
function reasoningEffortOf(extra: Record<string, unknown>): string | undefined {
  const budget = isObject(extra.thinking) ? Number(extra.thinking.budget_tokens) : NaN
  if (Number.isFinite(budget)) return budget <= 2048 ? 'low' : budget <= 8192 ? 'medium' : 'high'
  const config = isObject(extra.reasoningConfig) ? extra.reasoningConfig : undefined
  if (config?.type !== 'enabled') return undefined
  return typeof config.maxReasoningEffort === 'string' ? config.maxReasoningEffort : 'medium'
}
